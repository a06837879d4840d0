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
  return `${HEX2[buf[0]!]}:${HEX2[buf[1]!]}:${HEX2[buf[2]!]}:${HEX2[buf[3]!]}:${HEX2[buf[4]!]}:${HEX2[buf[5]!]}`;
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
