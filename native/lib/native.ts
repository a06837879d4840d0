// Loads the compiled addon (build/Release/bpf_ts.node) and describes its
// raw surface. Everything here is internal: use the classes from index.ts.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import type { BpfError } from "./errors.ts";

export interface NativeObject {
  readonly name: string;
  readonly loaded: boolean;
  readonly closed: boolean;
  reuseMap(mapName: string, pinnedPath: string): void;
  load(): void;
  programs(): NativeProgram[];
  maps(): NativeMap[];
  close(): void;
}

export interface NativeTestRunResult {
  retval: number;
  durationNs: number;
  data: Buffer;
}

export interface NativeProgram {
  readonly name: string;
  readonly fd: number;
  readonly type: string;
  readonly section: string;
  readonly id: number;
  readonly closed: boolean;
  pin(path: string): void;
  unpin(path: string): void;
  attachXdp(ifindex: number, mode: string): NativeLink;
  attachTc(ifindex: number, direction: string, priority: number | undefined, via: string): NativeLink;
  testRun(data: Uint8Array, repeat: number | undefined, ctxIn: Uint8Array | undefined, dataSizeOut: number | undefined): NativeTestRunResult;
  runContext(ctx: Uint8Array): number;
  close(): void;
}

export interface NativeMap {
  readonly name: string;
  readonly fd: number;
  readonly type: string;
  readonly typeId: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly perCpu: boolean;
  readonly closed: boolean;
  readonly id: number;
  lookup(key: Uint8Array): Buffer | null;
  lookupPerCpu(key: Uint8Array): Buffer[] | null;
  update(key: Uint8Array, value: Uint8Array, flags: number): void;
  delete(key: Uint8Array): boolean;
  nextKey(prev: Uint8Array | null): Buffer | null;
  lookupBatch(count: number | undefined): [Buffer, Buffer][];
  lookupBatchPacked(count: number | undefined): { count: number; keys: Buffer; values: Buffer };
  updateBatch(keys: Uint8Array[], values: Uint8Array[], flags: number): void;
  deleteBatch(keys: Uint8Array[]): number;
  updateBatchPacked(keys: Uint8Array, values: Uint8Array, count: number): { written: number; errno: number };
  deleteBatchIf(keys: Uint8Array, expect: Uint8Array, mask: Uint8Array, count: number): number;
  pin(path: string): void;
  unpin(path: string): void;
  close(): void;
}

export interface NativeLinkInfo {
  id: number;
  progId: number;
  ifindex: number;
}

export interface NativeLink {
  readonly kind: "xdp" | "tcx" | "tc-netlink";
  readonly mode: "native" | "generic" | undefined;
  readonly ifindex: number;
  readonly direction: "ingress" | "egress" | undefined;
  readonly fd: number;
  readonly pinPath: string | undefined;
  readonly closed: boolean;
  readonly tc: { handle: number; priority: number } | undefined;
  info(): NativeLinkInfo;
  pin(path: string): void;
  unpin(): void;
  detach(): void;
  update(programFd: number): void;
  close(): void;
}

export interface NativeRingBuffer {
  readonly epollFd: number;
  readonly closed: boolean;
  close(): void;
  ref(): void;
  unref(): void;
  hasRef(): boolean;
  consume(): number;
}

export interface NativePacketReceiverStats {
  packets: number;
  drops: number;
  delivered: number;
  truncated: number;
}

export interface NativePacketReceiver {
  readonly fd: number;
  readonly ifindex: number;
  readonly rcvbuf: number;
  readonly closed: boolean;
  stats(): NativePacketReceiverStats;
  ref(): void;
  unref(): void;
  hasRef(): boolean;
  close(): void;
}

export interface NativeAddon {
  numPossibleCpus(): number;
  bpffsMounted(path?: string): boolean;
  errnoName(errno: number): string;
  libbpfVersion(): string;
  setErrorClass(ctor: Function): void;
  openFile(path: string, pinRoot?: string): NativeObject;
  openBuffer(buf: Uint8Array, name?: string, pinRoot?: string): NativeObject;
  openPinnedProgram(path: string): NativeProgram;
  openPinnedMap(path: string): NativeMap;
  openPinnedLink(path: string): NativeLink;
  NativeRingBuffer: new (
    map: NativeMap,
    onBatch: (records: Buffer[], err: Error | undefined) => void,
  ) => NativeRingBuffer;
  // socket.cc (wrapped by socket.ts)
  tcpSocket(family: 4 | 6, opts: object): number;
  tcpListen(host: string, port: number, opts: object): number;
  tcpSetMd5(fd: number, address: string, key: Uint8Array | null): void;
  ipSetTtl(fd: number, ttl: number): void;
  ipSetMinTtl(fd: number, minTtl: number): void;
  tcpSavedSynTtl(fd: number): number;
  closeFd(fd: number): void;
  packetSocket(): number;
  packetSend(fd: number, ifindex: number, frame: Uint8Array): number;
  // packet_rx.cc (wrapped by packet-rx.ts)
  NativePacketReceiver: new (
    port: number | string,
    opts: { maxPerWakeup?: number; rcvbuf?: number },
    onBatch: (frames: Buffer[], err: BpfError | undefined, fatal: boolean) => void,
  ) => NativePacketReceiver;
}

function loadAddon(): NativeAddon {
  const require = createRequire(import.meta.url);
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const candidates = [
    process.env.LIBBPF_TS_ADDON,
    join(root, "build", "Release", "bpf_ts.node"),
    join(root, "build", "Debug", "bpf_ts.node"),
  ].filter((p): p is string => typeof p === "string" && p.length > 0);
  for (const p of candidates) {
    if (existsSync(p)) return require(p) as NativeAddon;
  }
  throw new Error(
    `libbpf-ts-bindings: native addon not built (looked for ${candidates.join(", ")}); ` +
      "run `npm run build --workspace libbpf-ts-bindings` (needs libbpf-dev, libelf-dev, zlib1g-dev, g++, make, python3)",
  );
}

export const addon: NativeAddon = loadAddon();
