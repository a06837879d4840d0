// Thrift binary protocol, strict form, as bmv2's runtime server speaks it
// (TBinaryProtocol over TBufferedTransport behind a TMultiplexedProcessor).
//
// The transport is unframed: nothing on the wire says how long a reply is, so
// MessageFramer walks each message's structure as bytes arrive to find where
// it ends. Decoding is schema-driven: a Codec describes one Thrift type and
// both writes it and reads it back. Every malformed or truncated input ends in
// a ThriftProtocolError; container sizes are checked against the bytes that
// could possibly hold them before anything is allocated.

/** Wire type ids (TType). */
export const TType = {
  STOP: 0,
  VOID: 1,
  BOOL: 2,
  I8: 3,
  DOUBLE: 4,
  I16: 6,
  I32: 8,
  I64: 10,
  STRING: 11,
  STRUCT: 12,
  MAP: 13,
  SET: 14,
  LIST: 15,
  UUID: 16,
} as const;

/** Message types in the header word. */
export const MessageType = { CALL: 1, REPLY: 2, EXCEPTION: 3, ONEWAY: 4 } as const;

const VERSION_1 = 0x80010000 | 0;
const VERSION_MASK = 0xffff0000 | 0;

/** Deepest struct/container nesting accepted (bmv2 replies nest 4 deep). */
export const DEFAULT_MAX_DEPTH = 64;
/** Largest message accepted (a 100k-entry table dump is ~10 MiB). */
export const DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024 * 1024;

export class ThriftProtocolError extends Error {
  override readonly name = "ThriftProtocolError";
}

/** Fixed encoded size of a type, or undefined for variable-size ones. */
function fixedSize(t: number): number | undefined {
  switch (t) {
    case TType.BOOL:
    case TType.I8:
      return 1;
    case TType.I16:
      return 2;
    case TType.I32:
      return 4;
    case TType.DOUBLE:
    case TType.I64:
      return 8;
    case TType.UUID:
      return 16;
    default:
      return undefined;
  }
}

/** Smallest encoding of a value of type t; 0 for a type that cannot be a value. */
function minSize(t: number): number {
  const f = fixedSize(t);
  if (f !== undefined) return f;
  switch (t) {
    case TType.STRING:
      return 4;
    case TType.STRUCT:
      return 1;
    case TType.MAP:
      return 6;
    case TType.SET:
    case TType.LIST:
      return 5;
    default:
      return 0;
  }
}

function checkValueType(t: number, where: string): void {
  if (minSize(t) === 0) throw new ThriftProtocolError(`${where}: invalid type id ${t}`);
}

function checkInt(v: unknown, min: number, max: number, what: string): asserts v is number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`${what}: ${String(v)} is not an integer in [${min}, ${max}]`);
  }
}

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

// ---------------------------------------------------------------------------
// Writing

/** A growable output buffer; encodes Thrift primitives big-endian. */
export class Writer {
  private buf: Buffer;
  private len = 0;

  constructor(private readonly initialCapacity = 4096) {
    this.buf = Buffer.allocUnsafe(initialCapacity);
  }

  get length(): number {
    return this.len;
  }

  /** Drops everything written after `length` (undoes a half-written message). */
  truncate(length: number): void {
    if (length < this.len) this.len = length;
  }

  /** Hands over the bytes written so far and starts an empty buffer. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.len);
    this.buf = Buffer.allocUnsafe(Math.max(this.initialCapacity, Math.min(this.len, 1 << 20)));
    this.len = 0;
    return out;
  }

  private reserve(n: number): number {
    const at = this.len;
    const need = at + n;
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, at);
      this.buf = bigger;
    }
    this.len = need;
    return at;
  }

  byte(v: number): void {
    const at = this.reserve(1); // before this.buf: reserve may replace it
    this.buf[at] = v & 0xff;
  }
  bool(v: boolean): void {
    if (typeof v !== "boolean") throw new TypeError(`bool: ${String(v)} is not a boolean`);
    this.byte(v ? 1 : 0);
  }
  i8(v: number): void {
    checkInt(v, -0x80, 0x7f, "i8");
    const at = this.reserve(1);
    this.buf.writeInt8(v, at);
  }
  i16(v: number): void {
    checkInt(v, -0x8000, 0x7fff, "i16");
    const at = this.reserve(2);
    this.buf.writeInt16BE(v, at);
  }
  i32(v: number): void {
    checkInt(v, -0x80000000, 0x7fffffff, "i32");
    const at = this.reserve(4);
    this.buf.writeInt32BE(v, at);
  }
  i64(v: bigint | number): void {
    let b: bigint;
    if (typeof v === "bigint") b = v;
    else if (Number.isSafeInteger(v)) b = BigInt(v);
    else throw new RangeError(`i64: ${String(v)} is not a safe integer (pass a bigint)`);
    if (b < I64_MIN || b > I64_MAX) throw new RangeError(`i64: ${b} is out of range`);
    const at = this.reserve(8);
    this.buf.writeBigInt64BE(b, at);
  }
  double(v: number): void {
    if (typeof v !== "number") throw new TypeError(`double: ${String(v)} is not a number`);
    const at = this.reserve(8);
    this.buf.writeDoubleBE(v, at);
  }
  binary(v: Uint8Array): void {
    if (!(v instanceof Uint8Array)) throw new TypeError("binary: value is not a Buffer/Uint8Array");
    this.i32(v.length);
    const at = this.reserve(v.length);
    this.buf.set(v, at);
  }
  string(v: string): void {
    if (typeof v !== "string") throw new TypeError(`string: ${String(v)} is not a string`);
    const n = Buffer.byteLength(v, "utf8");
    this.i32(n);
    const at = this.reserve(n);
    this.buf.write(v, at, n, "utf8");
  }
  fieldBegin(type: number, id: number): void {
    this.byte(type);
    this.i16(id);
  }
  fieldStop(): void {
    this.byte(TType.STOP);
  }
  listBegin(elemType: number, size: number): void {
    this.byte(elemType);
    this.i32(size);
  }
  mapBegin(keyType: number, valueType: number, size: number): void {
    this.byte(keyType);
    this.byte(valueType);
    this.i32(size);
  }
}

// ---------------------------------------------------------------------------
// Reading

/** Bounds-checked reads over one complete message. */
export class Reader {
  pos = 0;
  private depth = 0;

  constructor(
    readonly buf: Buffer,
    private readonly maxDepth = DEFAULT_MAX_DEPTH,
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): number {
    const at = this.pos;
    if (n > this.buf.length - at) {
      throw new ThriftProtocolError(`truncated: need ${n} bytes at offset ${at}, have ${this.buf.length - at}`);
    }
    this.pos = at + n;
    return at;
  }

  /** Enter a nested struct/container; guards the recursion depth. */
  enter(): void {
    if (++this.depth > this.maxDepth) throw new ThriftProtocolError(`nesting deeper than ${this.maxDepth}`);
  }
  leave(): void {
    this.depth--;
  }

  byte(): number {
    return this.buf[this.need(1)]!;
  }
  bool(): boolean {
    return this.byte() !== 0;
  }
  i8(): number {
    return this.buf.readInt8(this.need(1));
  }
  i16(): number {
    return this.buf.readInt16BE(this.need(2));
  }
  i32(): number {
    return this.buf.readInt32BE(this.need(4));
  }
  i64(): bigint {
    return this.buf.readBigInt64BE(this.need(8));
  }
  double(): number {
    return this.buf.readDoubleBE(this.need(8));
  }
  private length(): number {
    const n = this.i32();
    if (n < 0) throw new ThriftProtocolError(`negative length ${n} at offset ${this.pos - 4}`);
    return n;
  }
  /** A copy: the message buffer is not kept alive by what is decoded from it. */
  binary(): Buffer {
    const n = this.length();
    const at = this.need(n);
    const out = Buffer.allocUnsafe(n);
    this.buf.copy(out, 0, at, at + n);
    return out;
  }
  string(): string {
    const n = this.length();
    const at = this.need(n);
    return this.buf.toString("utf8", at, at + n);
  }
  /** Element type and count; the count must fit in the bytes left. */
  listBegin(): { elemType: number; size: number } {
    const elemType = this.byte();
    const size = this.i32();
    this.checkCount(size, minSize(elemType), elemType, "list");
    return { elemType, size };
  }
  mapBegin(): { keyType: number; valueType: number; size: number } {
    const keyType = this.byte();
    const valueType = this.byte();
    const size = this.i32();
    this.checkCount(size, minSize(keyType) + minSize(valueType), keyType, "map");
    if (size > 0) checkValueType(valueType, "map value");
    return { keyType, valueType, size };
  }
  private checkCount(size: number, each: number, type: number, what: string): void {
    if (size < 0) throw new ThriftProtocolError(`${what}: negative size ${size}`);
    if (size === 0) return;
    checkValueType(type, what);
    if (size * each > this.remaining) {
      throw new ThriftProtocolError(`${what}: ${size} elements cannot fit in the ${this.remaining} bytes left`);
    }
  }

  /** Reads past one value of type t (unknown fields, unexpected types). */
  skip(t: number): void {
    const fixed = fixedSize(t);
    if (fixed !== undefined) {
      this.need(fixed);
      return;
    }
    switch (t) {
      case TType.STRING:
        this.need(this.length());
        return;
      case TType.STRUCT:
        this.enter();
        for (;;) {
          const ft = this.byte();
          if (ft === TType.STOP) break;
          this.i16();
          this.skip(ft);
        }
        this.leave();
        return;
      case TType.LIST:
      case TType.SET: {
        const { elemType, size } = this.listBegin();
        this.enter();
        for (let i = 0; i < size; i++) this.skip(elemType);
        this.leave();
        return;
      }
      case TType.MAP: {
        const { keyType, valueType, size } = this.mapBegin();
        this.enter();
        for (let i = 0; i < size; i++) {
          this.skip(keyType);
          this.skip(valueType);
        }
        this.leave();
        return;
      }
      default:
        throw new ThriftProtocolError(`cannot skip a value of type id ${t}`);
    }
  }
}

// ---------------------------------------------------------------------------
// Codecs: one per Thrift type; R is what reading yields, W what writing takes.

export interface Codec<R, W = R> {
  readonly ttype: number;
  readonly name: string;
  write(w: Writer, v: W): void;
  read(r: Reader): R;
}

type AnyCodec = Codec<any, any>;
export type ReadOf<C> = C extends Codec<infer R, infer _W> ? R : never;
export type WriteOf<C> = C extends Codec<infer _R, infer W> ? W : never;

export const bool: Codec<boolean> = { ttype: TType.BOOL, name: "bool", write: (w, v) => w.bool(v), read: (r) => r.bool() };
export const i8: Codec<number> = { ttype: TType.I8, name: "i8", write: (w, v) => w.i8(v), read: (r) => r.i8() };
export const i16: Codec<number> = { ttype: TType.I16, name: "i16", write: (w, v) => w.i16(v), read: (r) => r.i16() };
export const i32: Codec<number> = { ttype: TType.I32, name: "i32", write: (w, v) => w.i32(v), read: (r) => r.i32() };
/** Reads a bigint; writes a bigint or a safe-integer number. */
export const i64: Codec<bigint, bigint | number> = { ttype: TType.I64, name: "i64", write: (w, v) => w.i64(v), read: (r) => r.i64() };
export const double: Codec<number> = { ttype: TType.DOUBLE, name: "double", write: (w, v) => w.double(v), read: (r) => r.double() };
/** UTF-8 text. */
export const string: Codec<string> = { ttype: TType.STRING, name: "string", write: (w, v) => w.string(v), read: (r) => r.string() };
/** Raw bytes (same wire type as string). */
export const binary: Codec<Buffer, Uint8Array> = { ttype: TType.STRING, name: "binary", write: (w, v) => w.binary(v), read: (r) => r.binary() };

function listLike<R, W>(ttype: number, kind: string, elem: Codec<R, W>): Codec<R[], readonly W[]> {
  const name = `${kind}<${elem.name}>`;
  return {
    ttype,
    name,
    write(w, v) {
      if (!Array.isArray(v)) throw new TypeError(`${name}: value is not an array`);
      w.listBegin(elem.ttype, v.length);
      for (const e of v) elem.write(w, e);
    },
    read(r) {
      const { elemType, size } = r.listBegin();
      if (size > 0 && elemType !== elem.ttype) {
        throw new ThriftProtocolError(`${name}: elements have type id ${elemType}, expected ${elem.ttype}`);
      }
      r.enter();
      const out = new Array<R>(size);
      for (let i = 0; i < size; i++) out[i] = elem.read(r);
      r.leave();
      return out;
    },
  };
}

export function list<R, W>(elem: Codec<R, W>): Codec<R[], readonly W[]> {
  return listLike(TType.LIST, "list", elem);
}

/** A set reads as an array (Thrift sets of binary have no useful JS Set form). */
export function set<R, W>(elem: Codec<R, W>): Codec<R[], readonly W[]> {
  return listLike(TType.SET, "set", elem);
}

export function map<KR, KW, VR, VW>(key: Codec<KR, KW>, value: Codec<VR, VW>): Codec<Map<KR, VR>, ReadonlyMap<KW, VW>> {
  const name = `map<${key.name},${value.name}>`;
  return {
    ttype: TType.MAP,
    name,
    write(w, v) {
      if (!(v instanceof Map)) throw new TypeError(`${name}: value is not a Map`);
      w.mapBegin(key.ttype, value.ttype, v.size);
      for (const [k, x] of v) {
        key.write(w, k);
        value.write(w, x);
      }
    },
    read(r) {
      const { keyType, valueType, size } = r.mapBegin();
      if (size > 0 && (keyType !== key.ttype || valueType !== value.ttype)) {
        throw new ThriftProtocolError(`${name}: entries have types ${keyType}/${valueType}, expected ${key.ttype}/${value.ttype}`);
      }
      r.enter();
      const out = new Map<KR, VR>();
      for (let i = 0; i < size; i++) {
        const k = key.read(r);
        out.set(k, value.read(r));
      }
      r.leave();
      return out;
    },
  };
}

// Structs ---------------------------------------------------------------------

export interface FieldSpec<C extends AnyCodec = AnyCodec, O extends boolean = boolean> {
  readonly id: number;
  readonly codec: C;
  /** optional fields may be absent on the wire; the others must be there */
  readonly optional: O;
}

/** A field that is always written (Thrift "default" or "required" requiredness). */
export function field<C extends AnyCodec>(id: number, codec: C): FieldSpec<C, false> {
  return { id, codec, optional: false };
}

/** An `optional` field: written only when set. */
export function optional<C extends AnyCodec>(id: number, codec: C): FieldSpec<C, true> {
  return { id, codec, optional: true };
}

export type Fields = Record<string, FieldSpec>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type RequiredKeys<F extends Fields> = { [K in keyof F]: F[K]["optional"] extends true ? never : K }[keyof F];
type OptionalKeys<F extends Fields> = Exclude<keyof F, RequiredKeys<F>>;

export type StructRead<F extends Fields> = Simplify<
  { [K in RequiredKeys<F>]: ReadOf<F[K]["codec"]> } & { [K in OptionalKeys<F>]?: ReadOf<F[K]["codec"]> }
>;
export type StructWrite<F extends Fields> = Simplify<
  { [K in RequiredKeys<F>]: WriteOf<F[K]["codec"]> } & { [K in OptionalKeys<F>]?: WriteOf<F[K]["codec"]> }
>;

export interface StructCodec<F extends Fields> extends Codec<StructRead<F>, StructWrite<F>> {
  readonly fields: F;
}

export function struct<F extends Fields>(name: string, fields: F): StructCodec<F> {
  const entries = Object.entries(fields).sort((a, b) => a[1].id - b[1].id);
  const byId = new Map<number, [string, FieldSpec]>();
  for (const [key, spec] of entries) {
    if (byId.has(spec.id)) throw new Error(`struct ${name}: field id ${spec.id} used twice`);
    byId.set(spec.id, [key, spec]);
  }
  const required = entries.filter(([, s]) => !s.optional);
  return {
    ttype: TType.STRUCT,
    name,
    fields,
    write(w, v) {
      if (typeof v !== "object" || v === null) throw new TypeError(`${name}: value is not an object`);
      const obj = v as Record<string, unknown>;
      for (const [key, spec] of entries) {
        const x = obj[key];
        if (x === undefined) {
          if (spec.optional) continue;
          throw new TypeError(`${name}.${key} (field ${spec.id}) is missing`);
        }
        w.fieldBegin(spec.codec.ttype, spec.id);
        spec.codec.write(w, x);
      }
      w.fieldStop();
    },
    read(r) {
      r.enter();
      const out: Record<string, unknown> = {};
      for (;;) {
        const t = r.byte();
        if (t === TType.STOP) break;
        const id = r.i16();
        const known = byId.get(id);
        // Unknown ids and unexpected types are skipped, as Thrift does, so a
        // newer server with extra fields still decodes.
        if (known !== undefined && known[1].codec.ttype === t) out[known[0]] = known[1].codec.read(r);
        else r.skip(t);
      }
      r.leave();
      for (const [key, spec] of required) {
        if (out[key] === undefined) throw new ThriftProtocolError(`${name}.${key} (field ${spec.id}) missing`);
      }
      return out as StructRead<F>;
    },
  };
}

// ---------------------------------------------------------------------------
// Messages

export interface MessageHeader {
  name: string;
  type: number;
  seqid: number;
}

/** Writes header + body; on a bad value nothing is left half-written. */
export function writeMessage<W>(w: Writer, name: string, type: number, seqid: number, body: Codec<unknown, W>, value: W): void {
  const mark = w.length;
  try {
    w.i32(VERSION_1 | type);
    w.string(name);
    w.i32(seqid);
    body.write(w, value);
  } catch (e) {
    w.truncate(mark);
    throw e;
  }
}

/** Encodes one message into a fresh buffer. */
export function encodeMessage<W>(name: string, type: number, seqid: number, body: Codec<unknown, W>, value: W): Buffer {
  const w = new Writer(256);
  writeMessage(w, name, type, seqid, body, value);
  return w.take();
}

export function readMessageBegin(r: Reader): MessageHeader {
  const word = r.i32();
  if ((word & VERSION_MASK) !== VERSION_1) {
    throw new ThriftProtocolError(`not a strict binary-protocol message (first word 0x${(word >>> 0).toString(16).padStart(8, "0")})`);
  }
  const type = word & 0xff;
  const name = r.string();
  const seqid = r.i32();
  return { name, type, seqid };
}

/** The name a TMultiplexedProtocol client puts on the wire. */
export function multiplexedName(service: string, method: string): string {
  return `${service}:${method}`;
}

/** TApplicationException type codes (the Thrift library's, not bmv2's). */
export const ApplicationExceptionType: Readonly<Record<number, string>> = {
  0: "UNKNOWN",
  1: "UNKNOWN_METHOD",
  2: "INVALID_MESSAGE_TYPE",
  3: "WRONG_METHOD_NAME",
  4: "BAD_SEQUENCE_ID",
  5: "MISSING_RESULT",
  6: "INTERNAL_ERROR",
  7: "PROTOCOL_ERROR",
  8: "INVALID_TRANSFORM",
  9: "INVALID_PROTOCOL",
  10: "UNSUPPORTED_CLIENT_TYPE",
};

export const applicationException = struct("TApplicationException", {
  message: optional(1, string),
  type: optional(2, i32),
});

// ---------------------------------------------------------------------------
// Framing: where does each message end in an unframed byte stream?

const enum Step {
  Version,
  Value,
  Fields,
  Items,
  Skip,
}

/**
 * Splits an unframed stream of strict binary-protocol messages. Walks each
 * message one token at a time and keeps its place between chunks, so every
 * byte is looked at once however the stream is cut. Throws
 * ThriftProtocolError on anything that is not a well-formed message; after
 * that the stream cannot be resynchronised and the framer stays failed.
 */
export class MessageFramer {
  private acc = Buffer.alloc(0);
  private start = 0; // first byte of the current message in acc
  private end = 0; // bytes held in acc
  private scan = 0; // bytes of the current message already walked
  // The walk's stack, one slot per frame, in typed arrays: a 10 MiB table
  // dump has a million values and must not cost a million small objects.
  // step: what the frame expects; a: Value/Items type, Skip byte count;
  // b: map value type (-1 for lists); left: items left (maps count keys and values).
  private readonly step: Int8Array;
  private readonly a: Int32Array;
  private readonly b: Int32Array;
  private readonly left: Float64Array;
  private sp = 0;
  private depth = 0;
  private failed: ThriftProtocolError | undefined;

  constructor(
    private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES,
    private readonly maxDepth = DEFAULT_MAX_DEPTH,
  ) {
    // Each nesting level holds a container frame and the value inside it.
    const slots = 2 * maxDepth + 8;
    this.step = new Int8Array(slots);
    this.a = new Int32Array(slots);
    this.b = new Int32Array(slots);
    this.left = new Float64Array(slots);
  }

  /** Bytes received that are not yet part of a complete message. */
  get buffered(): number {
    return this.end - this.start;
  }

  /** Adds bytes; returns every message they complete (each a copy). */
  push(chunk: Buffer): Buffer[] {
    if (this.failed) throw this.failed;
    this.append(chunk);
    const out: Buffer[] = [];
    try {
      while (this.end > this.start) {
        if (this.sp === 0) this.beginMessage();
        if (!this.walk()) break;
        const msgEnd = this.start + this.scan;
        out.push(Buffer.from(this.acc.subarray(this.start, msgEnd)));
        this.start = msgEnd;
        this.scan = 0;
      }
    } catch (e) {
      this.failed = e instanceof ThriftProtocolError ? e : new ThriftProtocolError(String(e));
      throw this.failed;
    }
    if (this.start === this.end) this.start = this.end = 0;
    return out;
  }

  private append(chunk: Buffer): void {
    const held = this.end - this.start;
    if (this.end + chunk.length > this.acc.length) {
      if (held + chunk.length <= this.acc.length && this.start > 0) {
        this.acc.copy(this.acc, 0, this.start, this.end);
      } else {
        const bigger = Buffer.allocUnsafe(Math.max(held + chunk.length, this.acc.length * 2, 64 * 1024));
        this.acc.copy(bigger, 0, this.start, this.end);
        this.acc = bigger;
      }
      this.start = 0;
      this.end = held;
    }
    chunk.copy(this.acc, this.end);
    this.end += chunk.length;
  }

  private pushFrame(step: Step, a: number): void {
    const i = this.sp++;
    this.step[i] = step;
    this.a[i] = a;
  }

  private beginMessage(): void {
    // Pushed in reverse: version word, name, seqid, then the body struct.
    this.depth = 0;
    this.pushFrame(Step.Value, TType.STRUCT);
    this.pushFrame(Step.Value, TType.I32);
    this.pushFrame(Step.Value, TType.STRING);
    this.pushFrame(Step.Version, 0);
  }

  private enter(): void {
    if (++this.depth > this.maxDepth) throw new ThriftProtocolError(`nesting deeper than ${this.maxDepth}`);
  }

  /** Advances through the current message; true once it is complete. */
  private walk(): boolean {
    const acc = this.acc;
    while (this.sp > 0) {
      if (this.scan > this.maxMessageBytes) {
        throw new ThriftProtocolError(`message longer than ${this.maxMessageBytes} bytes`);
      }
      const top = this.sp - 1;
      const p = this.start + this.scan;
      const avail = this.end - p;
      switch (this.step[top] as Step) {
        case Step.Version: {
          if (avail < 4) return false;
          const word = acc.readInt32BE(p);
          const type = word & 0xff;
          if ((word & VERSION_MASK) !== VERSION_1 || type < MessageType.CALL || type > MessageType.ONEWAY) {
            throw new ThriftProtocolError(`not a strict binary-protocol message (first word 0x${(word >>> 0).toString(16).padStart(8, "0")})`);
          }
          this.scan += 4;
          this.sp--;
          break;
        }
        case Step.Skip:
          if (avail < this.a[top]!) return false;
          this.scan += this.a[top]!;
          this.sp--;
          break;
        case Step.Fields: {
          if (avail < 1) return false;
          const t = acc[p]!;
          if (t === TType.STOP) {
            this.scan += 1;
            this.sp--;
            this.depth--;
            break;
          }
          if (avail < 3) return false;
          checkValueType(t, "field");
          this.scan += 3;
          this.pushFrame(Step.Value, t);
          break;
        }
        case Step.Items: {
          const left = this.left[top]!;
          if (left === 0) {
            this.sp--;
            this.depth--;
            break;
          }
          // Maps alternate key, value: an even count left means a key is next.
          const vt = this.b[top]!;
          this.left[top] = left - 1;
          this.pushFrame(Step.Value, vt < 0 || left % 2 === 0 ? this.a[top]! : vt);
          break;
        }
        case Step.Value: {
          const t = this.a[top]!;
          const fixed = fixedSize(t);
          if (fixed !== undefined) {
            if (avail < fixed) return false;
            this.scan += fixed;
            this.sp--;
            break;
          }
          switch (t) {
            case TType.STRING: {
              if (avail < 4) return false;
              const n = acc.readInt32BE(p);
              if (n < 0 || n > this.maxMessageBytes) throw new ThriftProtocolError(`bad string length ${n}`);
              this.scan += 4;
              this.step[top] = Step.Skip;
              this.a[top] = n;
              break;
            }
            case TType.STRUCT:
              this.enter();
              this.step[top] = Step.Fields;
              break;
            case TType.LIST:
            case TType.SET: {
              if (avail < 5) return false;
              const et = acc[p]!;
              const n = acc.readInt32BE(p + 1);
              this.checkCount(n, et, minSize(et), "list");
              this.scan += 5;
              this.enter();
              this.step[top] = Step.Items;
              this.a[top] = et;
              this.b[top] = -1;
              this.left[top] = n;
              break;
            }
            case TType.MAP: {
              if (avail < 6) return false;
              const kt = acc[p]!;
              const vt = acc[p + 1]!;
              const n = acc.readInt32BE(p + 2);
              this.checkCount(n, kt, minSize(kt) + minSize(vt), "map");
              if (n > 0) checkValueType(vt, "map value");
              this.scan += 6;
              this.enter();
              this.step[top] = Step.Items;
              this.a[top] = kt;
              this.b[top] = vt;
              this.left[top] = 2 * n;
              break;
            }
            default:
              throw new ThriftProtocolError(`invalid type id ${t}`);
          }
          break;
        }
      }
    }
    return true;
  }

  private checkCount(n: number, type: number, each: number, what: string): void {
    if (n < 0) throw new ThriftProtocolError(`${what}: negative size ${n}`);
    if (n === 0) return;
    checkValueType(type, what);
    if (n * each > this.maxMessageBytes) throw new ThriftProtocolError(`${what}: ${n} elements exceed the message size limit`);
  }
}
