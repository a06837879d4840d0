// Three places where the fast path's counters could claim a forward the kernel
// then does not make, on the wire through a running switch:
//  - a veth port whose peer runs no NAPI (GRO off, no XDP program) cannot
//    transmit XDP frames: XDP_REDIRECT into it is dropped by the kernel. The
//    switch finds such ports at boot, warns, and sends their unicast through
//    TC (the skb path), so frames arrive;
//  - a frame larger than the egress port's MTU (plus the 4 bytes of a VLAN tag
//    the kernel allows, as its bridge and XDP redirect do) is not sent:
//    drop_egress_mtu, on the XDP paths and on TC's flood copies;
//  - VXLAN for our VTEP whose outer destination MAC is not the uplink's is
//    not ours (the kernel drops PACKET_OTHERHOST before IP): drop_outer_dst_mac.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arpRequest, type DecodedPacket, udpFrame, vxlanEncap } from "../harness/index.ts";
import { bootSwitch, REMOTE_A, VTEP, vxlanOnly, type SwitchUnderTest } from "./switch-fixture.ts";

const P1 = "02:00:00:00:e1:01"; // host behind h1: its eth0 has GRO off
const P2 = "02:00:00:00:e1:02"; // an ordinary host
const P3 = "02:00:00:00:e1:03"; // behind h3, whose MTU the switch side lowers to 1000
const RMAC = "02:00:00:00:e2:01"; // a host behind REMOTE_A
const WATCHED = "02:00:00:00:e2:98"; // a monitored host somewhere in the overlay
const HOST_ID = 7;
const H3_MTU = 1000;
const NOBODY_IP = "198.51.100.250";

let sw: SwitchUnderTest;

beforeAll(async () => {
  sw = await bootSwitch(
    "rough",
    `ports:
  - { name: h1, vni: 100 }
  - { name: h2, vni: 100 }
  - { name: h3, vni: 100 }
vnis:
  - vni: 100
    flood: [${REMOTE_A}]
    static_macs:
      - { mac: "${P1}", port: h1 }
      - { mac: "${P2}", port: h2 }
      - { mac: "${P3}", port: h3 }
      - { mac: "${RMAC}", remote: ${REMOTE_A} }
mirror:
  sessions:
    # only a termination entry here: copies for HOST ID ${HOST_ID} go to the server P1
    - name: watch
      host: { mac: "${WATCHED}", vni: 100 }
      server: { mac: "${P1}", vni: 100 }
      host_id: ${HOST_ID}
      direction: from-host
`,
    [
      { name: "p1", port: "h1", mac: P1, cidr: "198.51.100.1/24" },
      { name: "p2", port: "h2", mac: P2, cidr: "198.51.100.2/24" },
      { name: "p3", port: "h3", mac: P3, cidr: "198.51.100.3/24" },
    ],
    {
      beforeStart(f, name) {
        // what a host (or the underlay's router) may well look like: veth's default is GRO off
        f.lab.setGro(f.hostNs("p1"), "eth0", false);
        f.lab.setGro(f.spine, "s1", false);
        f.lab.ip(f.switchNs(name), "link", "set", "dev", "h3", "mtu", String(H3_MTU));
      },
    },
  );
});

afterAll(async () => {
  await sw?.dispose();
});

const delta = (before: Record<string, bigint>, after: Record<string, bigint>, name: string) => (after[name] ?? 0n) - (before[name] ?? 0n);

/** A UDP frame of exactly `size` bytes to `dst`, for an address nobody owns (the host's kernel stays silent). */
function frameTo(dst: string, src: string, size = 120, tag = "x"): Buffer {
  const f = udpFrame({ dstMac: dst, srcMac: src, srcIp: "198.51.100.77", dstIp: NOBODY_IP, srcPort: 7, dstPort: 9, payload: Buffer.alloc(size - 42, tag) });
  expect(f.length).toBe(size);
  return f;
}

const fromRemote = (inner: Buffer, outerDstMac = sw.uplinkMac) =>
  vxlanEncap({ outer: { dstMac: outerDstMac, srcMac: sw.spineMac, srcIp: REMOTE_A, dstIp: VTEP }, vni: 100, inner });

/** Send, then collect what each host captured (inbound, from `src` only). */
async function deliver(send: () => Promise<unknown>, src: string, want: Partial<Record<"p1" | "p2" | "p3", number>>) {
  const hosts = ["p1", "p2", "p3"] as const;
  const caps = await Promise.all(hosts.map((h) => sw.captureHost(h, `ether src ${src}`)));
  await send();
  await Promise.all(hosts.map((h, i) => (want[h] ? caps[i]!.waitFor(want[h]!, 5000) : undefined)));
  const got = await Promise.all(caps.map((c) => c.stop({ settleMs: 400 })));
  return Object.fromEntries(hosts.map((h, i) => [h, got[i]!])) as Record<"p1" | "p2" | "p3", DecodedPacket[]>;
}

describe("a port whose veth peer cannot take XDP frames (GRO off, no XDP program)", () => {
  it("is named at boot with what to run, for the access port and for the uplink", () => {
    const warns = sw.fabric
      .logOf(sw.name)
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { level: string; msg: string; port?: string; peer?: string; fix?: string })
      .filter((r) => r.level === "warn" && r.port !== undefined && /XDP/.test(r.msg));
    expect(warns.map((w) => w.port).sort()).toEqual(["eth0", "h1"]);
    for (const w of warns) expect(w.fix).toMatch(/ethtool -K (eth0|s1) gro on/);
  });

  it("decapsulated frames for its host arrive, through TC, and are counted once", async () => {
    const inner = frameTo(P1, "02:00:00:00:e2:11");
    const before = await sw.counters();
    const got = await deliver(() => sw.sendFromSpine([fromRemote(inner)]), "02:00:00:00:e2:11", { p1: 1 });
    expect(got.p1.map((p) => p.raw.toString("hex"))).toEqual([inner.toString("hex")]);
    expect(got.p2).toHaveLength(0);
    expect(got.p3).toHaveLength(0);
    const after = await sw.counters();
    expect(delta(before, after, "decap_fwd")).toBe(1n);
    expect(delta(before, after, "egress_via_tc")).toBe(1n);
    expect(delta(before, after, "bum_to_tc")).toBe(0n);
    expect(delta(before, after, "flood_local_copy")).toBe(0n);
  });

  it("a port whose peer has NAPI still takes them straight from XDP", async () => {
    const inner = frameTo(P2, "02:00:00:00:e2:12");
    const before = await sw.counters();
    const got = await deliver(() => sw.sendFromSpine([fromRemote(inner)]), "02:00:00:00:e2:12", { p2: 1 });
    expect(got.p2.map((p) => p.raw.toString("hex"))).toEqual([inner.toString("hex")]);
    expect(got.p1).toHaveLength(0);
    const after = await sw.counters();
    expect(delta(before, after, "decap_fwd")).toBe(1n);
    expect(delta(before, after, "egress_via_tc")).toBe(0n);
  });

  it("locally switched frames for its host arrive", async () => {
    const f = frameTo(P1, P2);
    const before = await sw.counters();
    const got = await deliver(() => sw.sendFromHost("p2", [f]), P2, { p1: 1 });
    expect(got.p1.map((p) => p.raw.toString("hex"))).toEqual([f.toString("hex")]);
    expect(got.p3).toHaveLength(0);
    const after = await sw.counters();
    expect(delta(before, after, "local_fwd")).toBe(1n);
    expect(delta(before, after, "egress_via_tc")).toBe(1n);
  });

  it("mirror copies for a monitoring server behind it arrive", async () => {
    const inner = frameTo("02:00:00:00:e2:41", WATCHED, 150);
    const copy = vxlanEncap({ outer: { dstMac: sw.uplinkMac, srcMac: sw.spineMac, srcIp: REMOTE_A, dstIp: VTEP }, vni: 100, gbp: HOST_ID, inner });
    const before = await sw.counters();
    const got = await deliver(() => sw.sendFromSpine([copy]), WATCHED, { p1: 1 });
    expect(got.p1.map((p) => p.raw.toString("hex"))).toEqual([inner.toString("hex")]);
    expect(got.p2).toHaveLength(0);
    const after = await sw.counters();
    expect(delta(before, after, "mirror_terminated")).toBe(1n);
    expect(delta(before, after, "egress_via_tc")).toBe(1n);
  });

  it("frames encapsulated out of an uplink whose peer has GRO off arrive at the spine", async () => {
    const f = frameTo(RMAC, P2);
    const before = await sw.counters();
    const cap = await sw.captureSpine("udp port 4789");
    await sw.sendFromHost("p2", [f]);
    await cap.waitFor(1, 5000);
    const pkts = vxlanOnly(await cap.stop({ settleMs: 300 }));
    expect(pkts).toHaveLength(1);
    expect(pkts[0]!.ip).toMatchObject({ src: VTEP, dst: REMOTE_A });
    expect(pkts[0]!.raw.subarray(50).equals(f)).toBe(true);
    const after = await sw.counters();
    expect(delta(before, after, "encap_fwd")).toBe(1n);
    expect(delta(before, after, "egress_via_tc")).toBe(1n);
  });
});

describe("frames larger than the egress port's MTU", () => {
  // the kernel sends up to MTU + Ethernet header + one VLAN tag's 4 bytes
  const fits = H3_MTU + 18;

  it("decapsulated: the largest frame the port takes arrives, one byte more is counted drop_egress_mtu, not decap_fwd", async () => {
    const ok = frameTo(P3, "02:00:00:00:e2:21", fits, "a");
    const big = frameTo(P3, "02:00:00:00:e2:21", fits + 1, "b");
    const huge = frameTo(P3, "02:00:00:00:e2:21", 1200, "c");
    const before = await sw.counters();
    const got = await deliver(() => sw.sendFromSpine([fromRemote(big), fromRemote(huge), fromRemote(ok)]), "02:00:00:00:e2:21", { p3: 1 });
    expect(got.p3.map((p) => p.raw.length)).toEqual([fits]);
    const after = await sw.counters();
    expect(delta(before, after, "drop_egress_mtu")).toBe(2n);
    expect(delta(before, after, "decap_fwd")).toBe(1n);
  });

  it("switched locally: counted drop_egress_mtu, not local_fwd", async () => {
    const big = frameTo(P3, P2, 1200);
    const ok = frameTo(P3, P2, fits, "o");
    const before = await sw.counters();
    const got = await deliver(() => sw.sendFromHost("p2", [big, ok]), P2, { p3: 1 });
    expect(got.p3.map((p) => p.raw.length)).toEqual([fits]);
    const after = await sw.counters();
    expect(delta(before, after, "drop_egress_mtu")).toBe(1n);
    expect(delta(before, after, "local_fwd")).toBe(1n);
  });

  it("flooded: the port that cannot take the copy is skipped and counted, the others get theirs", async () => {
    const src = "02:00:00:00:e1:22";
    // a broadcast 1200 bytes long: an ARP request with a long tail
    const arp = arpRequest({ srcMac: src, srcIp: "198.51.100.22", targetIp: NOBODY_IP });
    const frame = Buffer.concat([arp, Buffer.alloc(1200 - arp.length)]);
    const before = await sw.counters();
    const got = await deliver(() => sw.sendFromHost("p2", [frame]), src, { p1: 1 });
    expect(got.p1.map((p) => p.raw.length)).toEqual([1200]);
    expect(got.p3).toHaveLength(0);
    const after = await sw.counters();
    expect(delta(before, after, "drop_egress_mtu")).toBe(1n);
    expect(delta(before, after, "flood_local_copy")).toBe(1n);
  });
});

describe("VXLAN for our VTEP with an outer destination MAC that is not the uplink's", () => {
  it("is dropped and counted drop_outer_dst_mac; the uplink's own MAC still decapsulates", async () => {
    const src = "02:00:00:00:e2:31";
    const inner = frameTo(P2, src);
    const bad = ["02:00:00:00:99:99", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01"].map((m) => fromRemote(inner, m));
    const control = frameTo(P2, src, 130, "c");
    const before = await sw.counters();
    const got = await deliver(() => sw.sendFromSpine([...bad, fromRemote(control)]), src, { p2: 1 });
    expect(got.p2.map((p) => p.raw.toString("hex"))).toEqual([control.toString("hex")]);
    const after = await sw.counters();
    expect(delta(before, after, "drop_outer_dst_mac")).toBe(3n);
    expect(delta(before, after, "decap_fwd")).toBe(1n);
    expect(delta(before, after, "uplink_rx")).toBe(4n);
  });
});

describe("a restarted switch checks its ports again", () => {
  // last: it restarts the control plane
  it("once the peer has GRO on, frames for it go straight from XDP", async () => {
    sw.lab.setGro(sw.hostNs("p1"), "eth0", true);
    const logBefore = sw.fabric.logOf(sw.name).length;
    await sw.fabric.kill(sw.name, "SIGTERM");
    await sw.fabric.start(sw.name);
    const warned = sw.fabric
      .logOf(sw.name)
      .slice(logBefore)
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { level: string; msg: string; port?: string; adopted?: boolean });
    expect(warned.some((r) => /adopted pinned fast path/.test(r.msg))).toBe(true);
    expect(warned.filter((r) => r.level === "warn" && /XDP/.test(r.msg)).map((r) => r.port)).toEqual(["eth0"]);
    const inner = frameTo(P1, "02:00:00:00:e2:51");
    const before = await sw.counters();
    const got = await deliver(() => sw.sendFromSpine([fromRemote(inner)]), "02:00:00:00:e2:51", { p1: 1 });
    expect(got.p1.map((p) => p.raw.toString("hex"))).toEqual([inner.toString("hex")]);
    const after = await sw.counters();
    expect(delta(before, after, "decap_fwd")).toBe(1n);
    expect(delta(before, after, "egress_via_tc")).toBe(0n);
  });
});
