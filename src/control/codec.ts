// Key/value codecs for every table, built from the same declarations the C
// emitter reads (src/codegen/tables.ts), with typed-struct doing the byte work.
import { Struct } from "typed-struct";
import { layout, type FieldDecl, type FieldType, type StructDecl } from "../codegen/schema.ts";
import { records, tables, type TableName } from "../codegen/tables.ts";
import { formatIpv4, formatMac, parseIpv4, parseMac } from "../config/net.ts";

type TsOf<T> = T extends "u64" ? bigint : T extends "ipv4" | "mac" ? string : number;
/** The TS shape of a declared struct: every non-padding field. */
export type StructOf<F extends readonly FieldDecl[]> = {
  [K in F[number] as K["type"] extends { pad: number } ? never : K["name"]]: TsOf<K["type"]>;
};

export interface Codec<T> {
  readonly size: number;
  encode(v: T): Buffer;
  decode(b: Buffer): T;
}

type Builder = { compile(): new (raw?: Buffer) => Record<string, unknown> } & Record<string, (...a: never[]) => Builder>;

function addField(s: Builder, name: string, t: FieldType): Builder {
  const b = s as unknown as Record<string, (...a: unknown[]) => Builder>;
  if (typeof t === "object") return b.Buffer!(name, t.pad);
  switch (t) {
    case "u8":
      return b.UInt8!(name);
    case "u16":
      return b.UInt16LE!(name);
    case "u32":
      return b.UInt32LE!(name);
    case "u64":
      return b.BigUInt64LE!(name);
    case "be16":
      return b.UInt16BE!(name);
    case "be32":
      return b.UInt32BE!(name);
    case "ipv4":
      return b.Custom!(
        name,
        4,
        (_t: unknown, buf: Buffer) => formatIpv4(buf.readUInt32BE(0)),
        (_t: unknown, buf: Buffer, v: string) => buf.writeUInt32BE(parseIpv4(v), 0) > 0,
      );
    case "mac":
      return b.Custom!(
        name,
        6,
        (_t: unknown, buf: Buffer) => formatMac(buf),
        (_t: unknown, buf: Buffer, v: string) => parseMac(v).copy(buf) === 6,
      );
  }
}

export function structCodec<D extends StructDecl>(decl: D): Codec<StructOf<D["fields"]>> {
  const l = layout(decl); // also validates the declaration
  let s = new Struct(decl.name) as unknown as Builder;
  for (const f of decl.fields) s = addField(s, f.name, f.type);
  const Ctor = s.compile();
  const names = decl.fields.filter((f) => typeof f.type !== "object").map((f) => f.name);
  // one scratch struct per codec: building a typed-struct object per call is
  // most of the cost of programming a route (its padding is never written, so
  // it stays zero)
  const scratch = new Ctor();
  const raw = (Ctor as unknown as { raw(o: unknown): Buffer }).raw(scratch);
  return {
    size: l.size,
    encode(v) {
      const rec = v as Record<string, unknown>;
      for (const n of names) {
        const x = rec[n];
        if (x === undefined) throw new TypeError(`${decl.name}.${n} missing`);
        scratch[n] = x;
      }
      return Buffer.from(raw);
    },
    decode(b) {
      if (b.length < l.size) throw new RangeError(`${decl.name}: ${b.length} bytes, need ${l.size}`);
      b.copy(raw, 0, 0, l.size);
      const out: Record<string, unknown> = {};
      for (const n of names) out[n] = scratch[n];
      return out as StructOf<D["fields"]>;
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
export type DataPathEvent = StructOf<(typeof records)["event"]["fields"]>;
