// 802.1Q trunks through the real XDP programs: a VLAN maps to a VNI on the way
// in, and the port's VLAN for that VNI is put back on the way out (tag pop,
// push, rewrite); across the overlay the inner frame always travels untagged.
// Tagged frames are injected raw and captured on the host side of the trunk,
// where tcpdump still shows the tag veth moved into metadata.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arpRequest, type Capture, type DecodedPacket, ETH_P_8021Q, udpFrame, vxlanEncap } from "../harness/index.ts";
import { bootSwitch, REMOTE_A, REMOTE_B, VTEP, vxlanOnly, type SwitchUnderTest } from "./switch-fixture.ts";
import type { FdbRow } from "../../src/control/runtime.ts";

// pt on trunk t1 {10: 100, 20: 200}; pu on trunk t2 {11: 100} (VNI 100 under another VLAN id)
const H1 = "02:00:00:00:03:01"; // p1, untagged VNI 100
const H2 = "02:00:00:00:03:02"; // p2, untagged VNI 200
const T10 = "02:00:00:00:03:a0"; // a station behind trunk t1 in VLAN 10
const T20 = "02:00:00:00:03:b0"; // a station behind trunk t1 in VLAN 20
const U11 = "02:00:00:00:03:c0"; // a station behind trunk t2 in VLAN 11
const FAR100 = "02:00:00:00:aa:10"; // static, behind REMOTE_A in VNI 100
const FAR200 = "02:00:00:00:aa:20"; // static, behind REMOTE_B in VNI 200
const NOBODY_IP = "198.51.100.250";

let sw: SwitchUnderTest;

beforeAll(async () => {
  sw = await bootSwitch(
    "trunk",
    `ports:
  - { name: h1, vni: 100 }
  - { name: h2, vni: 200 }
  - name: t1
    vlans: { 10: 100, 20: 200 }
  - name: t2
    vlans: { 11: 100 }
vnis:
  - vni: 100
    flood: [${REMOTE_A}]
    static_macs:
      - { mac: "${FAR100}", remote: ${REMOTE_A} }
  - vni: 200
    flood: [${REMOTE_B}]
    static_macs:
      - { mac: "${FAR200}", remote: ${REMOTE_B} }
`,
    [
      { name: "p1", port: "h1", mac: H1, cidr: "198.51.100.1/24" },
      { name: "p2", port: "h2", mac: H2, cidr: "203.0.113.2/24" },
      { name: "pt", port: "t1", mac: "02:00:00:00:03:0f", cidr: "192.168.77.1/24" },
      { name: "pu", port: "t2", mac: "02:00:00:00:03:0e", cidr: "192.168.78.1/24" },
    ],
  );
  // let the switch learn every station where it sits (a broadcast from each)
  await sw.sendFromHost("p1", [arpRequest({ srcMac: H1, srcIp: "198.51.100.1", targetIp: NOBODY_IP })]);
  await sw.sendFromHost("p2", [arpRequest({ srcMac: H2, srcIp: "203.0.113.2", targetIp: "203.0.113.250" })]);
  await sw.sendFromHost("pt", [
    withTag(arpRequest({ srcMac: T10, srcIp: "198.51.100.10", targetIp: NOBODY_IP }), 10),
    withTag(arpRequest({ srcMac: T20, srcIp: "203.0.113.20", targetIp: "203.0.113.250" }), 20),
  ]);
  await sw.sendFromHost("pu", [withTag(arpRequest({ srcMac: U11, srcIp: "198.51.100.11", targetIp: NOBODY_IP }), 11)]);
});

afterAll(async () => {
  await sw?.dispose();
});


const HOSTS = ["p1", "p2", "pt", "pu"] as const;
type Where = (typeof HOSTS)[number] | "spine";

function withTag(frame: Buffer, vlan: number, pcp = 0): Buffer {
  const tag = Buffer.alloc(4);
  tag.writeUInt16BE(ETH_P_8021Q, 0);
  tag.writeUInt16BE((pcp << 13) | vlan, 2);
  return Buffer.concat([frame.subarray(0, 12), tag, frame.subarray(12)]);
}

const delta = (before: Record<string, bigint>, after: Record<string, bigint>, name: string) => after[name]! - before[name]!;

/** Inbound captures on every host limited to frames from `srcMac`, and the spine's VXLAN. */
async function captureAll(srcMac: string): Promise<Record<Where, Capture>> {
  const caps = await Promise.all([...HOSTS.map((h) => sw.captureHost(h, `ether src ${srcMac}`)), sw.captureSpine("udp port 4789")]);
  return Object.fromEntries([...HOSTS, "spine"].map((h, i) => [h, caps[i]!])) as Record<Where, Capture>;
}

async function collect(caps: Record<Where, Capture>, want: Partial<Record<Where, number>>, settleMs = 300): Promise<Record<Where, DecodedPacket[]>> {
  await Promise.all(Object.entries(want).map(([k, n]) => caps[k as Where].waitFor(n!, 5000)));
  await new Promise((r) => setTimeout(r, settleMs));
  const names = Object.keys(caps) as Where[];
  const got = await Promise.all(names.map((k) => caps[k].stop()));
  return Object.fromEntries(names.map((k, i) => [k, got[i]!])) as Record<Where, DecodedPacket[]>;
}

function payloadFrame(dst: string, src: string, text: string, vlan?: { id: number; pcp?: number }): Buffer {
  return udpFrame({ dstMac: dst, srcMac: src, srcIp: "198.51.100.99", dstIp: NOBODY_IP, srcPort: 7, dstPort: 9, payload: Buffer.from(text), vlan });
}

const untaggedOf = (text: string, dst: string, src: string) => payloadFrame(dst, src, text);

describe("learning on a trunk", () => {
  it("learns each station with its port and VLAN, in the VNI of that VLAN", async () => {
    const fdb = () => sw.api<FdbRow[]>("fdb");
    await expect.poll(fdb).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ vni: 100, mac: H1, type: "local", port: "h1", vlan: 0 }),
        expect.objectContaining({ vni: 200, mac: H2, type: "local", port: "h2", vlan: 0 }),
        expect.objectContaining({ vni: 100, mac: T10, type: "local", port: "t1", vlan: 10 }),
        expect.objectContaining({ vni: 200, mac: T20, type: "local", port: "t1", vlan: 20 }),
        expect.objectContaining({ vni: 100, mac: U11, type: "local", port: "t2", vlan: 11 }),
      ]),
    );
    const rows = await fdb();
    // one VNI each: a VLAN-10 station is not known in VNI 200 and vice versa
    expect(rows.filter((r) => r.mac === T10).map((r) => r.vni)).toEqual([100]);
    expect(rows.filter((r) => r.mac === T20).map((r) => r.vni)).toEqual([200]);
  });
});

describe("local switching between trunk and untagged ports", () => {
  it("a tagged VLAN 10 frame to a MAC on an untagged VNI 100 port arrives untagged", async () => {
    const plain = untaggedOf("t10->h1", H1, T10);
    const before = await sw.counters();
    const caps = await captureAll(T10);
    await sw.sendFromHost("pt", [withTag(plain, 10, 5)]);
    const got = await collect(caps, { p1: 1 });
    expect(got.p1).toHaveLength(1);
    expect(got.p1[0]!.vlans).toHaveLength(0);
    expect(got.p1[0]!.raw.equals(plain)).toBe(true);
    for (const h of ["p2", "pt", "pu"] as const) expect(got[h], h).toHaveLength(0);
    expect(vxlanOnly(got.spine)).toHaveLength(0);
    expect(delta(before, await sw.counters(), "local_fwd")).toBe(1n);
  });

  it("a tagged VLAN 20 frame to a MAC on an untagged VNI 200 port arrives untagged", async () => {
    const plain = untaggedOf("t20->h2", H2, T20);
    const caps = await captureAll(T20);
    await sw.sendFromHost("pt", [withTag(plain, 20)]);
    const got = await collect(caps, { p2: 1 });
    expect(got.p2.map((p) => p.raw.equals(plain))).toEqual([true]);
    for (const h of ["p1", "pt", "pu"] as const) expect(got[h], h).toHaveLength(0);
  });

  it("an untagged frame to a MAC learned on the trunk in VLAN 10 arrives tagged VLAN 10", async () => {
    const plain = untaggedOf("h1->t10", T10, H1);
    const before = await sw.counters();
    const caps = await captureAll(H1);
    await sw.sendFromHost("p1", [plain]);
    const got = await collect(caps, { pt: 1 });
    expect(got.pt).toHaveLength(1);
    expect(got.pt[0]!.vlans).toHaveLength(1);
    expect(got.pt[0]!.vlan).toMatchObject({ tpid: 0x8100, id: 10, pcp: 0 });
    expect(got.pt[0]!.udp?.dstPort).toBe(9);
    expect(got.pt[0]!.raw.equals(withTag(plain, 10))).toBe(true);
    for (const h of ["p2", "pu"] as const) expect(got[h], h).toHaveLength(0);
    expect(delta(before, await sw.counters(), "local_fwd")).toBe(1n);
  });

  it("an untagged VNI 200 frame to a MAC learned on the trunk in VLAN 20 arrives tagged VLAN 20", async () => {
    const plain = untaggedOf("h2->t20", T20, H2);
    const caps = await captureAll(H2);
    await sw.sendFromHost("p2", [plain]);
    const got = await collect(caps, { pt: 1 });
    expect(got.pt.map((p) => p.raw.equals(withTag(plain, 20)))).toEqual([true]);
  });

  it("rewrites the VLAN id between two trunks carrying the VNI under different VLANs, keeping the PCP", async () => {
    const plain = untaggedOf("t10->u11", U11, T10);
    const caps = await captureAll(T10);
    await sw.sendFromHost("pt", [withTag(plain, 10, 5)]);
    const got = await collect(caps, { pu: 1 });
    expect(got.pu).toHaveLength(1);
    expect(got.pu[0]!.vlan).toMatchObject({ id: 11, pcp: 5 });
    expect(got.pu[0]!.raw.equals(withTag(plain, 11, 5))).toBe(true);
    for (const h of ["p1", "p2", "pt"] as const) expect(got[h], h).toHaveLength(0);
  });
});

describe("trunk <-> overlay", () => {
  it("encapsulates a tagged frame to a remote MAC with the inner frame untagged and the VLAN's VNI", async () => {
    const p100 = untaggedOf("t10->far", FAR100, T10);
    const p200 = untaggedOf("t20->far", FAR200, T20);
    const before = await sw.counters();
    const cap = await sw.captureSpine("udp port 4789");
    await sw.sendFromHost("pt", [withTag(p100, 10, 3), withTag(p200, 20)]);
    await cap.waitFor(2, 5000);
    const vx = vxlanOnly(await cap.stop({ settleMs: 300 }));
    expect(vx).toHaveLength(2);
    const [a, b] = vx[0]!.vxlan!.vni === 100 ? [vx[0]!, vx[1]!] : [vx[1]!, vx[0]!];
    expect(a.ip).toMatchObject({ src: VTEP, dst: REMOTE_A, checksumStatus: "good" });
    expect(a.vxlan).toMatchObject({ vni: 100, iFlag: true });
    expect(a.inner?.vlans ?? []).toHaveLength(0);
    expect(a.raw.subarray(50).equals(p100)).toBe(true);
    expect(a.udp!.length).toBe(p100.length + 16);
    expect(a.ip!.len).toBe(p100.length + 36);
    expect(b.ip).toMatchObject({ src: VTEP, dst: REMOTE_B, checksumStatus: "good" });
    expect(b.vxlan).toMatchObject({ vni: 200, iFlag: true });
    expect(b.raw.subarray(50).equals(p200)).toBe(true);
    expect(delta(before, await sw.counters(), "encap_fwd")).toBe(2n);
  });

  it("decapsulates to a MAC on the trunk tagged with that VNI's VLAN", async () => {
    const src100 = "02:00:00:00:bb:10";
    const in100 = untaggedOf("far->t10", T10, src100);
    const in200 = untaggedOf("far->t20", T20, "02:00:00:00:bb:20");
    const in11 = untaggedOf("far->u11", U11, src100);
    const before = await sw.counters();
    const [cT, cU, c1] = await Promise.all([sw.captureHost("pt", "udp"), sw.captureHost("pu", "udp"), sw.captureHost("p1", "udp")]);
    const enc = (inner: Buffer, vni: number, src: string) =>
      vxlanEncap({ outer: { dstMac: sw.uplinkMac, srcMac: sw.spineMac, srcIp: src, dstIp: VTEP }, vni, inner });
    await sw.sendFromSpine([enc(in100, 100, REMOTE_A), enc(in200, 200, REMOTE_B), enc(in11, 100, REMOTE_A)]);
    await cT.waitFor(2, 5000);
    await cU.waitFor(1, 5000);
    await new Promise((r) => setTimeout(r, 300));
    const [gotT, gotU, got1] = await Promise.all([cT.stop(), cU.stop(), c1.stop()]);
    expect(gotT).toHaveLength(2);
    const t10 = gotT.find((p) => p.eth?.dst === T10);
    const t20 = gotT.find((p) => p.eth?.dst === T20);
    expect(t10?.vlan).toMatchObject({ id: 10 });
    expect(t10!.raw.equals(withTag(in100, 10))).toBe(true);
    expect(t20?.vlan).toMatchObject({ id: 20 });
    expect(t20!.raw.equals(withTag(in200, 20))).toBe(true);
    expect(gotU).toHaveLength(1);
    expect(gotU[0]!.raw.equals(withTag(in11, 11))).toBe(true);
    expect(got1).toHaveLength(0);
    expect(delta(before, await sw.counters(), "decap_fwd")).toBe(3n);
  });
});
