// What the switch refuses to switch, through the real XDP programs: overlay
// admission (unknown VNI, VTEP allow list of a static/EVPN VNI, VXLAN without
// the I flag, inner VLAN tags), access admission (unmapped VLANs, invalid
// source MACs), and that the uplink still hands non-VXLAN traffic to the
// kernel. Every refusal is checked on the far side of the wire with a sentinel:
// a good frame sent after the bad ones over the same path, whose arrival shows
// the bad ones had their chance to arrive too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arpRequest, type Capture, type DecodedPacket, ETH_P_8021Q, ping, udpFrame, vxlanEncap } from "../harness/index.ts";
import { bootSwitch, REMOTE_A, REMOTE_B, VTEP, vxlanOnly, type SwitchUnderTest } from "./switch-fixture.ts";

const H1 = "02:00:00:00:02:01";
const UNKNOWN_VTEP = "198.18.0.66";
const FAR_STATIC = "02:00:00:00:aa:02"; // static MAC behind REMOTE_B: makes REMOTE_B a known VTEP of VNI 100
const NOBODY_IP = "198.51.100.250";

let sw: SwitchUnderTest;

beforeAll(async () => {
  sw = await bootSwitch(
    "admit",
    `ports:
  - { name: h1, vni: 100 }
  - { name: h2, vni: 200 }
  - { name: h3, vni: 200 }
  - name: t1
    vlans: { 10: 100 }
vnis:
  - vni: 100
    learning: false
    flood: [${REMOTE_A}]
    static_macs:
      - { mac: "${H1}", port: h1 }
      - { mac: "${FAR_STATIC}", remote: ${REMOTE_B} }
  - vni: 200
    flood: [${REMOTE_A}]
`,
    [
      { name: "p1", port: "h1", mac: H1, cidr: "198.51.100.1/24" },
      { name: "p2", port: "h2", mac: "02:00:00:00:02:02", cidr: "203.0.113.2/24" },
      { name: "p3", port: "h3", mac: "02:00:00:00:02:03", cidr: "203.0.113.3/24" },
      { name: "pt", port: "t1", mac: "02:00:00:00:02:0f", cidr: "192.168.77.1/24" },
    ],
  );
});

afterAll(async () => {
  await sw?.dispose();
});

const HOSTS = ["p1", "p2", "p3", "pt"] as const;
type Host = (typeof HOSTS)[number];
type Where = Host | "spine";

const delta = (before: Record<string, bigint>, after: Record<string, bigint>, name: string) => after[name]! - before[name]!;

function withTag(frame: Buffer, vlan: number, pcp = 0): Buffer {
  const tag = Buffer.alloc(4);
  tag.writeUInt16BE(ETH_P_8021Q, 0);
  tag.writeUInt16BE((pcp << 13) | vlan, 2);
  return Buffer.concat([frame.subarray(0, 12), tag, frame.subarray(12)]);
}

function fromVtep(inner: Buffer, o: { vni: number; src: string; flags?: number }): Buffer {
  return vxlanEncap({ outer: { dstMac: sw.uplinkMac, srcMac: sw.spineMac, srcIp: o.src, dstIp: VTEP }, vni: o.vni, flags: o.flags, inner });
}

/** Inbound captures on every host limited to frames from `srcMac`, and the spine's VXLAN. */
async function captureAll(srcMac: string): Promise<Record<Where, Capture>> {
  const caps = await Promise.all([...HOSTS.map((h) => sw.captureHost(h, `ether src ${srcMac}`)), sw.captureSpine("udp port 4789")]);
  return Object.fromEntries([...HOSTS, "spine"].map((h, i) => [h, caps[i]!])) as Record<Where, Capture>;
}

/** Waits for the sentinel's copies, listens a little longer everywhere, stops and decodes. */
async function collect(caps: Record<Where, Capture>, want: Partial<Record<Where, number>>, settleMs = 300): Promise<Record<Where, DecodedPacket[]>> {
  await Promise.all(Object.entries(want).map(([k, n]) => caps[k as Where].waitFor(n!, 5000)));
  await new Promise((r) => setTimeout(r, settleMs));
  const names = Object.keys(caps) as Where[];
  const got = await Promise.all(names.map((k) => caps[k].stop()));
  return Object.fromEntries(names.map((k, i) => [k, got[i]!])) as Record<Where, DecodedPacket[]>;
}

const fdbMacs = async () => (await sw.api<{ vni: number; mac: string }[]>("fdb")).map((r) => `${r.vni}/${r.mac}`);

describe("overlay admission", () => {
  it("drops VXLAN for a static VNI from a VTEP that is neither in its flood list nor a static MAC's next hop", async () => {
    const src = "02:00:00:00:c0:01";
    const unicast = udpFrame({ dstMac: H1, srcMac: src, srcIp: "198.51.100.31", dstIp: NOBODY_IP, srcPort: 1, dstPort: 9, payload: Buffer.from("spoofed") });
    const bcast = arpRequest({ srcMac: src, srcIp: "198.51.100.31", targetIp: NOBODY_IP });
    const sentinel = udpFrame({ dstMac: H1, srcMac: src, srcIp: "198.51.100.31", dstIp: NOBODY_IP, srcPort: 1, dstPort: 9, payload: Buffer.from("sentinel") });
    const before = await sw.counters();
    const caps = await captureAll(src);
    await sw.sendFromSpine([fromVtep(unicast, { vni: 100, src: UNKNOWN_VTEP }), fromVtep(bcast, { vni: 100, src: UNKNOWN_VTEP })]);
    await sw.sendFromSpine([fromVtep(sentinel, { vni: 100, src: REMOTE_A })]);
    const got = await collect(caps, { p1: 1 });
    expect(got.p1.map((p) => p.raw.equals(sentinel))).toEqual([true]);
    expect(got.pt).toHaveLength(0); // the broadcast would have been copied here, tagged VLAN 10
    expect(vxlanOnly(got.spine)).toHaveLength(0);
    const after = await sw.counters();
    expect(delta(before, after, "drop_spoof")).toBe(2n);
    expect(delta(before, after, "decap_fwd")).toBe(1n);
    expect(delta(before, after, "bum_to_tc")).toBe(0n);
    expect(delta(before, after, "flood_local_copy")).toBe(0n);
  });

  it("delivers the same from a VTEP in the flood list, unicast and broadcast", async () => {
    const src = "02:00:00:00:c0:02";
    const unicast = udpFrame({ dstMac: H1, srcMac: src, srcIp: "198.51.100.32", dstIp: NOBODY_IP, srcPort: 1, dstPort: 9, payload: Buffer.from("listed") });
    const bcast = arpRequest({ srcMac: src, srcIp: "198.51.100.32", targetIp: NOBODY_IP });
    const before = await sw.counters();
    const caps = await captureAll(src);
    await sw.sendFromSpine([fromVtep(unicast, { vni: 100, src: REMOTE_A }), fromVtep(bcast, { vni: 100, src: REMOTE_A })]);
    const got = await collect(caps, { p1: 2, pt: 1 });
    expect(got.p1).toHaveLength(2);
    expect(got.p1.some((p) => p.raw.equals(unicast))).toBe(true);
    expect(got.p1.some((p) => p.raw.equals(bcast))).toBe(true);
    expect(got.pt.map((p) => p.raw.equals(withTag(bcast, 10)))).toEqual([true]);
    expect(got.p2).toHaveLength(0);
    expect(got.p3).toHaveLength(0);
    expect(vxlanOnly(got.spine)).toHaveLength(0);
    const after = await sw.counters();
    expect(delta(before, after, "drop_spoof")).toBe(0n);
    expect(delta(before, after, "decap_fwd")).toBe(1n);
    expect(delta(before, after, "flood_local_copy")).toBe(2n);
    // learning: false: the overlay source is not learned
    expect(await fdbMacs()).not.toContain(`100/${src}`);
  });

  it("delivers from a VTEP that is only the next hop of a static MAC", async () => {
    const src = "02:00:00:00:c0:03";
    const unicast = udpFrame({ dstMac: H1, srcMac: src, srcIp: "198.51.100.33", dstIp: NOBODY_IP, srcPort: 1, dstPort: 9, payload: Buffer.from("static nh") });
    const before = await sw.counters();
    const caps = await captureAll(src);
    await sw.sendFromSpine([fromVtep(unicast, { vni: 100, src: REMOTE_B })]);
    const got = await collect(caps, { p1: 1 });
    expect(got.p1.map((p) => p.raw.equals(unicast))).toEqual([true]);
    const after = await sw.counters();
    expect(delta(before, after, "drop_spoof")).toBe(0n);
    expect(delta(before, after, "decap_fwd")).toBe(1n);
  });

  it("drops VXLAN for a VNI it does not serve (drop_unknown_vni)", async () => {
    const src = "02:00:00:00:c0:04";
    const unicast = udpFrame({ dstMac: H1, srcMac: src, srcIp: "198.51.100.34", dstIp: NOBODY_IP, srcPort: 1, dstPort: 9, payload: Buffer.from("vni 999") });
    const bcast = arpRequest({ srcMac: src, srcIp: "198.51.100.34", targetIp: NOBODY_IP });
    const sentinel = udpFrame({ dstMac: H1, srcMac: src, srcIp: "198.51.100.34", dstIp: NOBODY_IP, srcPort: 1, dstPort: 9, payload: Buffer.from("sentinel") });
    const before = await sw.counters();
    const caps = await captureAll(src);
    await sw.sendFromSpine([fromVtep(unicast, { vni: 999, src: REMOTE_A }), fromVtep(bcast, { vni: 999, src: REMOTE_A })]);
    await sw.sendFromSpine([fromVtep(sentinel, { vni: 100, src: REMOTE_A })]);
    const got = await collect(caps, { p1: 1 });
    expect(got.p1.map((p) => p.raw.equals(sentinel))).toEqual([true]);
    for (const h of ["p2", "p3", "pt"] as const) expect(got[h], h).toHaveLength(0);
    const after = await sw.counters();
    expect(delta(before, after, "drop_unknown_vni")).toBe(2n);
    expect(delta(before, after, "decap_fwd")).toBe(1n);
    expect(delta(before, after, "flood_local_copy")).toBe(0n);
  });

  it("drops VXLAN without the I flag (drop_bad_vxlan)", async () => {
    const src = "02:00:00:00:c0:05";
    const unicast = udpFrame({ dstMac: H1, srcMac: src, srcIp: "198.51.100.35", dstIp: NOBODY_IP, srcPort: 1, dstPort: 9, payload: Buffer.from("no I flag") });
    const sentinel = udpFrame({ dstMac: H1, srcMac: src, srcIp: "198.51.100.35", dstIp: NOBODY_IP, srcPort: 1, dstPort: 9, payload: Buffer.from("sentinel") });
    const before = await sw.counters();
    const caps = await captureAll(src);
    // flags 0x00, and 0x80 (a reserved bit without I)
    await sw.sendFromSpine([fromVtep(unicast, { vni: 100, src: REMOTE_A, flags: 0x00 }), fromVtep(unicast, { vni: 100, src: REMOTE_A, flags: 0x80 })]);
    await sw.sendFromSpine([fromVtep(sentinel, { vni: 100, src: REMOTE_A })]);
    const got = await collect(caps, { p1: 1 });
    expect(got.p1.map((p) => p.raw.equals(sentinel))).toEqual([true]);
    const after = await sw.counters();
    expect(delta(before, after, "drop_bad_vxlan")).toBe(2n);
    expect(delta(before, after, "decap_fwd")).toBe(1n);
  });

  it("drops decapsulated frames that carry a VLAN tag (RFC 7348 §6.1), unicast and broadcast, and does not learn them", async () => {
    const src = "02:00:00:00:c0:06";
    const unicast = withTag(udpFrame({ dstMac: H1, srcMac: src, srcIp: "198.51.100.36", dstIp: NOBODY_IP, srcPort: 1, dstPort: 9, payload: Buffer.from("tagged") }), 10);
    const bcast100 = withTag(arpRequest({ srcMac: src, srcIp: "198.51.100.36", targetIp: NOBODY_IP }), 10);
    // VNI 200 floods and learns: a tagged inner frame must not be learned either
    const bcast200 = withTag(arpRequest({ srcMac: src, srcIp: "203.0.113.36", targetIp: "203.0.113.250" }), 10);
    const sentinel = udpFrame({ dstMac: H1, srcMac: src, srcIp: "198.51.100.36", dstIp: NOBODY_IP, srcPort: 1, dstPort: 9, payload: Buffer.from("sentinel") });
    const before = await sw.counters();
    const caps = await captureAll(src);
    await sw.sendFromSpine([
      fromVtep(unicast, { vni: 100, src: REMOTE_A }),
      fromVtep(bcast100, { vni: 100, src: REMOTE_A }),
      fromVtep(bcast200, { vni: 200, src: REMOTE_A }),
    ]);
    await sw.sendFromSpine([fromVtep(sentinel, { vni: 100, src: REMOTE_A })]);
    const got = await collect(caps, { p1: 1 });
    expect(got.p1.map((p) => p.raw.equals(sentinel))).toEqual([true]);
    for (const h of ["p2", "p3", "pt"] as const) expect(got[h], h).toHaveLength(0);
    const after = await sw.counters();
    expect(delta(before, after, "drop_malformed")).toBe(3n);
    expect(delta(before, after, "flood_local_copy")).toBe(0n);
    expect(delta(before, after, "learn_new")).toBe(0n);
    expect(await fdbMacs()).not.toContain(`200/${src}`);
  });

  it("drops overlay frames whose inner source MAC is multicast (drop_invalid_smac)", async () => {
    const src = "01:00:5e:00:00:07";
    const bcast = arpRequest({ srcMac: src, srcIp: "203.0.113.37", targetIp: "203.0.113.250" });
    const before = await sw.counters();
    const caps = await captureAll(src);
    await sw.sendFromSpine([fromVtep(bcast, { vni: 200, src: REMOTE_A })]);
    // sentinel: a good broadcast in VNI 200 over the same path
    const good = "02:00:00:00:c0:07";
    const capGood = await sw.captureHost("p2", `ether src ${good}`);
    await sw.sendFromSpine([fromVtep(arpRequest({ srcMac: good, srcIp: "203.0.113.38", targetIp: "203.0.113.250" }), { vni: 200, src: REMOTE_A })]);
    expect(await capGood.waitFor(1, 5000)).toBe(1);
    await capGood.stop();
    const got = await collect(caps, {});
    for (const h of HOSTS) expect(got[h], h).toHaveLength(0);
    const after = await sw.counters();
    expect(delta(before, after, "drop_invalid_smac")).toBe(1n);
    expect(await fdbMacs()).not.toContain(`200/${src}`);
  });
});

describe("access admission", () => {
  it("drops frames with a VLAN tag the port does not map, and untagged frames on a port without a native VNI (drop_no_port_vni)", async () => {
    const src = "02:00:00:00:c1:01";
    const bcast = arpRequest({ srcMac: src, srcIp: "198.51.100.41", targetIp: NOBODY_IP });
    const sentinel = arpRequest({ srcMac: src, srcIp: "198.51.100.42", targetIp: NOBODY_IP });
    const before = await sw.counters();
    const caps = await captureAll(src);
    await sw.sendFromHost("p1", [withTag(bcast, 10)]); // h1 is untagged-only: VLAN 10 is not its
    await sw.sendFromHost("pt", [withTag(bcast, 30), bcast]); // t1 maps VLAN 10 only and has no native VNI
    await sw.sendFromHost("p1", [sentinel]);
    const got = await collect(caps, { pt: 1, spine: 1 });
    expect(got.pt.map((p) => p.raw.equals(withTag(sentinel, 10)))).toEqual([true]);
    expect(got.p1).toHaveLength(0);
    expect(got.p2).toHaveLength(0);
    expect(got.p3).toHaveLength(0);
    const vx = vxlanOnly(got.spine);
    expect(vx).toHaveLength(1);
    expect(vx[0]!.raw.subarray(50).equals(sentinel)).toBe(true);
    const after = await sw.counters();
    expect(delta(before, after, "drop_no_port_vni")).toBe(3n);
    expect(delta(before, after, "flood_local_copy")).toBe(1n);
    expect(delta(before, after, "flood_remote_copy")).toBe(1n);
  });

  it("drops frames with a multicast or all-zero source MAC (drop_invalid_smac) and does not learn them", async () => {
    const bad = ["01:00:5e:00:00:09", "00:00:00:00:00:00"];
    const good = "02:00:00:00:c1:02";
    const before = await sw.counters();
    const capGood = await captureAll(good); // hosts: frames from `good` only; spine: every VXLAN packet
    const capBad = await Promise.all(bad.map((m) => sw.captureHost("p3", `ether src ${m}`)));
    for (const m of bad) {
      // unicast to p3's MAC and broadcast, from p2 (VNI 200, learning)
      await sw.sendFromHost("p2", [
        udpFrame({ dstMac: "02:00:00:00:02:03", srcMac: m, srcIp: "203.0.113.2", dstIp: "203.0.113.250", srcPort: 1, dstPort: 9 }),
        arpRequest({ srcMac: m, srcIp: "203.0.113.2", targetIp: "203.0.113.250" }),
      ]);
    }
    await sw.sendFromHost("p2", [arpRequest({ srcMac: good, srcIp: "203.0.113.2", targetIp: "203.0.113.250" })]);
    const got = await collect(capGood, { p3: 1, spine: 1 });
    expect(got.p3).toHaveLength(1);
    for (const c of capBad) expect(await c.stop()).toHaveLength(0);
    // the spine saw exactly one VXLAN packet: the good broadcast's
    const vx = vxlanOnly(got.spine);
    expect(vx).toHaveLength(1);
    expect(vx[0]!.inner?.eth?.src).toBe(good);
    const after = await sw.counters();
    expect(delta(before, after, "drop_invalid_smac")).toBe(4n);
    expect(delta(before, after, "local_fwd")).toBe(0n);
    const macs = await fdbMacs();
    for (const m of bad) expect(macs).not.toContain(`200/${m}`);
  });
});

describe("uplink: non-VXLAN traffic goes to the kernel", () => {
  it("answers pings to the uplink and VTEP addresses from the spine", async () => {
    const before = await sw.counters();
    const up = await ping(sw.lab, sw.spineNs, "192.0.2.2", { count: 3, timeoutS: 2 });
    expect(up.received).toBe(3);
    const vtep = await ping(sw.lab, sw.spineNs, VTEP, { count: 3, timeoutS: 2 });
    expect(vtep.received).toBe(3);
    const after = await sw.counters();
    expect(delta(before, after, "uplink_pass_kernel")).toBeGreaterThanOrEqual(6n);
    expect(delta(before, after, "uplink_rx")).toBe(0n);
  });
});
