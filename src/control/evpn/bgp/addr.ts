// Textual <-> binary forms of the addresses carried by BGP EVPN:
// IPv4 (dotted quad), IPv6 (RFC 5952 canonical text on output), MAC
// (lower-case "aa:bb:cc:dd:ee:ff") and Ethernet Segment Identifiers
// (10 octets, same colon-hex form).
//
// Decoders always produce canonical text, so decode(encode(x)) deep-equals x
// whenever x uses the canonical text forms.

import { BgpEncodeError } from './errors.ts';

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(s: string): boolean {
  return IPV4_RE.test(s);
}

export function ipv4ToBytes(s: string): Buffer {
  if (!IPV4_RE.test(s)) throw new BgpEncodeError(`not an IPv4 address: ${JSON.stringify(s)}`);
  return Buffer.from(s.split('.').map(Number));
}

export function bytesToIpv4(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** Parses IPv6 text (with "::" and an optional dotted IPv4 tail); undefined when invalid. */
function parseIpv6(s: string): Buffer | undefined {
  if (s.length === 0 || s.length > 45) return undefined;
  let text = s;
  const lastColon = s.lastIndexOf(':');
  if (lastColon >= 0 && s.slice(lastColon + 1).includes('.')) {
    // Dotted IPv4 tail ("::ffff:192.0.2.1"): rewrite it as two hex groups.
    const v4 = s.slice(lastColon + 1);
    if (!IPV4_RE.test(v4)) return undefined;
    const q = v4.split('.').map(Number);
    text = `${s.slice(0, lastColon + 1)}${((q[0]! << 8) | q[1]!).toString(16)}:${((q[2]! << 8) | q[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (h: string): number[] | undefined => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parseGroups(halves[0]!);
  if (!head) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const back = parseGroups(halves[1]!);
    if (!back) return undefined;
    const fill = 8 - head.length - back.length;
    if (fill < 1) return undefined;
    groups = [...head, ...new Array<number>(fill).fill(0), ...back];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
}

export function isIpv6(s: string): boolean {
  return parseIpv6(s) !== undefined;
}

export function ipv6ToBytes(s: string): Buffer {
  const b = parseIpv6(s);
  if (!b) throw new BgpEncodeError(`not an IPv6 address: ${JSON.stringify(s)}`);
  return b;
}

/** RFC 5952 §4 canonical text: lower case, no leading zeros, longest run (>1) of zero groups as "::". */
export function bytesToIpv6(b: Buffer): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[i * 2]! << 8) | b[i * 2 + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestLen < 2) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/** IPv4 or IPv6 text to 4 or 16 octets. */
export function ipToBytes(s: string): Buffer {
  if (IPV4_RE.test(s)) return ipv4ToBytes(s);
  const b = parseIpv6(s);
  if (!b) throw new BgpEncodeError(`not an IP address: ${JSON.stringify(s)}`);
  return b;
}

/** 4 or 16 octets to text. Caller guarantees the length. */
export function bytesToIp(b: Buffer): string {
  return b.length === 4 ? bytesToIpv4(b) : bytesToIpv6(b);
}

function colonHexToBytes(s: string, n: number, what: string): Buffer {
  const parts = s.split(':');
  if (parts.length !== n || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw new BgpEncodeError(`not a ${what}: ${JSON.stringify(s)}`);
  }
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

function bytesToColonHex(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** "00:11:22:33:44:55" (either case) to 6 octets. */
export function macToBytes(s: string): Buffer {
  return colonHexToBytes(s, 6, 'MAC address');
}

export function bytesToMac(b: Buffer): string {
  return bytesToColonHex(b);
}

/** The all-zero ESI of single-homed attachments (RFC 7432 §5). */
export const ESI_ZERO = '00:00:00:00:00:00:00:00:00:00';

/** Ethernet Segment Identifier (RFC 7432 §5): 10 octets in colon-hex form. */
export function esiToBytes(s: string): Buffer {
  return colonHexToBytes(s, 10, 'ESI');
}

export function bytesToEsi(b: Buffer): string {
  return bytesToColonHex(b);
}
