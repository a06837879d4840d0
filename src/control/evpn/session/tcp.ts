// Sockets for BGP sessions that node:net cannot configure: TCP-MD5 (RFC 2385)
// and GTSM (RFC 5082) need setsockopt(TCP_MD5SIG / IP_TTL / IP_MINTTL)
// before the SYN, so the native addon (libbpf-ts-bindings, native/lib/
// socket.ts) creates the socket and Node takes over its fd:
//
//   outgoing: tcpSocket() -> net.Socket({ fd }) not yet connected; the
//     session calls connect() on it, so libuv does the non-blocking connect
//     (and its 'connect', errors and timeouts) exactly as for a plain socket.
//   listener: tcpListenerFd() -> a bound, listening fd with every keyed
//     neighbor's password, for net.Server.listen({ fd }); accepted
//     connections inherit the keys, the TTL and the minimum TTL.
//
// The addon is imported on first use only (sessions without either setting
// never load it). The kernel drops a segment with a wrong, missing or
// unexpected signature, or below the minimum TTL, without a trace on the
// socket: all a session sees is a connection that never comes up. The
// TcpExt counters of the network namespace (/proc/net/netstat) are what tells
// why, so connect failures quote how they moved (dropHint).

import { readFileSync } from "node:fs";

type Native = typeof import("libbpf-ts-bindings");

/** The TTL GTSM sends with (RFC 5082 §3). */
export const GTSM_TTL = 255;
/** The lowest TTL accepted from a peer `hops` away (FRR's `ttl-security hops N`). */
export function gtsmMinTtl(hops: number): number {
  return 256 - hops;
}

let native: Native | undefined;
let loading: Promise<Native> | undefined;

/** Loads the native socket support (once). Rejects when the addon is not built. */
export function loadNativeSockets(): Promise<Native> {
  loading ??= import("libbpf-ts-bindings").then(
    (m) => (native = m),
    (e: Error) => {
      throw new Error(`TCP-MD5 and GTSM need the native addon (npm run build): ${e.message}`);
    },
  );
  return loading;
}

/** The native socket support if loaded (loadNativeSockets). */
export function nativeSockets(): Native | undefined {
  return native;
}

/** Does a neighbor need a socket from the addon? */
export function needsNativeSocket(p: { md5Password?: string; ttlSecurity?: number }): boolean {
  return p.md5Password !== undefined || p.ttlSecurity !== undefined;
}

// ------------------------------------------------------------------ counters

const COUNTERS = {
  TCPMD5Failure: "with a wrong TCP-MD5 signature (the passwords differ)",
  TCPMD5NotFound: "without the TCP-MD5 signature we have a password for (none configured on the peer?)",
  TCPMD5Unexpected: "signed with TCP-MD5 from a peer we have no password for",
  TCPMinTTLDrop: "below a GTSM minimum TTL (the peer is more hops away, or does not send with TTL 255)",
} as const;
export type DropCounters = Record<keyof typeof COUNTERS, number>;

/** This network namespace's TcpExt counters of segments TCP-MD5 and GTSM dropped (undefined if unreadable). */
export function tcpDropCounters(path = "/proc/net/netstat"): DropCounters | undefined {
  try {
    return parseDropCounters(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}

/** The drop counters in the text of /proc/net/netstat ("TcpExt:" names line, then values line). */
export function parseDropCounters(text: string): DropCounters | undefined {
  const lines = text.split("\n");
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.startsWith("TcpExt:") || !lines[i + 1]!.startsWith("TcpExt:")) continue;
    const names = lines[i]!.trim().split(/\s+/);
    const values = lines[i + 1]!.trim().split(/\s+/);
    const out = {} as DropCounters;
    for (const k of Object.keys(COUNTERS) as (keyof DropCounters)[]) {
      const at = names.indexOf(k);
      out[k] = at > 0 ? Number(values[at]) || 0 : 0;
    }
    return out;
  }
  return undefined;
}

/**
 * Why a connection may not have come up, from the movement since `before` of
 * the counters this session's segments can move (namespace-wide: another peer
 * may have moved them too) and the session's settings; "" when there is
 * nothing to say.
 */
export function dropHint(before: DropCounters | undefined, after: DropCounters | undefined, sec: { md5Password?: string; ttlSecurity?: number }): string {
  // only counters a drop of this session's segments can move
  const relevant: (keyof DropCounters)[] = [
    ...(sec.md5Password !== undefined ? (["TCPMD5Failure", "TCPMD5NotFound"] as const) : (["TCPMD5Unexpected"] as const)),
    ...(sec.ttlSecurity !== undefined ? (["TCPMinTTLDrop"] as const) : []),
  ];
  const moved = (k: keyof DropCounters) => (before && after ? after[k] - before[k] : 0);
  const parts: string[] = [];
  for (const k of relevant) {
    const d = moved(k);
    if (d > 0) parts.push(`${d} segment${d === 1 ? "" : "s"} ${COUNTERS[k]} (TcpExt ${k})`);
  }
  const notes = parts.length ? [`the kernel dropped meanwhile: ${parts.join(", ")}`] : [];
  if (sec.md5Password !== undefined && moved("TCPMD5Failure") + moved("TCPMD5NotFound") === 0) notes.push("TCP-MD5: a peer with another password, or none, drops our SYN without an answer");
  if (sec.ttlSecurity !== undefined && moved("TCPMinTTLDrop") === 0) notes.push(`GTSM: the peer must send with TTL 255 from at most ${sec.ttlSecurity} hop${sec.ttlSecurity === 1 ? "" : "s"} away`);
  return notes.length ? `; ${notes.join("; ")}` : "";
}
