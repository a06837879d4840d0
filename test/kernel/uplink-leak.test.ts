// What the uplink's XDP stage leaves to the kernel stays the kernel's: a VXLAN
// frame for our VTEP with an outer 802.1Q, 802.1ad or priority tag is not
// parsed by XDP (a tagged underlay is an uplink that is a VLAN device), and
// the TC stage must not decapsulate and flood it either. And an outer source
// that can never be a VTEP (0.0.0.0, multicast, our own address) is dropped
// and counted, not learned, even in a flood-and-learn VNI.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arpRequest, ETH_P_8021AD, ETH_P_8021Q, vxlanEncap, type Capture } from "../harness/index.ts";
import { bootSwitch, REMOTE_A, VTEP, type SwitchUnderTest } from "./switch-fixture.ts";

let sw: SwitchUnderTest;

beforeAll(async () => {
  // VNI 100 floods and learns (no BGP): any outer source is admitted
  sw = await bootSwitch("leak", `ports:\n  - { name: h1, vni: 100 }\n  - { name: h2, vni: 100 }\nvnis:\n  - vni: 100\n    flood: [${REMOTE_A}]\n`, [
    { name: "p1", port: "h1", mac: "02:00:00:00:c1:01", cidr: "198.51.100.1/24" },
    { name: "p2", port: "h2", mac: "02:00:00:00:c1:02", cidr: "198.51.100.2/24" },
  ]);
});

afterAll(async () => {
  await sw?.dispose();
});

const INNER_SRC = "02:00:00:00:c9:01";
const inner = (src = INNER_SRC) => arpRequest({ srcMac: src, srcIp: "198.51.100.201", targetIp: "198.51.100.250" });

function encap(o: { vlan?: { id: number; tpid?: number }[]; srcIp?: string; innerSrc?: string }): Buffer {
  return vxlanEncap({
    outer: { srcMac: sw.spineMac, dstMac: sw.uplinkMac, srcIp: o.srcIp ?? REMOTE_A, dstIp: VTEP, vlan: o.vlan },
    vni: 100,
    inner: inner(o.innerSrc),
  });
}

async function atHosts(): Promise<Capture[]> {
  return Promise.all(["p1", "p2"].map((h) => sw.captureHost(h, `ether src ${INNER_SRC} or ether src 01:00:5e:00:00:01 or ether src 00:00:00:00:00:00`)));
}

describe("the uplink's kernel path", () => {
  it("a control: the untagged frame is decapsulated and flooded to both access ports", async () => {
    const caps = await atHosts();
    const before = await sw.counters();
    await sw.sendFromSpine([encap({})]);
    await Promise.all(caps.map((c) => c.waitFor(1, 5000)));
    const got = await Promise.all(caps.map((c) => c.stop({ settleMs: 200 })));
    expect(got.map((g) => g.length)).toEqual([1, 1]);
    const after = await sw.counters();
    expect(after.flood_local_copy! - before.flood_local_copy!).toBe(2n);
  });

  it("tagged VXLAN (802.1Q, 802.1ad, priority tag, QinQ) reaches the kernel only, even with a multicast or zero inner source", async () => {
    const frames = [
      encap({ vlan: [{ id: 10 }] }),
      encap({ vlan: [{ id: 10, tpid: ETH_P_8021AD }] }),
      encap({ vlan: [{ id: 0 }] }),
      encap({ vlan: [{ id: 10, tpid: ETH_P_8021AD }, { id: 20, tpid: ETH_P_8021Q }] }),
      encap({ vlan: [{ id: 10 }], innerSrc: "01:00:5e:00:00:01" }),
      encap({ vlan: [{ id: 0 }], innerSrc: "00:00:00:00:00:00" }),
    ];
    const caps = await atHosts();
    const before = await sw.counters();
    await sw.sendFromSpine(frames);
    const got = await Promise.all(caps.map((c) => c.stop({ settleMs: 800 })));
    expect(got.map((g) => g.length)).toEqual([0, 0]);
    const after = await sw.counters();
    const d = (k: string) => after[k]! - before[k]!;
    expect(d("uplink_pass_kernel")).toBe(BigInt(frames.length));
    expect(d("flood_local_copy")).toBe(0n);
    expect(d("decap_fwd")).toBe(0n);
    expect(d("learn_new")).toBe(0n);
  });

  it("never takes 0.0.0.0, a multicast address or its own address as a VTEP: dropped, counted, not learned", async () => {
    const srcs = ["0.0.0.0", "224.0.0.5", VTEP];
    const caps = await atHosts();
    const before = await sw.counters();
    await sw.sendFromSpine(srcs.map((srcIp, i) => encap({ srcIp, innerSrc: `02:00:00:00:c8:0${i}` })));
    const got = await Promise.all(caps.map((c) => c.stop({ settleMs: 800 })));
    expect(got.map((g) => g.length)).toEqual([0, 0]);
    const after = await sw.counters();
    expect(after.drop_bad_outer_src! - before.drop_bad_outer_src!).toBe(BigInt(srcs.length));
    const fdb = await sw.api<{ mac: string }[]>("fdb");
    expect(fdb.filter((r) => r.mac.startsWith("02:00:00:00:c8:"))).toEqual([]);
  });
});
