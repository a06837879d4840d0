// Match-mirror-encap sessions on the wire: a vxgate path attribute.
//
// A session (a monitored host, a monitoring server, a 16-bit HOST ID) is
// defined on one switch, its owner, and travels to the others in this
// optional transitive attribute on EVPN routes: the owner's own type-3 (IMET)
// routes, which say the session exists, and the monitored host's type-2 route,
// originated by the switch where the host currently is. A standard reflector
// passes an unrecognized optional transitive attribute on unchanged (RFC 4271
// §5, with the Partial bit set). Which routes carry which entries is the
// speaker's business; this module is the codec only. See README.md, "The
// session attribute (245)".
//
// Attribute: flags 0xC0 (Optional, Transitive), type code 245
// (VXGATE_MIRROR). 245 is unassigned in the IANA "BGP Path Attributes"
// registry (the 244..254 block; 244 is vxgate's multi-VNI attribute), and
// neither FRR (bgpd/bgpd.h: 1..40 and 255 for VNC) nor GoBGP
// (pkg/packet/bgp/bgp.go: 1..40) knows it, so both pass it on as an unknown
// optional transitive attribute. Experimental: change MIRROR_ATTR_CODE if
// IANA ever assigns it.
//
// Value:
//   Version (1) = 1                 any other version: the whole value is refused
//   Entry*:
//     Type (1)                      1 = session; 0 = malformed; 2..255 = skipped (a later kind)
//     Length (1)                    octets of the entry's value that follow
//     Value, for type 1:
//       Flags (1)                   0x03 direction: 0 both, 1 from-host, 2 to-host (3 = malformed)
//                                   0x04 match by IP (clear = by MAC)
//                                   0x08 Host IP present, 0x10 Server IP present
//                                   0xE0 0 on send, ignored on receipt
//       Owner (4)                   IPv4 router-id / VTEP of the switch that defined the session
//       Host MAC (6)
//       Host VNI (3)                1..16777215
//       Server MAC (6)
//       Server VNI (3)              1..16777215
//       HOST ID (2)                 1..65535
//       Host IP (4)                 when flagged
//       Server IP (4)               when flagged
//       Name Length (1)             1..32
//       Name (n)                    [a-z0-9._-]
//       Extension (*)               octets after the name: fields a later revision
//                                   appends; ignored on receipt, none on send
//
// A type-1 value is 27..66 octets as sent (25 fixed + 0/4/8 IP + 1 + 1..32 name).
// Decoding is all-or-nothing for type-1 entries: one malformed entry refuses
// the whole value (the receiver then ignores the attribute, RFC 7606
// attribute-discard style) with a reason naming the entry's offset.

import { BgpEncodeError, bytesToIpv4, bytesToMac, ipv4ToBytes, isIpv4, macToBytes, type PathAttribute, type UnknownAttr } from "../evpn/bgp/index.ts";

export const MIRROR_ATTR_CODE = 245;
export const MIRROR_ATTR_FLAGS = 0xc0;
export const MIRROR_VERSION = 1;
/** Entry type of a session; other non-zero types are skipped by this receiver. */
export const MIRROR_ENTRY_SESSION = 1;
export const MIRROR_NAME_MAX = 32;

export type MirrorDirection = "both" | "from-host" | "to-host";
export type MirrorMatch = "mac" | "ip";

export interface MirrorSessionWire {
  /** 1..32 octets of [a-z0-9._-]. */
  name: string;
  /** IPv4 router-id / VTEP of the switch where the session was defined. */
  owner: string;
  /** Lower-case aa:bb:cc:dd:ee:ff. */
  hostMac: string;
  /** 1..16777215. */
  hostVni: number;
  /** IPv4. */
  hostIp?: string;
  serverMac: string;
  serverVni: number;
  serverIp?: string;
  /** 1..65535. */
  hostId: number;
  direction: MirrorDirection;
  match: MirrorMatch;
}

const DIRECTION_CODE: Record<MirrorDirection, number> = { both: 0, "from-host": 1, "to-host": 2 };
const DIRECTIONS: readonly MirrorDirection[] = ["both", "from-host", "to-host"];

const F_DIRECTION = 0x03;
const F_MATCH_IP = 0x04;
const F_HOST_IP = 0x08;
const F_SERVER_IP = 0x10;

/** Flags .. HOST ID. */
const FIXED = 1 + 4 + 6 + 3 + 6 + 3 + 2;

const NAME_RE = /^[a-z0-9._-]{1,32}$/;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function nameOctetOk(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x5f || c === 0x2d;
}

function encodeSession(s: MirrorSessionWire, i: number): Buffer {
  const what = `mirror session #${i}${typeof s?.name === "string" ? ` ${JSON.stringify(s.name)}` : ""}`;
  if (typeof s?.name !== "string" || !NAME_RE.test(s.name)) throw new BgpEncodeError(`${what}: name must be 1..${MIRROR_NAME_MAX} octets of [a-z0-9._-]`);
  const ipv4 = (field: string, v: unknown): Buffer => {
    if (typeof v !== "string" || !isIpv4(v)) throw new BgpEncodeError(`${what}: ${field} ${JSON.stringify(v)} is not an IPv4 address`);
    return ipv4ToBytes(v);
  };
  const mac = (field: string, v: unknown): Buffer => {
    if (typeof v !== "string" || !MAC_RE.test(v)) throw new BgpEncodeError(`${what}: ${field} ${JSON.stringify(v)} is not a lower-case aa:bb:cc:dd:ee:ff MAC`);
    return macToBytes(v);
  };
  const vni = (field: string, v: unknown): number => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 0xffffff) throw new BgpEncodeError(`${what}: ${field} ${String(v)} is not a VNI (1..16777215, 24 bits)`);
    return v;
  };
  if (typeof s.hostId !== "number" || !Number.isInteger(s.hostId) || s.hostId < 1 || s.hostId > 0xffff) {
    throw new BgpEncodeError(`${what}: HOST ID ${String(s.hostId)} out of range (1..65535)`);
  }
  if (!Object.hasOwn(DIRECTION_CODE, s.direction)) throw new BgpEncodeError(`${what}: direction ${JSON.stringify(s.direction)} (want both, from-host or to-host)`);
  if (s.match !== "mac" && s.match !== "ip") throw new BgpEncodeError(`${what}: match ${JSON.stringify(s.match)} (want mac or ip)`);

  const hostIp = s.hostIp !== undefined ? ipv4("host IP", s.hostIp) : undefined;
  const serverIp = s.serverIp !== undefined ? ipv4("server IP", s.serverIp) : undefined;
  const fixed = Buffer.alloc(FIXED);
  fixed[0] = DIRECTION_CODE[s.direction] | (s.match === "ip" ? F_MATCH_IP : 0) | (hostIp ? F_HOST_IP : 0) | (serverIp ? F_SERVER_IP : 0);
  ipv4("owner", s.owner).copy(fixed, 1);
  mac("host MAC", s.hostMac).copy(fixed, 5);
  fixed.writeUIntBE(vni("host VNI", s.hostVni), 11, 3);
  mac("server MAC", s.serverMac).copy(fixed, 14);
  fixed.writeUIntBE(vni("server VNI", s.serverVni), 20, 3);
  fixed.writeUInt16BE(s.hostId, 23);
  const name = Buffer.from(s.name, "latin1");
  const parts = [fixed, ...(hostIp ? [hostIp] : []), ...(serverIp ? [serverIp] : []), Buffer.from([name.length]), name];
  const len = parts.reduce((n, p) => n + p.length, 0);
  return Buffer.concat([Buffer.from([MIRROR_ENTRY_SESSION, len]), ...parts]);
}

/**
 * The attribute carrying these sessions, in the given order (nothing sorted,
 * duplicates kept). Throws BgpEncodeError for a value the format cannot carry
 * (a programming error: name, MAC, IPv4, VNI, HOST ID, direction or match out
 * of range, or more than 65535 octets in all).
 */
export function encodeMirrorSessions(list: readonly MirrorSessionWire[]): UnknownAttr {
  const parts: Buffer[] = [Buffer.from([MIRROR_VERSION])];
  list.forEach((s, i) => parts.push(encodeSession(s, i)));
  const value = Buffer.concat(parts);
  if (value.length > 0xffff) throw new BgpEncodeError(`mirror attribute of ${value.length} octets exceeds 65535 (${list.length} sessions)`);
  return { type: "unknown", code: MIRROR_ATTR_CODE, flags: MIRROR_ATTR_FLAGS, value };
}

/** `skipped`: entries of a type this receiver does not know (present only when > 0). */
export type MirrorDecode = { ok: true; sessions: MirrorSessionWire[]; skipped?: number } | { ok: false; reason: string };

/** One type-1 entry value; a string is the reason it is malformed. */
function decodeSession(b: Buffer): MirrorSessionWire | string {
  if (b.length < FIXED) return `session of ${b.length} octets is shorter than its ${FIXED} fixed octets`;
  const flags = b[0]!;
  const dir = flags & F_DIRECTION;
  if (dir === 3) return "direction code 3 is reserved";
  const hostVni = b.readUIntBE(11, 3);
  if (hostVni === 0) return "host VNI 0";
  const serverVni = b.readUIntBE(20, 3);
  if (serverVni === 0) return "server VNI 0";
  const hostId = b.readUInt16BE(23);
  if (hostId === 0) return "HOST ID 0";
  const s: MirrorSessionWire = {
    name: "",
    owner: bytesToIpv4(b.subarray(1, 5)),
    hostMac: bytesToMac(b.subarray(5, 11)),
    hostVni,
    serverMac: bytesToMac(b.subarray(14, 20)),
    serverVni,
    hostId,
    direction: DIRECTIONS[dir]!,
    match: flags & F_MATCH_IP ? "ip" : "mac",
  };
  let p = FIXED;
  if (flags & F_HOST_IP) {
    if (p + 4 > b.length) return `host IP flagged but only ${b.length - p} octets follow the fixed fields`;
    s.hostIp = bytesToIpv4(b.subarray(p, p + 4));
    p += 4;
  }
  if (flags & F_SERVER_IP) {
    if (p + 4 > b.length) return `server IP flagged but only ${b.length - p} octets are left for it`;
    s.serverIp = bytesToIpv4(b.subarray(p, p + 4));
    p += 4;
  }
  if (p >= b.length) return "no name length octet";
  const n = b[p]!;
  p += 1;
  if (n === 0) return "empty name";
  if (n > MIRROR_NAME_MAX) return `name length ${n} exceeds ${MIRROR_NAME_MAX}`;
  if (p + n > b.length) return `name of ${n} octets overruns the entry (${b.length - p} left)`;
  for (let i = 0; i < n; i++) {
    const c = b[p + i]!;
    if (!nameOctetOk(c)) return `name octet ${i} is 0x${c.toString(16).padStart(2, "0")} (want [a-z0-9._-])`;
  }
  s.name = b.toString("latin1", p, p + n);
  // Octets after the name: fields appended by a later revision, ignored.
  return s;
}

/**
 * Never throws. Allocates in proportion to the input only: every entry
 * consumes at least 2 octets, every session at least 29, and nothing is copied.
 */
export function decodeMirrorSessions(value: Buffer): MirrorDecode {
  if (value.length < 1) return { ok: false, reason: "empty mirror attribute (no version octet)" };
  if (value.length > 0xffff) return { ok: false, reason: `mirror attribute of ${value.length} octets exceeds 65535` };
  if (value[0] !== MIRROR_VERSION) return { ok: false, reason: `mirror attribute version ${value[0]} (want ${MIRROR_VERSION})` };
  const sessions: MirrorSessionWire[] = [];
  let skipped = 0;
  let off = 1;
  while (off < value.length) {
    if (value.length - off < 2) return { ok: false, reason: `mirror attribute: 1 trailing octet at offset ${off} (an entry needs a type and a length octet)` };
    const type = value[off]!;
    const len = value[off + 1]!;
    if (type === 0) return { ok: false, reason: `mirror entry at offset ${off}: type 0 is reserved` };
    if (off + 2 + len > value.length) {
      return { ok: false, reason: `mirror entry at offset ${off}: length ${len} runs past the end of the attribute (${value.length - off - 2} octets left)` };
    }
    if (type === MIRROR_ENTRY_SESSION) {
      const s = decodeSession(value.subarray(off + 2, off + 2 + len));
      if (typeof s === "string") return { ok: false, reason: `mirror entry at offset ${off}: ${s}` };
      sessions.push(s);
    } else {
      skipped++;
    }
    off += 2 + len;
  }
  return skipped > 0 ? { ok: true, sessions, skipped } : { ok: true, sessions };
}

/**
 * The value of the route's mirror attribute, if it has one: the first
 * attribute with code 245 and the Optional and Transitive bits (Partial may
 * be set by the reflectors on the way). A code-245 attribute without both
 * bits is someone else's use of the code and is not ours.
 */
export function findMirrorAttribute(attrs: readonly PathAttribute[]): Buffer | undefined {
  for (const a of attrs) {
    if (a.type === "unknown" && a.code === MIRROR_ATTR_CODE && (a.flags & MIRROR_ATTR_FLAGS) === MIRROR_ATTR_FLAGS) return a.value;
  }
  return undefined;
}
