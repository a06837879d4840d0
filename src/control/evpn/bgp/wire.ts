// Bounds-checked big-endian reader and small writer helpers.
//
// Every decoder in this directory reads through Reader; it never indexes a
// Buffer directly, so a truncated or lying length field can only ever produce
// WireTruncatedError (caught by the public entry points), never a RangeError
// or a silently short slice.

import { BgpEncodeError, WireTruncatedError } from './errors.ts';

export class Reader {
  private p: number;

  /** Reads buf[start, end). */
  constructor(
    private readonly buf: Buffer,
    start = 0,
    private readonly end = buf.length,
  ) {
    if (start < 0 || end > buf.length || start > end) {
      throw new WireTruncatedError(end - start, buf.length, 'region');
    }
    this.p = start;
  }

  get offset(): number {
    return this.p;
  }

  get remaining(): number {
    return this.end - this.p;
  }

  get done(): boolean {
    return this.p >= this.end;
  }

  private need(n: number, what: string): void {
    if (n < 0 || this.p + n > this.end) throw new WireTruncatedError(n, this.end - this.p, what);
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.buf[this.p++]!;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = (this.buf[this.p]! << 8) | this.buf[this.p + 1]!;
    this.p += 2;
    return v;
  }

  u24(what = 'u24'): number {
    this.need(3, what);
    const v = (this.buf[this.p]! << 16) | (this.buf[this.p + 1]! << 8) | this.buf[this.p + 2]!;
    this.p += 3;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.buf[this.p]! * 0x1000000 + ((this.buf[this.p + 1]! << 16) | (this.buf[this.p + 2]! << 8) | this.buf[this.p + 3]!);
    this.p += 4;
    return v;
  }

  /** A copy of the next n octets (copy so decoded objects never alias the receive buffer). */
  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const out = Buffer.from(this.buf.subarray(this.p, this.p + n));
    this.p += n;
    return out;
  }

  /** A sub-reader over the next n octets; this reader skips past them. */
  sub(n: number, what = 'field'): Reader {
    this.need(n, what);
    const r = new Reader(this.buf, this.p, this.p + n);
    this.p += n;
    return r;
  }

  /** Everything left, copied. */
  rest(): Buffer {
    return this.bytes(this.remaining, 'rest');
  }

  skip(n: number, what = 'skip'): void {
    this.need(n, what);
    this.p += n;
  }

  peekU8(at = 0): number | undefined {
    const i = this.p + at;
    return i < this.end ? this.buf[i] : undefined;
  }
}

function checkUint(v: number, bits: number, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 2 ** bits - 1) {
    throw new BgpEncodeError(`${what}: ${v} is not a ${bits}-bit unsigned integer`);
  }
}

export function u8(v: number, what = 'u8'): Buffer {
  checkUint(v, 8, what);
  return Buffer.from([v]);
}

export function u16(v: number, what = 'u16'): Buffer {
  checkUint(v, 16, what);
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

export function u24(v: number, what = 'u24'): Buffer {
  checkUint(v, 24, what);
  return Buffer.from([(v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]);
}

export function u32(v: number, what = 'u32'): Buffer {
  checkUint(v, 32, what);
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

