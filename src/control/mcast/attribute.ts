// Multicast membership on the wire: a vxgate path attribute.
//
// Each switch tells the others for which (source or *, group) of a VNI it has
// local members, so a sender copies a group's traffic only to those switches
// (per-group unicast replication). RFC 9251 type-6 (SMET) routes say the same
// thing, but FRR 8-10 drops them silently and GoBGP resets the session on an
// EVPN route type it does not know, so everywhere else the list rides on the
// switch's own type-3 (IMET) route of that VNI in this optional transitive
// attribute: a standard reflector passes an unrecognized optional transitive
// attribute on unchanged (RFC 4271 §5, with the Partial bit set), and a
// standard peer still understands the type-3 route itself. Which route carries
// it is McastEvpn's business (evpn.ts); this module is the codec only.
//
// Attribute: flags 0xC0 (Optional, Transitive), type code 243
// (VXGATE_MCAST). EXPERIMENTAL code point, like 245 (mirror) and 244
// (multi-VNI): IANA has not assigned it to vxgate. Note that 241..243 are
// "Deprecated" in the IANA "BGP Path Attributes" registry (RFC 8093: values
// seen squatted in the wild), so IANA will not assign 243 to anyone else, but
// a box running that old squatting code could read it as its own. Neither
// FRR (bgpd/bgpd.h: 1..40 and 255 for VNC) nor GoBGP knows 243, so both keep
// and reflect it as an unknown optional transitive attribute. Change
// MCAST_ATTR_CODE if a code is ever assigned.
//
// Value (all fields big-endian):
//   Version (1) = 1                any other version: the value is refused
//   Flags (1)                      0x01 replicator: this switch is the replication
//                                  point (RFC 9574 role) for this VNI; leaves send
//                                  it the single copy. Other bits: 0 on send,
//                                  ignored on receipt.
//   Replicator (4)                 IPv4 where leaves send that copy; 0.0.0.0 when
//                                  the flag is clear (ignored on receipt then)
//   Count (2)                      number of entries that follow
//   Entry * Count:
//     Source (4)                   IPv4 unicast source; 0.0.0.0 = any source (*,G)
//     Group (4)                    IPv4 multicast group (224.0.0.0/4)
//   Extension (*)                  octets after the last entry: fields a later
//                                  revision appends; ignored on receipt, none on send
//
// Canonical form (what encode writes): entries sorted by group, then source
// (numerically; (*,G) first within G), duplicates removed, so the same
// membership always encodes to the same bytes and an identical
// re-advertisement is recognised as such by every receiver.
//
// Size: a BGP UPDATE is at most 4096 octets (RFC 4271 §4). 12 octets of fixed
// fields (attribute header with extended length + 8) + 8 per entry; the rest
// of a type-3 UPDATE (header, MP_REACH with the NLRI, ORIGIN, AS_PATH,
// LOCAL_PREF, RTs + encapsulation, PMSI, ORIGINATOR_ID / CLUSTER_LIST added by
// reflectors, other vxgate attributes) needs its room too. At most
// MCAST_MAX_ENTRIES (400, a 3208-octet value) entries are sent per VNI; the
// encoder keeps the first 400 in canonical order and says how many it left out.

import { BgpEncodeError, bytesToIpv4, ipv4ToBytes, isIpv4, type PathAttribute, type UnknownAttr } from "../evpn/bgp/index.ts";

export const MCAST_ATTR_CODE = 243;
export const MCAST_ATTR_FLAGS = 0xc0;
export const MCAST_VERSION = 1;
/** Flags bit: the originator is the replication point for this VNI. */
export const MCAST_FLAG_REPLICATOR = 0x01;
/** Version + flags + replicator + count. */
export const MCAST_FIXED = 8;
export const MCAST_ENTRY_LEN = 8;
/** Entries sent per VNI at most: 8 + 400 * 8 = 3208 octets of value. */
export const MCAST_MAX_ENTRIES = 400;

export interface McastEntryWire {
  /** IPv4 unicast source, or "*" for any source ((*,G); 0.0.0.0 on the wire). */
  source: string;
  /** IPv4 multicast group (224.0.0.0/4). */
  group: string;
}

export interface McastMembershipWire {
  /** Present: this switch is the replicator for the VNI, leaves send the single copy here (IPv4). */
  replicator?: string;
  entries: McastEntryWire[];
}

/** A value that is not a valid v1 membership attribute. */
export class McastAttributeError extends Error {
  override name = "McastAttributeError";
}

const isMulticastOctet = (first: number) => first >= 224 && first <= 239;

/** Why an entry cannot be sent (undefined: it can). "0.0.0.0" as source is read as "*". */
export function mcastEntryProblem(e: McastEntryWire): string | undefined {
  if (typeof e?.group !== "string" || !isIpv4(e.group)) return `group ${JSON.stringify(e?.group)} is not an IPv4 address`;
  if (!isMulticastOctet(Number(e.group.split(".")[0]))) return `group ${e.group} is not a multicast address (224.0.0.0/4)`;
  if (e.source === "*" || e.source === "0.0.0.0") return undefined;
  if (typeof e.source !== "string" || !isIpv4(e.source)) return `source ${JSON.stringify(e.source)} is neither "*" nor an IPv4 address`;
  if (isMulticastOctet(Number(e.source.split(".")[0]))) return `source ${e.source} is a multicast address`;
  return undefined;
}

/** The 8 octets of one entry (validated). */
function entryBytes(e: McastEntryWire, i: number): Buffer {
  const why = mcastEntryProblem(e);
  if (why) throw new BgpEncodeError(`multicast entry #${i}: ${why}`);
  const b = Buffer.alloc(MCAST_ENTRY_LEN);
  if (e.source !== "*") ipv4ToBytes(e.source).copy(b, 0);
  ipv4ToBytes(e.group).copy(b, 4);
  return b;
}

/** Canonical entry order on the wire: group, then source (both as unsigned 32-bit numbers). */
function compareEntryBytes(a: Buffer, b: Buffer): number {
  return a.readUInt32BE(4) - b.readUInt32BE(4) || a.readUInt32BE(0) - b.readUInt32BE(0);
}

export interface McastEncoded {
  attribute: UnknownAttr;
  /** Distinct entries in the membership. */
  entries: number;
  /** Entries carried (the first ones in canonical order). */
  encoded: number;
  /** Entries left out because the UPDATE has no room for them (entries - encoded). */
  omitted: number;
}

/**
 * The attribute for one VNI's membership, canonical (sorted, duplicates
 * dropped), with at most `maxEntries` (default MCAST_MAX_ENTRIES) entries:
 * the first ones in canonical order; `omitted` says how many did not fit (the
 * caller logs it). Throws BgpEncodeError for what the format cannot carry (a
 * programming error): an entry whose group is not IPv4 multicast or whose
 * source is not "*" or IPv4 unicast, or a replicator that is not an IPv4
 * address other than 0.0.0.0.
 */
export function encodeMcastMembershipFit(w: McastMembershipWire, maxEntries = MCAST_MAX_ENTRIES): McastEncoded {
  let replicator: Buffer | undefined;
  if (w.replicator !== undefined) {
    if (typeof w.replicator !== "string" || !isIpv4(w.replicator) || w.replicator === "0.0.0.0") {
      throw new BgpEncodeError(`multicast replicator ${JSON.stringify(w.replicator)} is not an IPv4 address other than 0.0.0.0`);
    }
    replicator = ipv4ToBytes(w.replicator);
  }
  const byHex = new Map<string, Buffer>();
  (w.entries ?? []).forEach((e, i) => {
    const b = entryBytes(e, i);
    byHex.set(b.toString("hex"), b);
  });
  const sorted = [...byHex.values()].sort(compareEntryBytes);
  const limit = Math.max(0, Math.min(maxEntries, MCAST_MAX_ENTRIES, 0xffff));
  const kept = sorted.slice(0, limit);
  const fixed = Buffer.alloc(MCAST_FIXED);
  fixed[0] = MCAST_VERSION;
  fixed[1] = replicator ? MCAST_FLAG_REPLICATOR : 0;
  replicator?.copy(fixed, 2);
  fixed.writeUInt16BE(kept.length, 6);
  return {
    attribute: { type: "unknown", code: MCAST_ATTR_CODE, flags: MCAST_ATTR_FLAGS, value: Buffer.concat([fixed, ...kept]) },
    entries: sorted.length,
    encoded: kept.length,
    omitted: sorted.length - kept.length,
  };
}

/**
 * The attribute (optional transitive 243) for one VNI's membership: canonical,
 * at most MCAST_MAX_ENTRIES entries. Use encodeMcastMembershipFit to learn how
 * many were left out.
 */
export function encodeMcastMembership(w: McastMembershipWire): PathAttribute {
  return encodeMcastMembershipFit(w).attribute;
}

/**
 * Decodes a v1 value. Throws McastAttributeError (and nothing else) when the
 * value is malformed: shorter than its fixed fields, a count that runs past
 * the end, a version other than 1, the replicator flag with address 0.0.0.0,
 * a group that is not multicast, or a source that is. Entries come back in
 * wire order (a vxgate sender writes them canonically); the caller treats a
 * malformed attribute as absent and logs it. Allocates in proportion to the
 * input only.
 */
export function decodeMcastMembership(value: Buffer): McastMembershipWire {
  if (value.length < MCAST_FIXED) {
    throw new McastAttributeError(`multicast attribute of ${value.length} octets is shorter than its ${MCAST_FIXED} fixed octets`);
  }
  if (value[0] !== MCAST_VERSION) throw new McastAttributeError(`multicast attribute version ${value[0]} (want ${MCAST_VERSION})`);
  const flags = value[1]!;
  const count = value.readUInt16BE(6);
  const room = value.length - MCAST_FIXED;
  if (count * MCAST_ENTRY_LEN > room) {
    throw new McastAttributeError(`multicast attribute: count ${count} needs ${count * MCAST_ENTRY_LEN} octets of entries, ${room} follow`);
  }
  const w: McastMembershipWire = { entries: [] };
  if (flags & MCAST_FLAG_REPLICATOR) {
    const addr = bytesToIpv4(value.subarray(2, 6));
    if (addr === "0.0.0.0") throw new McastAttributeError("multicast attribute: replicator flag set with address 0.0.0.0");
    w.replicator = addr;
  }
  for (let i = 0; i < count; i++) {
    const off = MCAST_FIXED + i * MCAST_ENTRY_LEN;
    const src = value.subarray(off, off + 4);
    const grp = value.subarray(off + 4, off + 8);
    if (!isMulticastOctet(grp[0]!)) throw new McastAttributeError(`multicast entry #${i}: group ${bytesToIpv4(grp)} is not a multicast address (224.0.0.0/4)`);
    if (isMulticastOctet(src[0]!)) throw new McastAttributeError(`multicast entry #${i}: source ${bytesToIpv4(src)} is a multicast address`);
    const source = src.readUInt32BE(0) === 0 ? "*" : bytesToIpv4(src);
    w.entries.push({ source, group: bytesToIpv4(grp) });
  }
  // Octets after the last entry: fields appended by a later revision, ignored.
  return w;
}

/**
 * The value of the route's membership attribute, if it has one: the first
 * attribute with code 243 and the Optional and Transitive bits (Partial may be
 * set by the reflectors on the way). A code-243 attribute without both bits
 * is someone else's use of the code and is not ours.
 */
export function findMcastAttribute(attrs: readonly PathAttribute[]): Buffer | undefined {
  for (const a of attrs) {
    if (a.type === "unknown" && a.code === MCAST_ATTR_CODE && (a.flags & MCAST_ATTR_FLAGS) === MCAST_ATTR_FLAGS) return a.value;
  }
  return undefined;
}
