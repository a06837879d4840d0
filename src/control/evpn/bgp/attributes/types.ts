// Shared definitions for path attribute codecs (RFC 4271 §4.3, §5).
//
//   Attribute Flags (1) | Attribute Type Code (1) | Length (1, or 2 with Extended Length) | Value
//
// Each attribute module exports an AttributeCodec: the canonical Optional and
// Transitive flag bits, a value decoder and encoder, and the RFC 7606 action
// for a malformed instance. attributes/index.ts does the header, flags and
// registry work; update.ts applies the RFC 7606 rules across the UPDATE.

import type { ErrorAction } from '../errors.ts';

export const AttrCode = {
  ORIGIN: 1,
  AS_PATH: 2,
  NEXT_HOP: 3,
  MULTI_EXIT_DISC: 4,
  LOCAL_PREF: 5,
  ATOMIC_AGGREGATE: 6,
  AGGREGATOR: 7,
  COMMUNITIES: 8,
  ORIGINATOR_ID: 9,
  CLUSTER_LIST: 10,
  MP_REACH_NLRI: 14,
  MP_UNREACH_NLRI: 15,
  EXTENDED_COMMUNITIES: 16,
  AS4_PATH: 17,
  AS4_AGGREGATOR: 18,
  PMSI_TUNNEL: 22,
  TUNNEL_ENCAPSULATION: 23,
  LARGE_COMMUNITIES: 32,
} as const;

export const AttrFlag = {
  OPTIONAL: 0x80,
  TRANSITIVE: 0x40,
  PARTIAL: 0x20,
  EXTENDED_LENGTH: 0x10,
} as const;

/** Canonical flags of each attribute category (RFC 4271 §4.3 / §5). */
export const WELL_KNOWN = AttrFlag.TRANSITIVE; // 0x40
export const OPTIONAL_TRANSITIVE = AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE; // 0xc0
export const OPTIONAL_NON_TRANSITIVE = AttrFlag.OPTIONAL; // 0x80

/** Session facts some RFC 7606 §7 rules depend on. */
export interface DecodeContext {
  /** External peer: LOCAL_PREF / ORIGINATOR_ID / CLUSTER_LIST are discarded (RFC 7606 §7.5, §7.9, §7.10). */
  ebgp: boolean;
  /** With ebgp: the peer's AS, to check the leftmost AS_PATH AS (RFC 4271 §6.3, RFC 7606 §7.2). */
  peerAs?: number;
}

/**
 * Thrown by value decoders. `subcode` is the RFC 4271 §6.3 UPDATE Message
 * Error subcode; `action` overrides the codec's default RFC 7606 action;
 * `noData` means the NOTIFICATION carries no data (e.g. Malformed AS_PATH)
 * instead of the attribute.
 */
export class AttrMalformed extends Error {
  constructor(
    readonly subcode: number,
    reason: string,
    readonly opts: { action?: ErrorAction; noData?: boolean } = {},
  ) {
    super(reason);
    this.name = 'AttrMalformed';
  }
}

export interface AttributeCodec<A extends { type: string }> {
  code: number;
  type: A['type'];
  name: string;
  /** Canonical Optional/Transitive bits (Partial and Extended Length excluded). */
  flags: number;
  /** Decodes the value (header already stripped). Throws AttrMalformed or WireTruncatedError. */
  decode(value: Buffer, ctx: DecodeContext): A;
  /** Encodes the value only. Throws BgpEncodeError. */
  encode(attr: A): Buffer;
  /** RFC 7606 action for a malformed value. */
  malformed: ErrorAction;
  /** RFC 7606 action when the Optional/Transitive bits are wrong, if not `malformed` (§3(c)). */
  flagError?: ErrorAction;
  /** The RFC section deciding `malformed`, for reasons and docs. */
  section: string;
}

/**
 * Every typed attribute may carry the flags octet as received when it is not
 * what the encoder would produce by itself (a set Partial bit, an Extended
 * Length bit on a short value, a non-zero unused low nibble), so that
 * encode(decode(bytes)) reproduces the input exactly. The encoder always
 * forces the canonical Optional/Transitive bits and sets Extended Length when
 * the value is longer than 255 octets.
 */
export interface WithFlags {
  flags?: number;
}
