// GoBGP as the EVPN peer of a real vxgate switch: routes injected with the
// gobgp CLI program the switch's fast path (forwarding entry, flood list,
// outer-source admission) and frames follow them on the wire; withdrawals
// take them out again; our own type-2/3 routes show up in GoBGP's RIB.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { udpFrame, vxlanEncap } from "../harness/index.ts";
import { bootSwitch, VTEP, vxlanOnly, type SwitchUnderTest } from "../kernel/switch-fixture.ts";
import { startGobgp } from "./evpn-interop.ts";
import type { FdbRow } from "../../src/control/runtime.ts";

const H1 = "02:00:00:00:00:11";
const THEIRS = "02:00:00:00:77:01";
const PEER_VTEP = "198.18.0.2";

let sw: SwitchUnderTest;
let gobgp: (...args: string[]) => Promise<string>;

interface FloodRow {
  vni: number;
  type: string;
  target: string;
}

const macadv = (op: "add" | "del") =>
  op === "add"
    ? ["global", "rib", "-a", "evpn", "add", "macadv", THEIRS, "0.0.0.0", "etag", "0", "label", "100", "rd", `${PEER_VTEP}:1`, "rt", "65000:100", "encap", "vxlan", "nexthop", PEER_VTEP]
    : ["global", "rib", "-a", "evpn", "del", "macadv", THEIRS, "0.0.0.0", "etag", "0", "label", "100", "rd", `${PEER_VTEP}:1`];
const imet = (op: "add" | "del") =>
  op === "add"
    ? ["global", "rib", "-a", "evpn", "add", "multicast", PEER_VTEP, "etag", "0", "rd", `${PEER_VTEP}:1`, "rt", "65000:100", "encap", "vxlan", "pmsi", "ingress-repl", "100", PEER_VTEP, "nexthop", PEER_VTEP]
    : ["global", "rib", "-a", "evpn", "del", "multicast", PEER_VTEP, "etag", "0", "rd", `${PEER_VTEP}:1`];

beforeAll(async () => {
  sw = await bootSwitch(
    "gobgp",
    `ports:
  - { name: h1, vni: 100 }
vnis:
  - vni: 100
bgp:
  asn: 65000
  router_id: ${VTEP}
  neighbors:
    - { address: 192.0.2.1, remote_asn: 65000 }
  evpn:
    aggregation: { window_seconds: 0 }
`,
    [{ name: "p1", port: "h1", mac: H1, cidr: "198.51.100.1/24" }],
  );
  const g = startGobgp(sw.lab, sw.spineNs, { asn: 65000, routerId: "192.0.2.1", neighbors: [{ address: "192.0.2.2", asn: 65000 }] });
  gobgp = g.cli;
  for (let i = 0; i < 120; i++) {
    if ((await sw.api<{ state: string }[]>("bgp/summary"))[0]?.state === "Established") return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("BGP session to GoBGP did not establish within 30 s");
}, 90_000);

afterAll(async () => {
  await sw?.dispose();
});

const fdbRow = async () => (await sw.api<FdbRow[]>("fdb")).find((r) => r.vni === 100 && r.mac === THEIRS);
const remoteFlood = async () => (await sw.api<FloodRow[]>("flood")).filter((r) => r.vni === 100 && r.type === "remote").map((r) => r.target);

describe("routes injected into GoBGP program the switch's fast path", () => {
  it("a type-3 route adds the VTEP to the VNI's flood list", async () => {
    await gobgp(...imet("add"));
    await expect.poll(remoteFlood, { timeout: 10_000 }).toEqual([PEER_VTEP]);
  });

  it("a type-2 route installs the MAC, and frames to it are encapsulated to the route's next hop", async () => {
    await gobgp(...macadv("add"));
    await expect.poll(fdbRow, { timeout: 10_000 }).toMatchObject({ type: "remote", source: "evpn", remote: PEER_VTEP });
    const cap = await sw.captureSpine("udp port 4789");
    const f = udpFrame({ dstMac: THEIRS, srcMac: H1, srcIp: "198.51.100.1", dstIp: "198.51.100.77", srcPort: 1, dstPort: 2, payload: Buffer.from("evpn") });
    await sw.sendFromHost("p1", [f]);
    await cap.waitFor(1, 5000);
    const pkts = vxlanOnly(await cap.stop());
    expect(pkts).toHaveLength(1);
    expect(pkts[0]!.ip!.dst).toBe(PEER_VTEP);
    expect(pkts[0]!.vxlan!.vni).toBe(100);
  });

  it("the route's VTEP is admitted as an outer source: its frames are decapsulated", async () => {
    const c = await sw.captureHost("p1");
    const inner = udpFrame({ dstMac: H1, srcMac: THEIRS, srcIp: "198.51.100.77", dstIp: "198.51.100.200", srcPort: 2, dstPort: 1, payload: Buffer.from("back") });
    await sw.sendFromSpine([vxlanEncap({ outer: { dstMac: sw.uplinkMac, srcMac: sw.spineMac, srcIp: PEER_VTEP, dstIp: VTEP }, vni: 100, inner })]);
    await c.waitFor(1, 5000);
    expect((await c.stop()).map((p) => p.raw.equals(inner))).toEqual([true]);
  });

  it("our own routes are in GoBGP's RIB: type-3 for the VNI, type-2 for the local host", async () => {
    await expect
      .poll(async () => gobgp("global", "rib", "-a", "evpn"), { timeout: 10_000 })
      .toMatch(new RegExp(`\\[type:multicast\\]\\[rd:${VTEP.replace(/\./g, "\\.")}:\\d+\\]`));
    await expect.poll(async () => gobgp("global", "rib", "-a", "evpn"), { timeout: 10_000 }).toContain(`[mac:${H1}]`);
  });

  it("withdrawals remove the forwarding entry, the flood-list entry and the admission", async () => {
    await gobgp(...macadv("del"));
    await expect.poll(fdbRow, { timeout: 10_000 }).toBeUndefined();
    await gobgp(...imet("del"));
    await expect.poll(remoteFlood, { timeout: 10_000 }).toEqual([]);
    const before = await sw.counters();
    const inner = udpFrame({ dstMac: H1, srcMac: THEIRS, srcIp: "198.51.100.77", dstIp: "198.51.100.200", srcPort: 2, dstPort: 1, payload: Buffer.from("late") });
    await sw.sendFromSpine([vxlanEncap({ outer: { dstMac: sw.uplinkMac, srcMac: sw.spineMac, srcIp: PEER_VTEP, dstIp: VTEP }, vni: 100, inner })]);
    await expect.poll(async () => (await sw.counters()).drop_spoof! - before.drop_spoof!).toBe(1n);
  });
});
