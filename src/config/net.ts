// Small address helpers shared by the config loader, codegen and the runtime.
// IPv4 addresses are handled as host-order unsigned 32-bit numbers; MACs as
// 6-byte Buffers. Parsers throw on bad input; the `...Problem` helpers return
// a short reason instead so the loader can word its own messages.

const IPV4_OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** Parse a strict dotted quad ("10.0.0.1") into a host-order u32.
 *  Rejects leading zeros ("010.0.0.1"), which some tools read as octal. */
export function parseIpv4(s: string): number {
  const n = tryParseIpv4(s);
  if (n === undefined) throw new Error(`invalid IPv4 address: ${JSON.stringify(s)}`);
  return n;
}

/** Like parseIpv4 but returns undefined instead of throwing. */
export function tryParseIpv4(s: string): number | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!IPV4_OCTET.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n >>> 0;
}

/** Format a host-order u32 as a dotted quad. */
export function formatIpv4(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new RangeError(`not a u32 IPv4 address: ${n}`);
  }
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`;
}

/** Why an IPv4 address (host order) is not usable as a unicast VTEP address,
 *  or undefined when it is. */
export function ipv4UnicastProblem(n: number): string | undefined {
  const first = n >>> 24;
  if (n === 0) return "unspecified address";
  if (first === 0) return "in 0.0.0.0/8 (this network)";
  if (first === 127) return "loopback";
  if (n === 0xffffffff) return "broadcast";
  if (first >= 224 && first <= 239) return "multicast";
  if (first >= 240) return "reserved (240.0.0.0/4)";
  return undefined;
}

export function isUnicastIpv4(n: number): boolean {
  return ipv4UnicastProblem(n) === undefined;
}

export function isLoopbackIpv4(n: number): boolean {
  return n >>> 24 === 127;
}

const MAC_COLON = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;
const MAC_DASH = /^[0-9a-fA-F]{2}(-[0-9a-fA-F]{2}){5}$/;

/** Parse "aa:bb:cc:dd:ee:ff" or "aa-bb-cc-dd-ee-ff" (either case, one
 *  separator style throughout) into a 6-byte Buffer. */
export function parseMac(s: string): Buffer {
  const b = tryParseMac(s);
  if (b === undefined) throw new Error(`invalid MAC address: ${JSON.stringify(s)}`);
  return b;
}

/** Like parseMac but returns undefined instead of throwing. */
export function tryParseMac(s: string): Buffer | undefined {
  if (!MAC_COLON.test(s) && !MAC_DASH.test(s)) return undefined;
  const b = Buffer.allocUnsafe(6);
  for (let i = 0; i < 6; i++) b[i] = parseInt(s.slice(3 * i, 3 * i + 2), 16);
  return b;
}

/** Lower-case colon form "aa:bb:cc:dd:ee:ff". */
const HEX2 = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

export function formatMac(buf: Uint8Array): string {
  if (buf.length !== 6) throw new RangeError(`MAC must be 6 bytes, got ${buf.length}`);
  return formatMacAt(buf, 0);
}

/** ASCII codes of each octet value's two lower-case hex digits: [2b] and [2b + 1]. */
export const HEX_CODES = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  HEX_CODES[2 * i] = HEX2[i]!.charCodeAt(0);
  HEX_CODES[2 * i + 1] = HEX2[i]!.charCodeAt(1);
}

/**
 * formatMac of the 6 bytes at b[at]: built in one String.fromCharCode call, a
 * flat string with no slice of the buffer (this runs per entry when a table of
 * a million MACs is read, and per route received; the string is hashed at once).
 */
export function formatMacAt(b: Uint8Array, at: number): string {
  const H = HEX_CODES;
  const a0 = 2 * b[at]!, a1 = 2 * b[at + 1]!, a2 = 2 * b[at + 2]!, a3 = 2 * b[at + 3]!, a4 = 2 * b[at + 4]!, a5 = 2 * b[at + 5]!;
  return String.fromCharCode(H[a0]!, H[a0 + 1]!, 58, H[a1]!, H[a1 + 1]!, 58, H[a2]!, H[a2 + 1]!, 58, H[a3]!, H[a3 + 1]!, 58, H[a4]!, H[a4 + 1]!, 58, H[a5]!, H[a5 + 1]!);
}

/** Why a MAC is not a usable unicast station address, or undefined when it is. */
export function macUnicastProblem(mac: Uint8Array): string | undefined {
  if (mac.length !== 6) return "not 6 bytes";
  if (mac.every((b) => b === 0xff)) return "broadcast";
  if (mac[0] & 0x01) return "multicast";
  if (mac.every((b) => b === 0)) return "all-zero";
  return undefined;
}

/** True for a 6-byte MAC that is not multicast, broadcast or all-zero.
 *  Accepts a Buffer or a string in any form parseMac takes (false if unparsable). */
export function isUnicastMac(mac: Uint8Array | string): boolean {
  const b = typeof mac === "string" ? tryParseMac(mac) : mac;
  return b !== undefined && macUnicastProblem(b) === undefined;
}
