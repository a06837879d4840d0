// PacketReceiver: whole Ethernet frames received on one port (AF_PACKET,
// SOCK_RAW, ETH_P_ALL), read on Node's event loop. Made for the P4 switch's
// CPU port: bmv2 sends packet-in frames out of a veth, the control plane
// reads them from the veth's peer:
//
//   const rx = new PacketReceiver("cpu0", (frames) => { for (const f of frames) onPacketIn(f); });
//   ...
//   rx.stats();   // { packets, drops, delivered, truncated }
//   rx.close();
import { addon, type NativePacketReceiver } from "./native.ts";
import type { BpfError } from "./errors.ts";
import "./errors.ts"; // registers BpfError as the addon's error class

export interface PacketReceiverOptions {
  /**
   * Frames read per event-loop wake-up at most, 1..65536 (default 256). All
   * frames read in one wake-up go to onFrames in one call; what is left is
   * read on the next loop iteration, so a flood cannot starve timers or I/O.
   */
  maxPerWakeup?: number;
  /**
   * SO_RCVBUF in bytes (default 4 MiB): the kernel queue that absorbs bursts
   * while JS is busy. Set with SO_RCVBUFFORCE when the process may
   * (CAP_NET_ADMIN), otherwise capped by net.core.rmem_max. The kernel
   * doubles the value (bookkeeping); `rcvbuf` reads the result.
   */
  rcvbuf?: number;
  /**
   * Receive errors. fatal = false: the port went down (ENETDOWN); the
   * receiver stays open and frames flow again once the port is back up
   * (without onError this is ignored). fatal = true: the receiver is closed;
   * without onError the error is thrown asynchronously (uncaughtException).
   */
  onError?: (err: BpfError, fatal: boolean) => void;
}

export interface PacketReceiverStats {
  /** Frames that reached the socket since it was opened, dropped ones included (PACKET_STATISTICS tp_packets, like libpcap's ps_recv). */
  packets: number;
  /** Frames the kernel dropped because the receive buffer was full (PACKET_STATISTICS tp_drops). */
  drops: number;
  /** Frames handed to onFrames. */
  delivered: number;
  /** Frames longer than 64 KiB, read but not delivered. */
  truncated: number;
}

/** Longest frame delivered, in bytes (before a stripped VLAN tag is put back). */
export const PACKET_RECEIVER_MAX_FRAME = 65536;

/**
 * Receives the frames arriving on one port, bypassing the stack: an
 * AF_PACKET/SOCK_RAW/ETH_P_ALL socket bound to the port (an ifindex or name
 * of the network namespace this process runs in), non-blocking, watched by a
 * uv_poll on Node's loop (no thread, no busy polling).
 *
 * - Each wake-up reads up to `maxPerWakeup` frames (recvmmsg, 32 at a time)
 *   and calls onFrames ONCE with all of them, in arrival order, each a Buffer
 *   copy of the whole frame (up to 64 KiB; longer ones are counted in
 *   stats().truncated and skipped). An outer VLAN tag the kernel stripped is
 *   put back, so frames are byte-exact as they were on the wire.
 * - Only inbound frames: what this host sends out of the port (e.g. with a
 *   PacketSender) is not read back (PACKET_IGNORE_OUTGOING).
 * - While open it keeps the process alive unless unref()'d, and keeps
 *   delivering even when nothing references it; close() stops it.
 * - Exceptions thrown by onFrames are re-thrown asynchronously (like an
 *   EventEmitter listener's) and do not stop delivery.
 *
 * Construction errors (no such interface: ENODEV; no CAP_NET_RAW: EPERM) are
 * thrown as BpfError with errno/code; bad arguments as TypeError.
 */
export class PacketReceiver {
  readonly #h: NativePacketReceiver;
  readonly #onFrames: (frames: Buffer[]) => void;
  readonly #onError: ((err: BpfError, fatal: boolean) => void) | undefined;
  #closed = false;

  constructor(port: number | string, onFrames: (frames: Buffer[]) => void, opts: PacketReceiverOptions = {}) {
    if (typeof onFrames !== "function") throw new TypeError("PacketReceiver: onFrames must be a function");
    if (typeof port !== "number" && typeof port !== "string") throw new TypeError("PacketReceiver: port must be an ifindex or an interface name");
    this.#onFrames = onFrames;
    this.#onError = opts.onError;
    const native: { maxPerWakeup?: number; rcvbuf?: number } = {};
    if (opts.maxPerWakeup !== undefined) native.maxPerWakeup = opts.maxPerWakeup;
    if (opts.rcvbuf !== undefined) native.rcvbuf = opts.rcvbuf;
    this.#h = new addon.NativePacketReceiver(port, native, (frames, err, fatal) => this.#deliver(frames, err, fatal));
  }

  #deliver(frames: Buffer[], err: BpfError | undefined, fatal: boolean): void {
    if (frames.length > 0 && !this.#closed) {
      try {
        this.#onFrames(frames);
      } catch (e) {
        process.nextTick(() => {
          throw e;
        });
      }
    }
    if (err === undefined) return;
    if (fatal) this.#closed = true;
    if (this.#onError) this.#onError(err, fatal);
    else if (fatal)
      process.nextTick(() => {
        throw err;
      });
  }

  /** The port's ifindex (resolved from the name when one was given). */
  get ifindex(): number {
    return this.#h.ifindex;
  }
  /** The socket's fd (-1 once closed). */
  get fd(): number {
    return this.#h.fd;
  }
  /** The receive buffer the kernel granted (SO_RCVBUF as read back: twice what was set). */
  get rcvbuf(): number {
    return this.#h.rcvbuf;
  }
  get closed(): boolean {
    return this.#closed || this.#h.closed;
  }

  /** Counters since open (they stay readable after close()). */
  stats(): PacketReceiverStats {
    return this.#h.stats();
  }

  /** Keep the event loop alive while open (default). */
  ref(): this {
    this.#h.ref();
    return this;
  }

  /** Do not keep the process alive just for this receiver. */
  unref(): this {
    this.#h.unref();
    return this;
  }

  hasRef(): boolean {
    return this.#h.hasRef();
  }

  /**
   * Stops polling and closes the socket: no onFrames call happens afterwards
   * (also when called from inside onFrames). Idempotent. An environment
   * being torn down (process exit, worker termination) closes it too.
   */
  close(): void {
    this.#closed = true;
    this.#h.close();
  }
}
