// BUM (broadcast, unknown unicast, multicast) replication through the real TC
// stage of a running switch: head-end replication to every local member port
// and every remote VTEP of the VNI, never back out of the ingress port (and
// VLAN), and split horizon for frames that came from the overlay. Every copy is
// captured on the far side of its wire.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arpRequest, ETH_P_8021Q, type Capture, type DecodedPacket, vxlanEncap } from "../harness/index.ts";
import { bootSwitch, REMOTE_A, REMOTE_B, VTEP, vxlanOnly, type SwitchUnderTest } from "./switch-fixture.ts";

// hosts: p1, p2 untagged in VNI 100; pt on a trunk (VLAN 10 -> VNI 100, VLAN 20 -> VNI 200);
// p3 untagged in VNI 200; p4 untagged in VNI 300 (a VNI none of the test frames belong to)
const HOSTS = ["p1", "p2", "pt", "p3", "p4"] as const;
type Host = (typeof HOSTS)[number];

// addresses nobody owns: the hosts' kernels must not answer (and so add chatter)
const NOBODY_IP = "198.51.100.250";

let sw: SwitchUnderTest;

beforeAll(async () => {
  sw = await bootSwitch(
    "bum",
    `ports:
  - { name: h1, vni: 100 }
  - { name: h2, vni: 100 }
  - name: t1
    vlans: { 10: 100, 20: 200 }
  - { name: h3, vni: 200 }
  - { name: h4, vni: 300 }
vnis:
  - vni: 100
    flood: [${REMOTE_A}, ${REMOTE_B}]
  - vni: 200
    flood: [${REMOTE_A}]
  - vni: 300
    flood: [${REMOTE_B}]
`,
    [
      { name: "p1", port: "h1", mac: "02:00:00:00:01:01", cidr: "198.51.100.1/24" },
      { name: "p2", port: "h2", mac: "02:00:00:00:01:02", cidr: "198.51.100.2/24" },
      { name: "pt", port: "t1", mac: "02:00:00:00:01:0f", cidr: "192.168.77.1/24" },
      { name: "p3", port: "h3", mac: "02:00:00:00:01:03", cidr: "203.0.113.3/24" },
      { name: "p4", port: "h4", mac: "02:00:00:00:01:04", cidr: "203.0.113.4/24" },
    ],
  );
});

afterAll(async () => {
  await sw?.dispose();
});

/** The frame with an 802.1Q tag inserted after the MACs. */
function withTag(frame: Buffer, vlan: number, pcp = 0): Buffer {
  const tag = Buffer.alloc(4);
  tag.writeUInt16BE(ETH_P_8021Q, 0);
  tag.writeUInt16BE((pcp << 13) | vlan, 2);
  return Buffer.concat([frame.subarray(0, 12), tag, frame.subarray(12)]);
}

/** The frame without its (single) 802.1Q tag. */
function withoutTag(frame: Buffer): Buffer {
  expect(frame.readUInt16BE(12)).toBe(ETH_P_8021Q);
  return Buffer.concat([frame.subarray(0, 12), frame.subarray(16)]);
}

/** Inbound captures on every host, each limited to frames from `srcMac`, plus the spine's VXLAN. */
async function captureAll(srcMac: string): Promise<{ hosts: Record<Host, Capture>; spine: Capture }> {
  const caps = await Promise.all(HOSTS.map((h) => sw.captureHost(h, `ether src ${srcMac}`)));
  const spine = await sw.captureSpine("udp port 4789");
  return { hosts: Object.fromEntries(HOSTS.map((h, i) => [h, caps[i]!])) as Record<Host, Capture>, spine };
}

/**
 * Waits until every capture in `expect` holds (at least) its count, then keeps
 * listening `settleMs` longer everywhere so that extra copies (duplicates,
 * copies to the wrong port) have time to show up, and stops all captures.
 */
async function collect(
  caps: { hosts: Record<Host, Capture>; spine: Capture },
  want: Partial<Record<Host | "spine", number>>,
  settleMs = 400,
): Promise<Record<Host | "spine", DecodedPacket[]>> {
  const all: Record<Host | "spine", Capture> = { ...caps.hosts, spine: caps.spine };
  await Promise.all(Object.entries(want).map(([k, n]) => all[k as Host | "spine"].waitFor(n!, 5000)));
  await new Promise((r) => setTimeout(r, settleMs));
  const names = Object.keys(all) as (Host | "spine")[];
  const got = await Promise.all(names.map((k) => all[k].stop()));
  return Object.fromEntries(names.map((k, i) => [k, got[i]!])) as Record<Host | "spine", DecodedPacket[]>;
}

const delta = (before: Record<string, bigint>, after: Record<string, bigint>, name: string) => after[name]! - before[name]!;

function expectGoodEncap(p: DecodedPacket, remote: string, vni: number, inner: Buffer): void {
  expect(p.eth!.src).toBe(sw.uplinkMac);
  expect(p.eth!.dst).toBe(sw.spineMac);
  expect(p.ip).toMatchObject({ src: VTEP, dst: remote, proto: 17, checksumStatus: "good" });
  expect(p.udp!.dstPort).toBe(4789);
  expect(p.udp!.length).toBe(inner.length + 16);
  expect(p.vxlan).toMatchObject({ iFlag: true, vni, flags: 0x0800 });
  expect(p.raw.subarray(50).equals(inner)).toBe(true);
}

describe("BUM from an access port (head-end replication)", () => {
  it("copies a broadcast once to every other port of the VNI (tagged on the trunk) and once to each remote VTEP", async () => {
    const src = "02:00:00:00:b0:01";
    const frame = arpRequest({ srcMac: src, srcIp: "198.51.100.11", targetIp: NOBODY_IP });
    const before = await sw.counters();
    const caps = await captureAll(src);
    await sw.sendFromHost("p1", [frame]);
    const got = await collect(caps, { p2: 1, pt: 1, spine: 2 });

    expect(got.p2).toHaveLength(1);
    expect(got.p2[0]!.raw.equals(frame)).toBe(true);
    expect(got.p2[0]!.vlans).toHaveLength(0);

    expect(got.pt).toHaveLength(1);
    expect(got.pt[0]!.vlans).toHaveLength(1);
    expect(got.pt[0]!.vlan).toMatchObject({ tpid: 0x8100, id: 10, pcp: 0 });
    expect(got.pt[0]!.arp).toMatchObject({ opcode: 1, senderMac: src, targetIp: NOBODY_IP });
    expect(got.pt[0]!.raw.equals(withTag(frame, 10))).toBe(true);

    expect(got.p1).toHaveLength(0); // never back out of the ingress port
    expect(got.p3).toHaveLength(0); // VNI 200 (untagged)
    expect(got.p4).toHaveLength(0); // VNI 300

    const vx = vxlanOnly(got.spine);
    expect(vx).toHaveLength(2);
    expect(vx.map((p) => p.ip!.dst).sort()).toEqual([REMOTE_A, REMOTE_B].sort());
    for (const p of vx) expectGoodEncap(p, p.ip!.dst, 100, frame);

    const after = await sw.counters();
    expect(delta(before, after, "bum_to_tc")).toBe(1n);
    expect(delta(before, after, "flood_local_copy")).toBe(2n);
    expect(delta(before, after, "flood_remote_copy")).toBe(2n);
    expect(delta(before, after, "err_clone")).toBe(0n);
    expect(delta(before, after, "err_adjust")).toBe(0n);
  });

  it("treats unknown unicast like broadcast", async () => {
    const src = "02:00:00:00:b0:02";
    const unknownDst = "02:00:00:00:ee:01";
    expect((await sw.api<{ mac: string }[]>("fdb")).some((r) => r.mac === unknownDst)).toBe(false);
    const frame = arpRequest({ srcMac: src, srcIp: "198.51.100.12", targetIp: NOBODY_IP, dstMac: unknownDst });
    const before = await sw.counters();
    const caps = await captureAll(src);
    await sw.sendFromHost("p2", [frame]);
    const got = await collect(caps, { p1: 1, pt: 1, spine: 2 });

    expect(got.p1).toHaveLength(1);
    expect(got.p1[0]!.raw.equals(frame)).toBe(true);
    expect(got.pt).toHaveLength(1);
    expect(got.pt[0]!.raw.equals(withTag(frame, 10))).toBe(true);
    expect(got.p2).toHaveLength(0);
    expect(got.p3).toHaveLength(0);
    expect(got.p4).toHaveLength(0);

    const vx = vxlanOnly(got.spine);
    expect(vx.map((p) => p.ip!.dst).sort()).toEqual([REMOTE_A, REMOTE_B].sort());
    for (const p of vx) expectGoodEncap(p, p.ip!.dst, 100, frame);

    const after = await sw.counters();
    expect(delta(before, after, "flood_local_copy")).toBe(2n);
    expect(delta(before, after, "flood_remote_copy")).toBe(2n);
    expect(delta(before, after, "local_fwd")).toBe(0n);
    expect(delta(before, after, "encap_fwd")).toBe(0n);
  });

  it("treats multicast like broadcast", async () => {
    const src = "02:00:00:00:b0:05";
    const frame = arpRequest({ srcMac: src, srcIp: "198.51.100.15", targetIp: NOBODY_IP, dstMac: "01:00:5e:01:02:03" });
    const before = await sw.counters();
    const caps = await captureAll(src);
    await sw.sendFromHost("p1", [frame]);
    const got = await collect(caps, { p2: 1, pt: 1, spine: 2 });
    expect(got.p2.map((p) => p.raw.equals(frame))).toEqual([true]);
    expect(got.pt.map((p) => p.raw.equals(withTag(frame, 10)))).toEqual([true]);
    expect(got.p1).toHaveLength(0);
    expect(got.p3).toHaveLength(0);
    expect(got.p4).toHaveLength(0);
    const vx = vxlanOnly(got.spine);
    expect(vx.map((p) => p.ip!.dst).sort()).toEqual([REMOTE_A, REMOTE_B].sort());
    for (const p of vx) expectGoodEncap(p, p.ip!.dst, 100, frame);
    const after = await sw.counters();
    expect(delta(before, after, "flood_local_copy")).toBe(2n);
    expect(delta(before, after, "flood_remote_copy")).toBe(2n);
  });

  it("copies a broadcast from trunk VLAN 20 untagged to the ports of VNI 200, and to VNI 200's VTEP only", async () => {
    const src = "02:00:00:00:b0:03";
    const untagged = arpRequest({ srcMac: src, srcIp: "203.0.113.13", targetIp: "203.0.113.250" });
    const frame = withTag(untagged, 20, 3);
    const before = await sw.counters();
    const caps = await captureAll(src);
    await sw.sendFromHost("pt", [frame]);
    const got = await collect(caps, { p3: 1, spine: 1 });

    expect(got.p3).toHaveLength(1);
    expect(got.p3[0]!.vlans).toHaveLength(0);
    expect(got.p3[0]!.raw.equals(untagged)).toBe(true);
    expect(got.pt).toHaveLength(0); // not back out of the trunk, in VLAN 20 or any other
    expect(got.p1).toHaveLength(0);
    expect(got.p2).toHaveLength(0);
    expect(got.p4).toHaveLength(0);

    const vx = vxlanOnly(got.spine);
    expect(vx).toHaveLength(1);
    // the VNI replaces the VLAN: the inner frame travels untagged
    expectGoodEncap(vx[0]!, REMOTE_A, 200, untagged);

    const after = await sw.counters();
    expect(delta(before, after, "flood_local_copy")).toBe(1n);
    expect(delta(before, after, "flood_remote_copy")).toBe(1n);
  });

  it("copies a broadcast from trunk VLAN 10 untagged to both untagged ports of VNI 100", async () => {
    const src = "02:00:00:00:b0:04";
    const untagged = arpRequest({ srcMac: src, srcIp: "198.51.100.14", targetIp: NOBODY_IP });
    const caps = await captureAll(src);
    await sw.sendFromHost("pt", [withTag(untagged, 10)]);
    const got = await collect(caps, { p1: 1, p2: 1, spine: 2 });
    expect(got.p1.map((p) => p.raw.equals(untagged))).toEqual([true]);
    expect(got.p2.map((p) => p.raw.equals(untagged))).toEqual([true]);
    expect(got.pt).toHaveLength(0);
    expect(got.p3).toHaveLength(0);
    expect(got.p4).toHaveLength(0);
    const vx = vxlanOnly(got.spine);
    expect(vx.map((p) => p.ip!.dst).sort()).toEqual([REMOTE_A, REMOTE_B].sort());
    for (const p of vx) expectGoodEncap(p, p.ip!.dst, 100, untagged);
  });
});

describe("BUM from the overlay (split horizon)", () => {
  const fromRemote = (inner: Buffer, vni: number, src: string) =>
    vxlanEncap({ outer: { dstMac: sw.uplinkMac, srcMac: sw.spineMac, srcIp: src, dstIp: VTEP }, vni, inner });

  it("copies a broadcast to every local port of the VNI and sends nothing back into the overlay", async () => {
    const src = "02:00:00:00:b1:01";
    const inner = arpRequest({ srcMac: src, srcIp: "198.51.100.21", targetIp: NOBODY_IP });
    const before = await sw.counters();
    const caps = await captureAll(src);
    await sw.sendFromSpine([fromRemote(inner, 100, REMOTE_A)]);
    const got = await collect(caps, { p1: 1, p2: 1, pt: 1 }, 600);

    expect(got.p1).toHaveLength(1);
    expect(got.p1[0]!.raw.equals(inner)).toBe(true);
    expect(got.p2).toHaveLength(1);
    expect(got.p2[0]!.raw.equals(inner)).toBe(true);
    expect(got.pt).toHaveLength(1);
    expect(got.pt[0]!.vlan).toMatchObject({ id: 10 });
    expect(got.pt[0]!.raw.equals(withTag(inner, 10))).toBe(true);
    expect(got.p3).toHaveLength(0);
    expect(got.p4).toHaveLength(0);
    // split horizon: not a single VXLAN packet back to the spine (to any VTEP)
    expect(vxlanOnly(got.spine)).toHaveLength(0);

    const after = await sw.counters();
    expect(delta(before, after, "uplink_rx")).toBe(1n);
    expect(delta(before, after, "bum_to_tc")).toBe(1n);
    expect(delta(before, after, "flood_local_copy")).toBe(3n);
    expect(delta(before, after, "flood_remote_copy")).toBe(0n);
  });

  it("floods unknown unicast from the overlay locally only, in VNI 200 tagged VLAN 20 on the trunk", async () => {
    const src = "02:00:00:00:b1:02";
    const inner = arpRequest({ srcMac: src, srcIp: "203.0.113.22", targetIp: "203.0.113.250", dstMac: "02:00:00:00:ee:02" });
    const before = await sw.counters();
    const caps = await captureAll(src);
    await sw.sendFromSpine([fromRemote(inner, 200, REMOTE_A)]);
    const got = await collect(caps, { p3: 1, pt: 1 }, 600);

    expect(got.p3.map((p) => p.raw.equals(inner))).toEqual([true]);
    expect(got.pt).toHaveLength(1);
    expect(got.pt[0]!.vlan).toMatchObject({ id: 20 });
    expect(got.pt[0]!.raw.equals(withTag(inner, 20))).toBe(true);
    expect(got.p1).toHaveLength(0);
    expect(got.p2).toHaveLength(0);
    expect(got.p4).toHaveLength(0);
    expect(vxlanOnly(got.spine)).toHaveLength(0);

    const after = await sw.counters();
    expect(delta(before, after, "flood_local_copy")).toBe(2n);
    expect(delta(before, after, "flood_remote_copy")).toBe(0n);
  });

  it("never sends known unicast from the overlay back into the overlay (drop_hairpin)", async () => {
    // a MAC learned behind REMOTE_B ...
    const far = "02:00:00:00:b1:04";
    await sw.sendFromSpine([fromRemote(arpRequest({ srcMac: far, srcIp: "198.51.100.24", targetIp: NOBODY_IP }), 100, REMOTE_B)]);
    await expect
      .poll(async () => (await sw.api<{ vni: number; mac: string; remote?: string }[]>("fdb")).find((r) => r.vni === 100 && r.mac === far))
      .toMatchObject({ remote: REMOTE_B });
    // ... addressed by a frame arriving from REMOTE_A
    const src = "02:00:00:00:b1:05";
    const inner = arpRequest({ srcMac: src, srcIp: "198.51.100.25", targetIp: NOBODY_IP, dstMac: far });
    const before = await sw.counters();
    const caps = await captureAll(src);
    await sw.sendFromSpine([fromRemote(inner, 100, REMOTE_A)]);
    await expect.poll(async () => delta(before, await sw.counters(), "drop_hairpin")).toBe(1n);
    const got = await collect(caps, {}, 400);
    expect(vxlanOnly(got.spine)).toHaveLength(0);
    for (const h of HOSTS) expect(got[h], h).toHaveLength(0);
  });

  // A short inner frame: 14-byte header + 10 bytes (unpadded, as a Linux VTEP
  // may send what a local stack handed it). Known unicast decap (XDP) delivers
  // it; the control below shows that.
  const shortInner = (dst: string, src: string) =>
    Buffer.concat([Buffer.from(dst.replace(/:/g, "") + src.replace(/:/g, "") + "88b5", "hex"), Buffer.alloc(10, 0x5a)]);

  it("decapsulates a short inner frame to a known MAC (control for the BUM case below)", async () => {
    const host = "02:00:00:00:b1:06";
    await sw.sendFromHost("p1", [arpRequest({ srcMac: host, srcIp: "198.51.100.26", targetIp: NOBODY_IP })]);
    await expect.poll(async () => (await sw.api<{ mac: string; port?: string }[]>("fdb")).find((r) => r.mac === host)).toMatchObject({ port: "h1" });
    const src = "02:00:00:00:b1:07";
    const inner = shortInner(host, src);
    const caps = await captureAll(src);
    await sw.sendFromSpine([fromRemote(inner, 100, REMOTE_A)]);
    const got = await collect(caps, { p1: 1 });
    expect(got.p1).toHaveLength(1);
    expect(got.p1[0]!.raw.subarray(0, inner.length).equals(inner)).toBe(true);
  });

  // BUM decapsulation shrinks the skb with bpf_skb_adjust_room, which the
  // kernel refuses below 20 bytes past the (outer IPv4) network header; runt
  // inner frames are padded to the Ethernet minimum first, as a switch port
  // would, so they are replicated like any other.
  it("copies a short inner broadcast from the overlay to the local ports", async () => {
    const src = "02:00:00:00:b1:08";
    const inner = shortInner("ff:ff:ff:ff:ff:ff", src);
    const before = await sw.counters();
    const caps = await captureAll(src);
    await sw.sendFromSpine([fromRemote(inner, 100, REMOTE_A)]);
    const got = await collect(caps, { p1: 1, p2: 1 });
    expect(delta(before, await sw.counters(), "err_adjust")).toBe(0n);
    // the copy may be padded to the Ethernet minimum, but must start with the inner frame
    expect(got.p1.map((p) => p.raw.subarray(0, inner.length).equals(inner))).toEqual([true]);
    expect(got.p2.map((p) => p.raw.subarray(0, inner.length).equals(inner))).toEqual([true]);
  });

  it("strips exactly the outer headers (decapsulated copies keep the inner frame's length)", async () => {
    const src = "02:00:00:00:b1:03";
    // an inner frame with a payload well past the minimum, to catch off-by-N decap
    const inner = Buffer.concat([arpRequest({ srcMac: src, srcIp: "198.51.100.23", targetIp: NOBODY_IP }), Buffer.alloc(300, 0xa5)]);
    const caps = await captureAll(src);
    await sw.sendFromSpine([fromRemote(inner, 100, REMOTE_B)]);
    const got = await collect(caps, { p1: 1, p2: 1, pt: 1 });
    expect(got.p1.map((p) => p.raw.equals(inner))).toEqual([true]);
    expect(got.p2.map((p) => p.raw.equals(inner))).toEqual([true]);
    expect(got.pt.map((p) => p.raw.equals(withTag(inner, 10)))).toEqual([true]);
    expect(vxlanOnly(got.spine)).toHaveLength(0);
    // sanity of the helper the assertions above rely on
    expect(withoutTag(got.pt[0]!.raw).equals(inner)).toBe(true);
  });
});
