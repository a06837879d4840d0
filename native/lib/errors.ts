import { addon } from "./native.ts";

export interface BpfErrorInit {
  errno: number;
  code: string;
  op: string;
  log?: string;
}

/**
 * Failure of a bpf(2)/libbpf/netlink operation.
 * - errno: positive errno value (libbpf's own codes are 4000+)
 * - code: symbolic name, e.g. 'EPERM', 'ENOTSUPP', 'LIBBPF_ERRNO__LOAD'
 * - op: what was being done, e.g. "load object 'xdp_fw'"
 * - log: everything libbpf printed during the operation; for a failed
 *   load() this contains the full verifier log.
 */
export class BpfError extends Error {
  errno: number;
  code: string;
  op: string;
  log?: string;

  constructor(message: string, init: BpfErrorInit) {
    super(message);
    this.name = "BpfError";
    this.errno = init.errno;
    this.code = init.code;
    this.op = init.op;
    if (init.log !== undefined) this.log = init.log;
  }

  /** @internal */
  static closed(what: string): BpfError {
    return new BpfError(`${what}: Bad file descriptor [EBADF]: object is closed`, {
      errno: 9,
      code: "EBADF",
      op: what,
    });
  }
}

addon.setErrorClass(BpfError);
