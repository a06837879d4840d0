// bmv2 reads its ports through packet sockets: the kernel still receives
// every frame too. VXLAN to our VTEP (or replication point) address is
// bmv2's to handle; the kernel would answer it with ICMP port unreachable,
// or, for an address not its own (the replication point's), route it back
// into the underlay and loop it. An nftables rule in the switch's namespace
// drops those in prerouting, which runs after the packet sockets have their
// copy. Everything else (BGP, ARP, management) stays the kernel's.
import { execFileSync } from "node:child_process";

const TABLE = "vxgate_bmv2";

export function guardVxlan(addresses: readonly string[], udpPort: number): void {
  const rules = `table ip ${TABLE} {
  chain prerouting {
    type filter hook prerouting priority raw; policy accept;
    ip daddr { ${addresses.join(", ")} } udp dport ${udpPort} counter drop
  }
}
`;
  // replace whatever an earlier run left: delete (if there) and add in one transaction
  execFileSync("nft", ["-f", "-"], { input: `table ip ${TABLE}\ndelete table ip ${TABLE}\n${rules}`, stdio: ["pipe", "ignore", "pipe"] });
}

export function removeVxlanGuard(): void {
  try {
    execFileSync("nft", ["delete", "table", "ip", TABLE], { stdio: "ignore" });
  } catch {
    // not there
  }
}
