// The aggregated same-MAC route's extra entries: a vxgate path attribute.
//
// When one MAC is local in several VNIs, vxgate advertises ONE standard
// RFC 7432 type-2 route for the first VNI (RD, label1 = VNI, RT, MAC Mobility
// and encapsulation extended communities of that VNI, exactly as a plain
// route) and carries every other VNI's entry in this optional transitive
// attribute. A standard reflector passes an unrecognized optional transitive
// attribute on unchanged (RFC 4271 §5, with the Partial bit set), and a
// standard peer sees a valid route for the first VNI.
//
// Attribute: flags 0xC0 (Optional, Transitive), type code 244
// (VXGATE_MULTI_VNI). 244 is unassigned in the IANA "BGP Path Attributes"
// registry (the 244..254 block; 241..243 are deprecated squatted codes and
// 255 is "reserved for development", which FRR uses internally for VNC),
// so it is an experimental choice: change MULTI_VNI_ATTR_CODE if IANA ever
// assigns it.
//
// Value:
//   Version (1 octet) = 1
//   Entry*:
//     Entry Length (1)   octets that follow in this entry: 20, 24 or 36
//     VNI (3)
//     Flags (1)          0x01 = sticky/static MAC; other bits 0 on send, ignored on receipt
//     Ethernet Tag (4)   the host's VLAN tag in that VNI (0 = untagged)
//     Sequence (4)       MAC Mobility sequence number of this entry (RFC 7432 §7.7)
//     Route Target (8)   the entry's route target, as an RT extended community
//     IP (0, 4 or 16)    the host's IP in that VNI, when known
//
// Receivers keep the whole route (one per originator and MAC) and expand it
// into per-VNI MAC entries: the route's own VNI (from label1, RTs from its
// extended communities) plus every entry here, each imported only if its RT
// is imported for that VNI. A malformed value (bad version, an entry length
// other than 20/24/36, a truncated entry, an RT field that is not a route
// target) is handled as attribute-discard (RFC 7606 §2 style): the route
// stays valid for its first VNI and the attribute is dropped, not passed on.

import { BgpEncodeError, bytesToIp, decodeExtCommunity, encodeExtCommunity, ipToBytes, type AdminAssigned, type UnknownAttr } from "./bgp/index.ts";

export const MULTI_VNI_ATTR_CODE = 244;
export const MULTI_VNI_ATTR_FLAGS = 0xc0;
export const MULTI_VNI_VERSION = 1;

export interface MultiVniEntry {
  vni: number;
  sticky: boolean;
  /** VLAN tag (Ethernet Tag), 0 = none. */
  vlan: number;
  seq: number;
  rt: AdminAssigned;
  ip?: string;
}

export function encodeMultiVni(entries: readonly MultiVniEntry[]): UnknownAttr {
  const parts: Buffer[] = [Buffer.from([MULTI_VNI_VERSION])];
  for (const e of entries) {
    if (!Number.isInteger(e.vni) || e.vni < 0 || e.vni > 0xffffff) throw new BgpEncodeError(`VNI ${e.vni} does not fit 24 bits`);
    if (!Number.isInteger(e.vlan) || e.vlan < 0 || e.vlan > 0xffffffff) throw new BgpEncodeError(`ethernet tag ${e.vlan} out of range`);
    if (!Number.isInteger(e.seq) || e.seq < 0 || e.seq > 0xffffffff) throw new BgpEncodeError(`sequence ${e.seq} out of range`);
    const ip = e.ip !== undefined ? ipToBytes(e.ip) : Buffer.alloc(0);
    const b = Buffer.alloc(1 + 20);
    b[0] = 20 + ip.length;
    b.writeUIntBE(e.vni, 1, 3);
    b[4] = e.sticky ? 0x01 : 0;
    b.writeUInt32BE(e.vlan, 5);
    b.writeUInt32BE(e.seq, 9);
    encodeExtCommunity({ type: "route-target", target: e.rt }).copy(b, 13);
    parts.push(b, ip);
  }
  const value = Buffer.concat(parts);
  if (value.length > 0xffff) throw new BgpEncodeError("multi-VNI attribute too long");
  return { type: "unknown", code: MULTI_VNI_ATTR_CODE, flags: MULTI_VNI_ATTR_FLAGS, value };
}

export type MultiVniDecode = { ok: true; entries: MultiVniEntry[] } | { ok: false; reason: string };

/** Never throws. */
export function decodeMultiVni(value: Buffer): MultiVniDecode {
  if (value.length < 1) return { ok: false, reason: "empty multi-VNI attribute" };
  if (value[0] !== MULTI_VNI_VERSION) return { ok: false, reason: `multi-VNI attribute version ${value[0]} (want ${MULTI_VNI_VERSION})` };
  const entries: MultiVniEntry[] = [];
  let off = 1;
  while (off < value.length) {
    const len = value[off]!;
    if (len !== 20 && len !== 24 && len !== 36) return { ok: false, reason: `multi-VNI entry length ${len} at offset ${off} (want 20, 24 or 36)` };
    if (off + 1 + len > value.length) return { ok: false, reason: `multi-VNI entry at offset ${off} overruns the attribute` };
    const b = value.subarray(off + 1, off + 1 + len);
    const rt = decodeExtCommunity(b.subarray(12, 20));
    if (rt.type !== "route-target") return { ok: false, reason: `multi-VNI entry at offset ${off}: RT field is not a route target` };
    const e: MultiVniEntry = { vni: b.readUIntBE(0, 3), sticky: (b[3]! & 0x01) !== 0, vlan: b.readUInt32BE(4), seq: b.readUInt32BE(8), rt: rt.target };
    if (len > 20) e.ip = bytesToIp(Buffer.from(b.subarray(20)));
    entries.push(e);
    off += 1 + len;
  }
  return { ok: true, entries };
}
