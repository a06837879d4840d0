// Path attribute registry: the PathAttribute union, header encoding
// (flags, type code, 1- or 2-octet length) and per-attribute dispatch.

import { BgpEncodeError } from '../errors.ts';
import { aggregatorCodec, atomicAggregateCodec, type AggregatorAttr, type AtomicAggregateAttr } from './aggregate.ts';
import { asPathCodec, type AsPathAttr } from './as-path.ts';
import { communitiesCodec, type CommunitiesAttr } from './communities.ts';
import { extCommunitiesCodec, type ExtCommunitiesAttr } from './ext-communities.ts';
import { localPrefCodec, type LocalPrefAttr, medCodec, type MedAttr } from './metrics.ts';
import { type MpReachAttr, mpReachCodec, type MpUnreachAttr, mpUnreachCodec } from './mp-nlri.ts';
import { nextHopCodec, type NextHopAttr } from './next-hop.ts';
import { originCodec, type OriginAttr } from './origin.ts';
import { pmsiTunnelCodec, type PmsiTunnelAttr } from './pmsi-tunnel.ts';
import { type ClusterListAttr, clusterListCodec, type OriginatorIdAttr, originatorIdCodec } from './reflection.ts';
import { AttrFlag, type AttributeCodec, type DecodeContext } from './types.ts';
import { checkUnknown, propagateUnknown, type UnknownAttr } from './unknown.ts';

export type KnownAttribute =
  | OriginAttr
  | AsPathAttr
  | NextHopAttr
  | MedAttr
  | LocalPrefAttr
  | AtomicAggregateAttr
  | AggregatorAttr
  | CommunitiesAttr
  | OriginatorIdAttr
  | ClusterListAttr
  | MpReachAttr
  | MpUnreachAttr
  | ExtCommunitiesAttr
  | PmsiTunnelAttr;

export type PathAttribute = KnownAttribute | UnknownAttr;

export type PathAttributeType = PathAttribute['type'];

// The registry stores codecs under their own attribute type; the casts are the
// one place the union is erased.
type AnyCodec = AttributeCodec<KnownAttribute>;
const CODECS: AnyCodec[] = [
  originCodec,
  asPathCodec,
  nextHopCodec,
  medCodec,
  localPrefCodec,
  atomicAggregateCodec,
  aggregatorCodec,
  communitiesCodec,
  originatorIdCodec,
  clusterListCodec,
  mpReachCodec,
  mpUnreachCodec,
  extCommunitiesCodec,
  pmsiTunnelCodec,
] as unknown as AnyCodec[];

const BY_CODE = new Map<number, AnyCodec>(CODECS.map((c) => [c.code, c]));
const BY_TYPE = new Map<string, AnyCodec>(CODECS.map((c) => [c.type, c]));

export function codecForCode(code: number): AnyCodec | undefined {
  return BY_CODE.get(code);
}

export function attributeCodeOf(a: PathAttribute): number {
  if (a.type === 'unknown') return a.code;
  return BY_TYPE.get(a.type)!.code;
}

export function attributeName(code: number): string {
  return BY_CODE.get(code)?.name ?? `ATTR_${code}`;
}

const OT_MASK = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE;

/** Flags the encoder would write for this attribute by itself. */
function defaultFlags(canonical: number, valueLength: number): number {
  return canonical | (valueLength > 255 ? AttrFlag.EXTENDED_LENGTH : 0);
}

/** The flags octet to remember on a decoded typed attribute, or undefined when it is the default. */
export function flagsToKeep(received: number, canonical: number, valueLength: number): number | undefined {
  return received === defaultFlags(canonical, valueLength) ? undefined : received;
}

/** Does the received flags octet have the attribute's Optional/Transitive bits (RFC 7606 §3(c))? */
export function flagsMatch(received: number, canonical: number): boolean {
  return (received & OT_MASK) === (canonical & OT_MASK);
}

function header(flags: number, code: number, len: number): Buffer {
  if (len > 0xffff) throw new BgpEncodeError(`attribute ${code} value of ${len} octets exceeds 65535`);
  if (len > 255) flags |= AttrFlag.EXTENDED_LENGTH;
  if (flags & AttrFlag.EXTENDED_LENGTH) {
    const h = Buffer.alloc(4);
    h[0] = flags;
    h[1] = code;
    h.writeUInt16BE(len, 2);
    return h;
  }
  return Buffer.from([flags, code, len]);
}

/** One attribute, header included. Extended Length is used when the value exceeds 255 octets (or the kept flags ask for it). */
export function encodePathAttribute(a: PathAttribute): Buffer {
  if (a.type === 'unknown') {
    checkUnknown(a);
    return Buffer.concat([header(a.flags, a.code, a.value.length), a.value]);
  }
  const codec = BY_TYPE.get(a.type);
  if (!codec) throw new BgpEncodeError(`unknown attribute type ${String((a as { type: unknown }).type)}`);
  const value = codec.encode(a);
  let flags = codec.flags;
  if (a.flags !== undefined) {
    if (!Number.isInteger(a.flags) || a.flags < 0 || a.flags > 255) throw new BgpEncodeError(`attribute flags ${a.flags} out of range`);
    flags = (codec.flags & OT_MASK) | (a.flags & ~OT_MASK & 0xff);
  }
  return Buffer.concat([header(flags, codec.code, value.length), value]);
}

export function encodePathAttributes(attrs: readonly PathAttribute[]): Buffer {
  return Buffer.concat(attrs.map(encodePathAttribute));
}

/**
 * Decodes one attribute value with its codec (no RFC 7606 classification:
 * throws AttrMalformed / WireTruncatedError; update.ts classifies). Unknown
 * codes come back as UnknownAttr.
 */
export function decodePathAttributeValue(flags: number, code: number, value: Buffer, ctx: DecodeContext): PathAttribute {
  const codec = BY_CODE.get(code);
  if (!codec) return { type: 'unknown', code, flags, value: Buffer.from(value) };
  const a = codec.decode(value, ctx);
  const keep = flagsToKeep(flags, codec.flags, value.length);
  if (keep !== undefined) a.flags = keep;
  return a;
}

/**
 * The attribute list to advertise onward: unknown optional transitive
 * attributes get the Partial bit, unknown non-transitive ones are dropped
 * (RFC 4271 §5, §9.1.3). Known attributes are returned unchanged (which of
 * them to rewrite or strip is RIB/policy work).
 */
export function prepareForPropagation(attrs: readonly PathAttribute[]): PathAttribute[] {
  const out: PathAttribute[] = [];
  for (const a of attrs) {
    if (a.type !== 'unknown') out.push(a);
    else {
      const p = propagateUnknown(a);
      if (p) out.push(p);
    }
  }
  return out;
}

/** First attribute of a type, typed. */
export function findAttribute<T extends PathAttributeType>(attrs: readonly PathAttribute[], type: T): Extract<PathAttribute, { type: T }> | undefined {
  return attrs.find((a) => a.type === type) as Extract<PathAttribute, { type: T }> | undefined;
}

export * from './types.ts';
export * from './origin.ts';
export * from './as-path.ts';
export * from './next-hop.ts';
export * from './metrics.ts';
export * from './aggregate.ts';
export * from './communities.ts';
export * from './reflection.ts';
export * from './mp-nlri.ts';
export * from './ext-communities.ts';
export * from './pmsi-tunnel.ts';
export * from './unknown.ts';
