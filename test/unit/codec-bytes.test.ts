// The table codecs (src/control/codec.ts) read and write each field at its
// declared offset; typed-struct, which they used before, is the reference:
// for every table and record, random values encode to the same bytes and
// decode back to the same values, and random bytes decode alike.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Struct } from "typed-struct";
import { layout, type FieldType, type StructDecl } from "../../src/codegen/schema.ts";
import { records, tables } from "../../src/codegen/tables.ts";
import { structCodec } from "../../src/control/codec.ts";
import { formatIpv4, formatMac, parseIpv4, parseMac } from "../../src/config/net.ts";

type B = Record<string, (...a: unknown[]) => B> & { compile(): new (raw?: Buffer) => Record<string, unknown> };

function reference(decl: StructDecl) {
  let s = new Struct(decl.name) as unknown as B;
  for (const f of decl.fields) {
    const t = f.type;
    if (typeof t === "object") s = s.Buffer!(f.name, t.pad);
    else if (t === "ipv4") s = s.Custom!(f.name, 4, (_t: unknown, b: Buffer) => formatIpv4(b.readUInt32BE(0)), (_t: unknown, b: Buffer, v: string) => b.writeUInt32BE(parseIpv4(v), 0) > 0);
    else if (t === "mac") s = s.Custom!(f.name, 6, (_t: unknown, b: Buffer) => formatMac(b), (_t: unknown, b: Buffer, v: string) => parseMac(v).copy(b) === 6);
    else s = s[{ u8: "UInt8", u16: "UInt16LE", u32: "UInt32LE", u64: "BigUInt64LE", be16: "UInt16BE", be32: "UInt32BE" }[t]]!(f.name);
  }
  const Ctor = s.compile();
  return {
    encode(v: Record<string, unknown>): Buffer {
      const o = new Ctor();
      for (const f of decl.fields) if (typeof f.type !== "object") o[f.name] = v[f.name];
      return Buffer.from((Ctor as unknown as { raw(o: unknown): Buffer }).raw(o));
    },
    decode(b: Buffer): Record<string, unknown> {
      const o = new Ctor(Buffer.from(b));
      const out: Record<string, unknown> = {};
      for (const f of decl.fields) if (typeof f.type !== "object") out[f.name] = o[f.name];
      return out;
    },
  };
}

const value = (t: FieldType): fc.Arbitrary<unknown> => {
  switch (t) {
    case "u8":
      return fc.oneof(fc.integer({ min: 0, max: 255 }), fc.integer({ min: -1000, max: 100000 }));
    case "u16":
    case "be16":
      return fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: -70000, max: 200000 }));
    case "u32":
    case "be32":
      return fc.oneof(fc.nat({ max: 0xffffffff }), fc.integer());
    case "u64":
      return fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    case "ipv4":
      return fc.nat({ max: 0xffffffff }).map(formatIpv4);
    case "mac":
      return fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => formatMac(b));
    default:
      return fc.constant(undefined);
  }
};

const decls: StructDecl[] = [
  ...Object.values(tables).flatMap((t) => [(t as { key?: StructDecl }).key, (t as { value?: StructDecl }).value].filter((d): d is StructDecl => d !== undefined)),
  ...(Object.values(records) as StructDecl[]),
];

describe("table codecs, byte for byte as typed-struct", () => {
  it.each(decls.map((d) => [d.name, d] as const))("%s", (_n, decl) => {
    const mine = structCodec(decl);
    const ref = reference(decl);
    const fields = decl.fields.filter((f) => typeof f.type !== "object");
    const rec = fc.record(Object.fromEntries(fields.map((f) => [f.name, value(f.type as FieldType)])));
    fc.assert(
      fc.property(rec, (v) => {
        const b = mine.encode(v as never);
        expect(b).toEqual(ref.encode(v));
        expect(mine.decode(b)).toEqual(ref.decode(b));
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ minLength: layout(decl).size, maxLength: layout(decl).size + 8 }), (bytes) => {
        expect(mine.decode(Buffer.from(bytes))).toEqual(ref.decode(Buffer.from(bytes)));
      }),
      { numRuns: 100 },
    );
  });
});
