import { addon, type NativeProgram } from "./native.ts";
import { checkInternal, HANDLE, INTERNAL } from "./internal.ts";
import { BpfLink } from "./link.ts";

export interface AttachXdpOptions {
  /** 'auto' (default) tries native (driver) mode, then generic (skb) mode. */
  mode?: "native" | "generic" | "auto";
}

export interface AttachTcOptions {
  /**
   * Netlink fallback only: cls_bpf filter priority (1..65535). When given,
   * the filter goes to handle 1 at that priority and replaces whatever is
   * there, so re-attaching after a restart is idempotent. tcx links have no
   * priority (they are appended) and ignore it.
   */
  priority?: number;
  /** 'auto' (default): tcx link, netlink clsact/cls_bpf if the kernel lacks tcx. */
  via?: "auto" | "tcx" | "netlink";
}

export interface TestRunOptions {
  data: Uint8Array;
  /** Runs of the program (kernel default 1). */
  repeat?: number;
  /** Context in (e.g. struct xdp_md / __sk_buff). */
  ctxIn?: Uint8Array;
  /** Capacity for the output packet (default data.length + 4096). */
  dataSizeOut?: number;
}

export interface TestRunResult {
  retval: number;
  /** Average duration of one run, in ns, as reported by the kernel. */
  durationNs: number;
  /** Packet after the (last) run. */
  data: Buffer;
}

export class BpfProgram {
  readonly #h: NativeProgram;
  readonly #name: string;
  readonly #section: string;
  readonly #type: string;

  /** @internal */
  constructor(token: typeof INTERNAL, h: NativeProgram) {
    checkInternal(token, "BpfProgram");
    this.#h = h;
    this.#name = h.name;
    this.#section = h.section;
    this.#type = h.type;
  }

  /** @internal */
  get [HANDLE](): NativeProgram {
    return this.#h;
  }

  get name(): string {
    return this.#name;
  }
  /** ELF section name ('' for programs opened from a pin). */
  get section(): string {
    return this.#section;
  }
  /** libbpf's name of the program type: 'xdp', 'sched_cls', ... */
  get type(): string {
    return this.#type;
  }
  /** Program fd; -1 before the object is loaded. Throws once closed. */
  get fd(): number {
    return this.#h.fd;
  }
  /** Kernel program id. */
  get id(): number {
    return this.#h.id;
  }
  get closed(): boolean {
    return this.#h.closed;
  }

  pin(path: string): void {
    this.#h.pin(path);
  }

  unpin(path: string): void {
    this.#h.unpin(path);
  }

  attachXdp(ifindex: number, opts: AttachXdpOptions = {}): BpfLink {
    return new BpfLink(INTERNAL, this.#h.attachXdp(ifindex, opts.mode ?? "auto"));
  }

  attachTc(ifindex: number, direction: "ingress" | "egress", opts: AttachTcOptions = {}): BpfLink {
    return new BpfLink(INTERNAL, this.#h.attachTc(ifindex, direction, opts.priority, opts.via ?? "auto"));
  }

  /** BPF_PROG_TEST_RUN. */
  testRun(opts: TestRunOptions): TestRunResult {
    if (opts === null || typeof opts !== "object") throw new TypeError("testRun: options object required");
    return this.#h.testRun(opts.data, opts.repeat, opts.ctxIn, opts.dataSizeOut);
  }

  /**
   * Runs a program that takes only a context (a syscall program) once, with
   * BPF_PROG_RUN: `ctx` goes in, and the context as the program left it is
   * written back into `ctx`. Returns the program's return value.
   */
  runContext(ctx: Uint8Array): number {
    return this.#h.runContext(ctx);
  }

  /**
   * Programs from openPinned(): closes the fd. Programs of a BpfObject are
   * owned by it; close() only retires this handle.
   */
  close(): void {
    this.#h.close();
  }

  /** bpf_obj_get; name (kernel-truncated to 15 chars) and type from the kernel. */
  static openPinned(path: string): BpfProgram {
    return new BpfProgram(INTERNAL, addon.openPinnedProgram(path));
  }
}
