// A pipelining Thrift client for bmv2's runtime server (one TCP connection,
// TMultiplexedProtocol names, strict binary protocol, unframed).
//
// Calls do not wait for each other: every call made in one tick is encoded
// into one buffer and sent with one socket write, and replies are matched to
// calls by seqid. bmv2 serves a connection on one thread, in order, so a
// batch of N calls costs one round trip plus the server's work rather than N
// round trips. A broken stream (closed, reset, malformed or stalled) rejects
// every pending call; an error reply only rejects its own call.
import { Socket, connect as netConnect } from "node:net";
import {
  ApplicationExceptionType,
  type Codec,
  DEFAULT_MAX_MESSAGE_BYTES,
  type Fields,
  MessageFramer,
  MessageType,
  Reader,
  type StructWrite,
  ThriftProtocolError,
  Writer,
  applicationException,
  field,
  i32,
  multiplexedName,
  optional,
  readMessageBegin,
  struct,
  writeMessage,
} from "./protocol.ts";

// ---------------------------------------------------------------------------
// Errors

/** An exception declared in the IDL (`throws (1:InvalidTableOperation ouch)`). */
export class Bmv2Error extends Error {
  override readonly name = "Bmv2Error";
  constructor(
    /** the IDL exception, e.g. "InvalidTableOperation" */
    readonly exception: string,
    readonly code: number,
    /** the code's name in the IDL enum, e.g. "DUPLICATE_ENTRY" ("UNKNOWN" if not in it) */
    readonly codeName: string,
    /** "service:method" */
    readonly call: string,
  ) {
    super(`${exception}: ${codeName} (code ${code}) from ${call}`);
  }
}

/** The server's Thrift library answered with a TApplicationException (unknown method, internal error, ...). */
export class ThriftApplicationError extends Error {
  override readonly name = "ThriftApplicationError";
  constructor(
    readonly type: number,
    readonly typeName: string,
    readonly serverMessage: string,
    readonly call: string,
  ) {
    super(`${call}: ${typeName}${serverMessage ? `: ${serverMessage}` : ""}`);
  }
}

/** The connection failed, closed or stalled; every call pending on it gets one. */
export class ThriftTransportError extends Error {
  override readonly name = "ThriftTransportError";
}

// ---------------------------------------------------------------------------
// Methods

export interface ExceptionSpec {
  /** field id of the exception in the method's result struct */
  readonly id: number;
  /** IDL exception name */
  readonly name: string;
  /** the IDL enum of its `code` field */
  readonly codes: Readonly<Record<string, number>>;
}

interface ResultDecoder<R> {
  read(r: Reader, call: string): R;
}

export interface Method<A, R> {
  readonly service: string;
  readonly name: string;
  /** "service:method", what goes on the wire */
  readonly wireName: string;
  readonly args: Codec<unknown, A>;
  readonly result: ResultDecoder<R>;
}

type AnyCodec = Codec<any, any>;

/**
 * Declares one IDL method. `args` are the argument fields with their IDL ids;
 * `returns` is the return type's codec, or null for void.
 */
export function defineMethod<F extends Fields>(
  service: string,
  name: string,
  args: F,
  returns: null,
  exceptions?: readonly ExceptionSpec[],
): Method<StructWrite<F>, void>;
export function defineMethod<F extends Fields, R>(
  service: string,
  name: string,
  args: F,
  returns: Codec<R, never>,
  exceptions?: readonly ExceptionSpec[],
): Method<StructWrite<F>, R>;
export function defineMethod<F extends Fields, R>(
  service: string,
  name: string,
  args: F,
  returns: Codec<R, never> | null,
  exceptions: readonly ExceptionSpec[] = [],
): Method<StructWrite<F>, R> {
  const fields: Fields = {};
  if (returns) fields.success = optional(0, returns as AnyCodec);
  const codeNames = new Map<number, Map<number, string>>();
  for (const ex of exceptions) {
    fields[`ex${ex.id}`] = optional(ex.id, struct(ex.name, { code: field(1, i32) }));
    const names = new Map<number, string>();
    for (const [k, v] of Object.entries(ex.codes)) if (!names.has(v)) names.set(v, k);
    codeNames.set(ex.id, names);
  }
  const resultStruct = struct(`${name}_result`, fields);
  const result: ResultDecoder<R> = {
    read(r, call) {
      const res = resultStruct.read(r) as Record<string, unknown>;
      for (const ex of exceptions) {
        const e = res[`ex${ex.id}`] as { code: number } | undefined;
        if (e !== undefined) {
          throw new Bmv2Error(ex.name, e.code, codeNames.get(ex.id)!.get(e.code) ?? "UNKNOWN", call);
        }
      }
      if (!returns) return undefined as R;
      if (res.success === undefined) {
        throw new ThriftApplicationError(5, "MISSING_RESULT", "reply carries neither a result nor a declared exception", call);
      }
      return res.success as R;
    },
  };
  return {
    service,
    name,
    wireName: multiplexedName(service, name),
    args: struct(`${name}_args`, args) as unknown as Codec<unknown, StructWrite<F>>,
    result,
  };
}

// ---------------------------------------------------------------------------
// Client

export interface ClientOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** default 9090 (bmv2's default --thrift-port) */
  port?: number;
  /** how long connecting may take, retries included (default 5000 ms) */
  connectTimeoutMs?: number;
  /** retry refused connections until connectTimeoutMs: the switch may still be starting */
  waitForServer?: boolean;
  /** with calls pending, how long the server may send nothing before the
   *  connection is declared dead (default 30000 ms; 0 = wait forever) */
  replyTimeoutMs?: number;
  /** largest reply accepted (default 512 MiB) */
  maxMessageBytes?: number;
}

interface Pending {
  method: Method<never, unknown>;
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** Encoded calls beyond this are sent at once instead of waiting for the end of the tick. */
const EARLY_FLUSH_BYTES = 4 * 1024 * 1024;

export interface ClientStats {
  /** socket.write calls (each carries every call made since the previous one) */
  socketWrites: number;
  callsSent: number;
  bytesSent: number;
  repliesReceived: number;
}

export class ThriftClient {
  readonly stats: ClientStats = { socketWrites: 0, callsSent: 0, bytesSent: 0, repliesReceived: 0 };
  private readonly out = new Writer(64 * 1024);
  private readonly pending = new Map<number, Pending>();
  private readonly framer: MessageFramer;
  private readonly replyTimeoutMs: number;
  private nextSeqid = 1;
  private flushScheduled = false;
  private watchdog: NodeJS.Timeout | undefined;
  private dead: Error | undefined;
  private closing: Promise<void> | undefined;
  private onDrained: (() => void) | undefined;

  /** Opens a connection (see ClientOptions). */
  static async connect(opts: ClientOptions = {}): Promise<ThriftClient> {
    const host = opts.host ?? "127.0.0.1";
    const port = opts.port ?? 9090;
    const timeoutMs = opts.connectTimeoutMs ?? 5000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await openSocket(host, port, Math.max(1, deadline - Date.now()));
        return new ThriftClient(socket, `${host}:${port}`, opts);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (opts.waitForServer && err.code === "ECONNREFUSED" && Date.now() + 50 < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        throw new ThriftTransportError(`cannot connect to bmv2 Thrift server at ${host}:${port}: ${err.message}`, { cause: e });
      }
    }
  }

  private constructor(
    private readonly socket: Socket,
    /** host:port, for messages */
    readonly address: string,
    opts: ClientOptions,
  ) {
    this.framer = new MessageFramer(opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
    this.replyTimeoutMs = opts.replyTimeoutMs ?? 30_000;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (e) => this.fail(new ThriftTransportError(`bmv2 Thrift ${this.address}: ${e.message}`, { cause: e })));
    socket.on("close", () => {
      const partial = this.framer.buffered;
      const detail = partial > 0 ? ` (${partial} bytes of an incomplete reply)` : "";
      this.fail(new ThriftTransportError(`bmv2 Thrift ${this.address}: connection closed with ${this.pending.size} calls pending${detail}`));
    });
  }

  /** Calls waiting for a reply. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Set once the connection is unusable (closed or failed). */
  get closedReason(): Error | undefined {
    return this.dead;
  }

  /** Sends one call (batched with the others of this tick) and resolves with its result. */
  call<A, R>(method: Method<A, R>, args: A): Promise<R> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closing) return Promise.reject(new ThriftTransportError(`bmv2 Thrift ${this.address}: client is closing`));
    const seqid = this.nextSeqid;
    this.nextSeqid = this.nextSeqid >= 0x7fffffff ? 1 : this.nextSeqid + 1;
    try {
      writeMessage(this.out, method.wireName, MessageType.CALL, seqid, method.args, args);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    this.stats.callsSent++;
    return new Promise<R>((resolve, reject) => {
      this.pending.set(seqid, { method: method as unknown as Method<never, unknown>, resolve: resolve as (v: unknown) => void, reject });
      if (this.pending.size === 1) this.armWatchdog(true);
      if (this.out.length >= EARLY_FLUSH_BYTES) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        process.nextTick(() => this.flush());
      }
    });
  }

  /** Lets pending calls finish, then closes the connection. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const finish = (): void => {
        this.onDrained = undefined;
        if (this.socket.destroyed) return resolve();
        this.socket.once("close", () => resolve());
        this.socket.end();
        // bmv2 closes its end on our FIN; do not depend on it.
        setTimeout(() => this.socket.destroy(), 1000).unref();
      };
      this.flush();
      if (this.pending.size === 0 || this.dead) finish();
      else this.onDrained = finish;
    });
    return this.closing;
  }

  /** Drops the connection now; pending calls reject with `reason`. */
  destroy(reason = new ThriftTransportError(`bmv2 Thrift ${this.address}: client destroyed`)): void {
    this.fail(reason);
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.dead || this.out.length === 0) return;
    const bytes = this.out.take();
    this.stats.socketWrites++;
    this.stats.bytesSent += bytes.length;
    this.socket.write(bytes);
  }

  private onData(chunk: Buffer): void {
    if (this.dead) return;
    if (this.pending.size > 0) this.armWatchdog(false);
    let messages: Buffer[];
    try {
      messages = this.framer.push(chunk);
    } catch (e) {
      this.fail(new ThriftTransportError(`bmv2 Thrift ${this.address}: malformed reply: ${(e as Error).message}`, { cause: e }));
      return;
    }
    for (const m of messages) {
      try {
        this.dispatch(m);
      } catch (e) {
        // Nothing thrown here may escape into the socket's event handler.
        this.fail(new ThriftTransportError(`bmv2 Thrift ${this.address}: bad reply: ${(e as Error).message}`, { cause: e }));
      }
      if (this.dead) return;
    }
  }

  private dispatch(message: Buffer): void {
    this.stats.repliesReceived++;
    const r = new Reader(message);
    const header = readMessageBegin(r); // the framer already checked it
    const p = this.pending.get(header.seqid);
    if (p === undefined) {
      this.fail(new ThriftTransportError(`bmv2 Thrift ${this.address}: reply "${header.name}" with seqid ${header.seqid} matches no pending call`));
      return;
    }
    this.pending.delete(header.seqid);
    const call = p.method.wireName;
    try {
      // bmv2's multiplexed processor answers with the bare method name.
      if (header.name !== p.method.name && header.name !== call) {
        throw new ThriftApplicationError(3, "WRONG_METHOD_NAME", `reply is for "${header.name}"`, call);
      }
      if (header.type === MessageType.EXCEPTION) {
        const x = applicationException.read(r);
        const type = x.type ?? 0;
        throw new ThriftApplicationError(type, ApplicationExceptionType[type] ?? "UNKNOWN", x.message ?? "", call);
      }
      if (header.type !== MessageType.REPLY) {
        throw new ThriftApplicationError(2, "INVALID_MESSAGE_TYPE", `message type ${header.type} in a reply`, call);
      }
      p.resolve(p.method.result.read(r, call));
    } catch (e) {
      p.reject(e instanceof Error ? e : new ThriftProtocolError(String(e)));
    }
    if (this.pending.size === 0) this.drained();
  }

  private drained(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
    this.onDrained?.();
  }

  private armWatchdog(fresh: boolean): void {
    if (this.replyTimeoutMs <= 0) return;
    if (this.watchdog && !fresh) {
      this.watchdog.refresh();
      return;
    }
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.fail(
        new ThriftTransportError(
          `bmv2 Thrift ${this.address}: no reply for ${this.replyTimeoutMs} ms with ${this.pending.size} calls pending`,
        ),
      );
    }, this.replyTimeoutMs);
  }

  private fail(err: Error): void {
    if (this.dead) return;
    this.dead = err;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
    this.out.take();
    this.socket.destroy();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(err);
    this.onDrained?.();
  }
}

function openSocket(host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`timed out after ${timeoutMs} ms`), { code: "ETIMEDOUT" }));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      // Until the client attaches its own handler: a late error still ends in 'close'.
      socket.on("error", () => {});
      resolve(socket);
    });
    socket.once("error", (e) => {
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    });
  });
}
