// Key/value codecs for every table, built from the same declarations the C
// emitter reads (src/codegen/tables.ts): each field read and written at its
// declared offset.
import { layout, type FieldDecl, type FieldType, type StructDecl } from "../codegen/schema.ts";
import { constants, records, tables, type TableName } from "../codegen/tables.ts";
import { formatIpv4, formatMacAt, parseIpv4, parseMac } from "../config/net.ts";

type TsOf<T> = T extends "u64" ? bigint : T extends "ipv4" | "mac" ? string : number;
/** The TS shape of a declared struct: every non-padding field. */
export type StructOf<F extends readonly FieldDecl[]> = {
  [K in F[number] as K["type"] extends { pad: number } ? never : K["name"]]: TsOf<K["type"]>;
};

export interface Codec<T> {
  readonly size: number;
  encode(v: T): Buffer;
  /** Writes `v` into `b` at `offset` (size bytes; padding zeroed), as encode() would. */
  encodeInto(v: T, b: Buffer, offset: number): void;
  decode(b: Buffer): T;
  /** The value whose bytes start at `offset` in `b` (one of many packed together). */
  decodeAt(b: Buffer, offset: number): T;
  /** A test of the bytes at an offset: do these fields hold these values? (only those fields are read) */
  matcher(where: Partial<T>): (b: Buffer, offset: number) => boolean;
}

function reader(t: FieldType): (b: Buffer, at: number) => unknown {
  switch (t) {
    case "u8":
      return (b, at) => b[at];
    case "u16":
      return (b, at) => b.readUInt16LE(at);
    case "u32":
      return (b, at) => b.readUInt32LE(at);
    case "u64":
      return (b, at) => b.readBigUInt64LE(at);
    case "be16":
      return (b, at) => b.readUInt16BE(at);
    case "be32":
      return (b, at) => b.readUInt32BE(at);
    case "ipv4":
      return (b, at) => ipv4Text(b.readUInt32BE(at));
    case "mac":
      return (b, at) => formatMacAt(b, at); // decodeAt checked the length
  }
  throw new Error(`no reader for field type ${JSON.stringify(t)}`);
}

/** f, remembering up to 4096 answers (then starting over): for the few values met over and over. */
function remembered<K, V>(f: (k: K) => V): (k: K) => V {
  const seen = new Map<K, V>();
  return (k) => {
    let v = seen.get(k);
    if (v === undefined) {
      v = f(k);
      if (seen.size >= 4096) seen.clear();
      seen.set(k, v);
    }
    return v;
  };
}

/** Formatted IPv4 addresses (VTEPs: few, read over and over; a table of a
 *  million remote entries then holds one string per VTEP, not per entry). */
const ipv4Text = remembered(formatIpv4);

/** Parsed IPv4 addresses (VTEPs: few, written over and over). */
const ipv4Of = remembered((s: unknown) => parseIpv4(s as string));

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** "aa:bb:cc:dd:ee:ff" straight into b at `at` (true), or false for any other form (parseMac then). */
function writeColonMac(b: Buffer, at: number, s: string): boolean {
  if (s.length !== 17) return false;
  for (let i = 0; i < 6; i++) {
    const o = 3 * i;
    if (i < 5 && s.charCodeAt(o + 2) !== 58) return false;
    const hi = hexVal(s.charCodeAt(o));
    const lo = hexVal(s.charCodeAt(o + 1));
    if (hi < 0 || lo < 0) return false;
    b[at + i] = (hi << 4) | lo;
  }
  return true;
}

/** Writes a field as typed-struct does (integers cut to their width, u64 and
 *  addresses checked), without its per-field accessors. Fields are written
 *  into zeroed bytes (encodeInto), so zero u64 values need no write. */
function writer(t: FieldType): (b: Buffer, at: number, v: unknown) => void {
  switch (t) {
    case "u8":
      return (b, at, v) => void (b[at] = Number(v) & 0xff);
    case "u16":
      return (b, at, v) => void b.writeUInt16LE(Number(v) & 0xffff, at);
    case "u32":
      return (b, at, v) => void b.writeUInt32LE(Number(v) >>> 0, at);
    case "u64":
      return (b, at, v) => {
        if (v === 0n) return;
        b.writeBigUInt64LE(BigInt(v as bigint), at);
      };
    case "be16":
      return (b, at, v) => void b.writeUInt16BE(Number(v) & 0xffff, at);
    case "be32":
      return (b, at, v) => void b.writeUInt32BE(Number(v) >>> 0, at);
    case "ipv4":
      return (b, at, v) => void b.writeUInt32BE(ipv4Of(v), at);
    case "mac":
      return (b, at, v) => {
        if (typeof v === "string" && writeColonMac(b, at, v)) return;
        parseMac(v as string).copy(b, at);
      };
  }
  throw new Error(`no writer for field type ${JSON.stringify(t)}`);
}

/**
 * The decoder of one struct: an object literal of its fields, each read at its
 * offset. Compiled once per declared struct (the names and offsets are ours,
 * from tables.ts, never input), so every decoded value has one shape and each
 * read is a call site of its own: a generic loop that adds the fields one by
 * one costs four times as much, which a scan of a million-entry FDB feels.
 */
function compileBuilder(readers: readonly { name: string; offset: number; read: (b: Buffer, at: number) => unknown }[]): (b: Buffer, offset: number) => Record<string, unknown> {
  for (const r of readers) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(r.name) || r.name === "__proto__") throw new Error(`field name ${JSON.stringify(r.name)} is not a plain identifier`);
  const body = readers.map((r, i) => `${r.name}: read[${i}](b, o + ${r.offset})`).join(", ");
  const make = new Function("read", `"use strict"; return (b, o) => ({ ${body} });`) as (read: readonly ((b: Buffer, at: number) => unknown)[]) => (b: Buffer, o: number) => Record<string, unknown>;
  return make(readers.map((r) => r.read));
}

export function structCodec<D extends StructDecl>(decl: D): Codec<StructOf<D["fields"]>> {
  const l = layout(decl); // also validates the declaration
  // straight to and from the bytes at the declared offsets (padding stays
  // zero): typed-struct's per-field accessors cost more than the rest of
  // reading or writing a 100k-entry table (test/unit/codec-bytes.test.ts
  // checks these against typed-struct's encoding)
  const fields = l.fields.filter((f) => typeof f.type !== "object");
  const writers = fields.map((f) => ({ name: f.name, offset: f.offset, write: writer(f.type) }));
  const readers = fields.map((f) => ({ name: f.name, offset: f.offset, read: reader(f.type) }));
  const build = compileBuilder(readers);
  return {
    size: l.size,
    encode(v) {
      const out = Buffer.allocUnsafe(l.size);
      this.encodeInto(v, out, 0);
      return out;
    },
    encodeInto(v, b, offset) {
      const rec = v as Record<string, unknown>;
      // zeroed in JS: the entries are small, and Buffer.fill is a call into C++ per entry
      for (let i = offset, end = offset + l.size; i < end; i++) b[i] = 0;
      for (const w of writers) {
        const x = rec[w.name];
        if (x === undefined) throw new TypeError(`${decl.name}.${w.name} missing`);
        w.write(b, offset + w.offset, x);
      }
    },
    decode(b) {
      return this.decodeAt(b, 0);
    },
    decodeAt(b, offset) {
      if (b.length < offset + l.size) throw new RangeError(`${decl.name}: ${b.length - offset} bytes, need ${l.size}`);
      return build(b, offset) as StructOf<D["fields"]>;
    },
    matcher(where) {
      const tests = Object.entries(where as Record<string, unknown>).map(([name, want]) => {
        const r = readers.find((x) => x.name === name);
        if (!r) throw new TypeError(`${decl.name} has no field ${name}`);
        return { ...r, want };
      });
      return (b, offset) => {
        if (b.length < offset + l.size) throw new RangeError(`${decl.name}: ${b.length - offset} bytes, need ${l.size}`);
        for (const t of tests) if (t.read(b, offset + t.offset) !== t.want) return false;
        return true;
      };
    },
  };
}

type Tables = typeof tables;
type KeyOf<N extends TableName> = Tables[N] extends { key: infer K extends StructDecl } ? StructOf<K["fields"]> : never;
type ValueOf<N extends TableName> = Tables[N] extends { value: infer V extends StructDecl } ? StructOf<V["fields"]> : never;

export type TableKey<N extends TableName> = KeyOf<N>;
export type TableValue<N extends TableName> = ValueOf<N>;

export interface TableCodec<N extends TableName> {
  key: Codec<KeyOf<N>>;
  value: Codec<ValueOf<N>>;
}

const cache = new Map<string, TableCodec<TableName>>();

export function tableCodec<N extends TableName>(name: N): TableCodec<N> {
  let c = cache.get(name);
  if (!c) {
    const t = tables[name] as { key?: StructDecl; value?: StructDecl };
    if (!t.key || !t.value) throw new Error(`table ${name} has no key/value layout`);
    c = { key: structCodec(t.key), value: structCodec(t.value) } as unknown as TableCodec<TableName>;
    cache.set(name, c);
  }
  return c as unknown as TableCodec<N>;
}

export const eventCodec = structCodec(records.event);
const puntCodec = structCodec(records.punt);
export type DataPathEvent = StructOf<(typeof records)["event"]["fields"]> & {
  /** EVT_IGMP: the frame as it arrived on the access port (VLAN tag in `vlan`, not in the bytes) */
  packet?: Buffer;
};

/** One ring buffer record: the event, and for a punted control frame its bytes. */
export function decodeEvent(data: Buffer): DataPathEvent {
  const e: DataPathEvent = eventCodec.decode(data);
  const at = eventCodec.size + puntCodec.size;
  if (e.kind === constants.EVT_IGMP && data.length >= at) {
    const len = Math.min(puntCodec.decodeAt(data, eventCodec.size).len, data.length - at);
    e.packet = data.subarray(at, at + len);
  }
  return e;
}
