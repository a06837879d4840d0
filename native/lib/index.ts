// libbpf-ts-bindings: typed wrapper over the system libbpf (see README.md).
import { addon } from "./native.ts";

export { BpfError, type BpfErrorInit } from "./errors.ts";
export { BpfObject, type OpenOptions } from "./object.ts";
export {
  BpfProgram,
  type AttachTcOptions,
  type AttachXdpOptions,
  type TestRunOptions,
  type TestRunResult,
} from "./program.ts";
export { BpfLink, type LinkKind, type XdpMode } from "./link.ts";
export { BpfMap, type UpdateFlag } from "./map.ts";
export { RingBuffer, type RingBufferOptions } from "./ringbuf.ts";
export {
  PACKET_RECEIVER_MAX_FRAME,
  PacketReceiver,
  type PacketReceiverOptions,
  type PacketReceiverStats,
} from "./packet-rx.ts";
export {
  closeFd,
  PacketSender,
  type Md5Key,
  savedSynTtl,
  setIpMinTtl,
  setIpTtl,
  setTcpMd5Key,
  socketFd,
  tcpListenerFd,
  tcpSocket,
  tcpSocketFd,
  type TcpListenerOptions,
  type TcpSecurityOptions,
} from "./socket.ts";

/** Number of possible CPUs (the per-CPU map value count). */
export function numPossibleCpus(): number {
  return addon.numPossibleCpus();
}

/** Whether path (default /sys/fs/bpf) is on a bpf filesystem. */
export function bpffsMounted(path?: string): boolean {
  return addon.bpffsMounted(path);
}

/** Version of the libbpf the addon is linked against, e.g. 'v1.1'. */
export function libbpfVersion(): string {
  return addon.libbpfVersion();
}

/** Symbolic name of an errno value ('EPERM', 'ENOTSUPP', ...). */
export function errnoName(errno: number): string {
  return addon.errnoName(errno);
}
