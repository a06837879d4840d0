// The bytes bmv2's runtime takes for a P4 table's key fields and action
// parameters: each field on its own, network byte order, (width + 7) / 8
// bytes, as emit-p4.ts declared it from the same schema. Fields named ifindex
// hold bmv2 port numbers on this target: the codec maps them through the
// target's port map, so the control plane keeps speaking ifindexes.
import type { FieldDecl } from "../../../codegen/schema.ts";
import { p4KeyFields, p4ParamFields, p4Width } from "../../../codegen/emit-p4.ts";
import type { P4Lookup } from "../../../codegen/p4-tables.ts";
import { formatIpv4, formatMac, parseIpv4, parseMac } from "../../../config/net.ts";

export interface PortMap {
  /** bmv2 port of a Linux ifindex (0 when the ifindex is none: a remote entry) */
  portOf(ifindex: number): number;
  ifindexOf(port: number): number;
}

type Rec = Record<string, unknown>;

function encodeField(f: FieldDecl, v: unknown, ports: PortMap): Buffer {
  const bytes = (p4Width(f.type) + 7) >> 3;
  const out = Buffer.alloc(bytes);
  switch (f.type) {
    case "ipv4":
      out.writeUInt32BE(parseIpv4(v as string));
      return out;
    case "mac":
      parseMac(v as string).copy(out);
      return out;
    case "u64":
      out.writeBigUInt64BE(BigInt(v as bigint));
      return out;
    default: {
      let n = Number(v);
      if (f.name === "ifindex") n = n === 0 ? 0 : ports.portOf(n);
      out.writeUIntBE(bytes === 4 ? n >>> 0 : n & ((1 << (8 * bytes)) - 1), 0, bytes);
      return out;
    }
  }
}

function decodeField(f: FieldDecl, b: Buffer, ports: PortMap): unknown {
  const bytes = (p4Width(f.type) + 7) >> 3;
  if (b.length !== bytes) throw new RangeError(`${f.name}: ${b.length} bytes, expected ${bytes}`);
  switch (f.type) {
    case "ipv4":
      return formatIpv4(b.readUInt32BE(0));
    case "mac":
      return formatMac(b);
    case "u64":
      return b.readBigUInt64BE(0);
    default: {
      const n = b.readUIntBE(0, bytes);
      return f.name === "ifindex" && n !== 0 ? ports.ifindexOf(n) : n;
    }
  }
}

export interface LookupCodec {
  readonly lookup: P4Lookup;
  readonly keyFields: FieldDecl[];
  readonly paramFields: FieldDecl[];
  encodeKey(k: Rec): Buffer[];
  /** the hit action's parameters from a value (missing extras: 0) */
  encodeParams(v: Rec): Buffer[];
  decodeKey(bs: readonly Buffer[]): Rec;
  decodeParams(bs: readonly Buffer[]): Rec;
}

export function lookupCodec(l: P4Lookup, ports: PortMap): LookupCodec {
  const keyFields = p4KeyFields(l);
  const paramFields = p4ParamFields(l);
  const decode = (fields: FieldDecl[], bs: readonly Buffer[], what: string) => {
    if (bs.length !== fields.length) throw new RangeError(`${l.p4} ${what}: ${bs.length} fields, expected ${fields.length}`);
    const out: Rec = {};
    fields.forEach((f, i) => (out[f.name] = decodeField(f, bs[i], ports)));
    return out;
  };
  return {
    lookup: l,
    keyFields,
    paramFields,
    encodeKey: (k) => keyFields.map((f) => encodeField(f, k[f.name], ports)),
    encodeParams: (v) => paramFields.map((f) => encodeField(f, v[f.name] ?? 0, ports)),
    decodeKey: (bs) => decode(keyFields, bs, "key"),
    decodeParams: (bs) => decode(paramFields, bs, "action data"),
  };
}
