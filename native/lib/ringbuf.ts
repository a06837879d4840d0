import { addon, type NativeRingBuffer } from "./native.ts";
import { HANDLE } from "./internal.ts";
import type { BpfMap } from "./map.ts";

export interface RingBufferOptions {
  /**
   * Called if polling or consuming fails (the ring buffer is closed
   * afterwards). Without it the error is thrown asynchronously
   * (uncaughtException).
   */
  onError?: (err: Error) => void;
}

/**
 * Consumer of a BPF_MAP_TYPE_RINGBUF map, driven by Node's event loop
 * (uv_poll on ring_buffer__epoll_fd): no thread, no busy polling. Each
 * record is handed to onRecord as its own Buffer copy, asynchronously.
 * While open it keeps the process alive unless unref()'d; close() stops it.
 * Exceptions thrown by onRecord are re-thrown asynchronously (like an
 * EventEmitter listener's) and do not stop delivery.
 */
export class RingBuffer {
  readonly #h: NativeRingBuffer;
  readonly #map: BpfMap;
  readonly #onRecord: (data: Buffer) => void;
  readonly #onError: ((err: Error) => void) | undefined;
  #closed = false;

  constructor(map: BpfMap, onRecord: (data: Buffer) => void, opts: RingBufferOptions = {}) {
    if (typeof onRecord !== "function") throw new TypeError("RingBuffer: onRecord must be a function");
    if (map === null || typeof map !== "object" || !(HANDLE in map)) throw new TypeError("RingBuffer: map must be a BpfMap");
    this.#map = map;
    this.#onRecord = onRecord;
    this.#onError = opts.onError;
    this.#h = new addon.NativeRingBuffer(map[HANDLE], (records, err) => this.#deliver(records, err));
  }

  #deliver(records: Buffer[], err: Error | undefined): void {
    for (const r of records) {
      if (this.#closed) return;
      try {
        this.#onRecord(r);
      } catch (e) {
        process.nextTick(() => {
          throw e;
        });
      }
    }
    if (err !== undefined) {
      this.#closed = true;
      if (this.#onError) this.#onError(err);
      else
        process.nextTick(() => {
          throw err;
        });
    }
  }

  get map(): BpfMap {
    return this.#map;
  }
  get closed(): boolean {
    return this.#closed;
  }
  /** The epoll fd libbpf multiplexes the ring on (-1 once closed). */
  get epollFd(): number {
    return this.#h.epollFd;
  }

  /** Delivers whatever is pending right now, synchronously; returns the number of records. */
  consume(): number {
    return this.#h.consume();
  }

  /** Keep the event loop alive while open (default). */
  ref(): this {
    this.#h.ref();
    return this;
  }

  /** Do not keep the process alive just for this ring buffer. */
  unref(): this {
    this.#h.unref();
    return this;
  }

  hasRef(): boolean {
    return this.#h.hasRef();
  }

  /** Stops polling and frees the consumer; no callback runs afterwards. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#h.close();
  }
}
