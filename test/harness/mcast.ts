// Multicast test hosts: kernels that join groups with a socket (they send the
// IGMP reports, answer queries, and leave when the socket closes), and
// datagrams addressed to a group as a sender puts them on the wire.
import type { ChildProcess } from "node:child_process";
import type { Lab } from "./netns.ts";
import { udpFrame } from "./packets.ts";

/** The multicast timers the snooping tests run with: queries every 2 s, a
 * group membership interval of 5 s, a last-member time of 0.4 s. */
export const FAST_IGMP_TIMERS = `  query_interval: 2
  query_response_interval: 1
  last_member_query_interval: 0.2
  last_member_query_count: 2`;

const JOINER = `import socket,sys,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP,socket.IP_ADD_MEMBERSHIP,socket.inet_aton(sys.argv[1])+socket.inet_aton(sys.argv[2]))
print("joined",flush=True)
time.sleep(600)`;

/** Group memberships held by sockets in host namespaces, by a caller's key. */
export class Joiners {
  private readonly procs = new Map<string, ChildProcess>();

  constructor(private readonly lab: Lab) {}

  /** Resolves once the socket is a member (the kernel has sent its report). */
  async join(key: string, ns: string, group: string, localIp: string): Promise<void> {
    const p = this.lab.spawn(ns, "python3", ["-c", JOINER, group, localIp], { stdio: "pipe" });
    this.procs.set(key, p);
    await new Promise<void>((ok, fail) => {
      p.stdout!.once("data", () => ok());
      p.once("exit", (c) => fail(new Error(`joiner ${key} exited ${c}`)));
    });
  }

  /** Close the socket: the kernel sends the leave. */
  async leave(key: string): Promise<void> {
    const p = this.procs.get(key);
    if (!p) throw new Error(`no membership ${key}`);
    this.procs.delete(key);
    await new Promise<void>((ok) => {
      p.once("exit", () => ok());
      p.kill("SIGTERM");
    });
  }

  killAll(): void {
    for (const p of this.procs.values()) p.kill("SIGKILL");
    this.procs.clear();
  }
}

/** The Ethernet address of an IPv4 group (01:00:5e + its low 23 bits). */
export function groupMac(group: string): string {
  const g = group.split(".").map(Number);
  return `01:00:5e:${[g[1]! & 0x7f, g[2]!, g[3]!].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
}

/** One UDP datagram from a host to a group, marked "GROUP #i" so captures can pick it out. */
export function groupDatagram(from: { mac: string; ip: string }, group: string, port: number, i: number): Buffer {
  return udpFrame({ srcMac: from.mac, dstMac: groupMac(group), srcIp: from.ip, dstIp: group, srcPort: 40000, dstPort: port, payload: Buffer.from(`${group} #${i}`) });
}
