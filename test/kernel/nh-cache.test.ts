// The encap's outer next hop comes from a per-VTEP cache of the kernel's FIB
// answer (vxg_vtep_nh). The kernel stays the source of truth: a changed
// neighbour or route is on the wire with the next frame, and the route's MTU
// is enforced from the cache as the FIB enforces it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { udpFrame } from "../harness/index.ts";
import { bootSwitch, REMOTE_A, vxlanOnly, type SwitchUnderTest } from "./switch-fixture.ts";

const H1 = "02:00:00:00:00:11";
const REMOTE_HOST = "02:00:00:00:aa:01";
const NEXT_HOP = "192.0.2.1";
const OTHER_NEXT_HOP_MAC = "02:00:00:00:ee:01";

let sw: SwitchUnderTest;
let swNs: string;

beforeAll(async () => {
  sw = await bootSwitch(
    "nhcache",
    `ports:
  - { name: h1, vni: 100 }
vnis:
  - vni: 100
    learning: false
    flood: [${REMOTE_A}]
    static_macs:
      - { mac: "${REMOTE_HOST}", remote: ${REMOTE_A} }
`,
    [{ name: "p1", port: "h1", mac: H1, cidr: "198.51.100.1/24" }],
  );
  swNs = sw.fabric.switchNs(sw.name);
});

afterAll(async () => {
  await sw?.dispose();
});

/** entries of the switch's next-hop cache, as bpftool reads the pinned map */
function cached(): number {
  const out = execFileSync("bpftool", ["-j", "map", "dump", "pinned", `/sys/fs/bpf/vxgate/${sw.name}/maps/vxg_vtep_nh`], { encoding: "utf8" });
  return (JSON.parse(out) as unknown[]).length;
}

async function until(what: string, ok: () => boolean, ms = 3000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (ok()) return;
  throw new Error(`not within ${ms} ms: ${what}`);
}

const frame = (i: number, size = 60) =>
  udpFrame({ dstMac: REMOTE_HOST, srcMac: H1, srcIp: "198.51.100.1", dstIp: "198.51.100.200", srcPort: 1000 + i, dstPort: 7, payload: Buffer.alloc(Math.max(0, size - 42), i) });

/** send `n` frames from h1 and return the outer destination MACs seen at the spine */
async function encapDestinations(n: number): Promise<string[]> {
  const cap = await sw.captureSpine("udp port 4789");
  await sw.sendFromHost("p1", Array.from({ length: n }, (_, i) => frame(i)));
  await cap.waitFor(n, 5000);
  return vxlanOnly(await cap.stop()).map((p) => p.eth!.dst);
}

describe("the encap's next-hop cache", () => {
  it("holds the remote VTEP's next hop after the first frame", async () => {
    expect(await encapDestinations(4)).toEqual(Array(4).fill(sw.spineMac));
    expect(cached()).toBe(1);
  });

  it("follows a neighbour change: emptied when the kernel's entry changes, the next frame carries the new MAC", async () => {
    sw.lab.exec(swNs, "ip", ["neigh", "replace", NEXT_HOP, "lladdr", OTHER_NEXT_HOP_MAC, "dev", "eth0", "nud", "permanent"]);
    // well inside the cache's own expiry (1 s): the sweep is what empties it
    await until("the cache is emptied", () => cached() === 0, 500);
    const seen = await encapDestinations(4);
    expect(seen).toEqual(Array(4).fill(OTHER_NEXT_HOP_MAC));
    // and back
    sw.lab.exec(swNs, "ip", ["neigh", "replace", NEXT_HOP, "lladdr", sw.spineMac, "dev", "eth0", "nud", "permanent"]);
    await until("the cache is emptied", () => cached() === 0, 500);
    expect(await encapDestinations(2)).toEqual(Array(2).fill(sw.spineMac));
  });

  it("enforces the route's MTU from the cache as the FIB does", async () => {
    // a route MTU the FIB applies to forwarded packets is a locked one (ip_mtu_from_fib_result)
    sw.lab.exec(swNs, "ip", ["route", "replace", `${REMOTE_A}/32`, "via", NEXT_HOP, "dev", "eth0", "mtu", "lock", "1000"]);
    try {
      await until("the cache is emptied", () => cached() === 0, 500);
      const before = await sw.counters();
      const cap = await sw.captureSpine("udp port 4789");
      // 951 + 50 = 1001 octets of outer packet: one too many; the first asks
      // the FIB (and fills the cache), the second and third are answered by it
      const big = [frame(1, 951 + 14), frame(2, 951 + 14), frame(3, 951 + 14)];
      const fits = [frame(4, 950 + 14), frame(5, 950 + 14)];
      await sw.sendFromHost("p1", [...big, ...fits]);
      await cap.waitFor(2, 5000);
      await new Promise((r) => setTimeout(r, 200));
      const pkts = vxlanOnly(await cap.stop());
      expect(pkts.map((p) => p.len)).toEqual([1014, 1014]);
      const after = await sw.counters();
      expect(after.drop_mtu! - before.drop_mtu!).toBe(3n);
      expect(cached()).toBe(1);
    } finally {
      sw.lab.exec(swNs, "ip", ["route", "del", `${REMOTE_A}/32`]);
    }
  });
});
