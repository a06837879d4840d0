// Proves the kernel-test harness against the real kernel, with no vxgate
// involved: two namespaces joined by a veth, hand-built frames injected on
// one side, captured on the other and decoded by tshark.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DecodedPacket,
  HARNESS_PREFIX,
  Lab,
  arpRequest,
  decodeFrames,
  icmpEchoFrame,
  listNetns,
  ping,
  sendFrames,
  startCapture,
  udpExchange,
  udpFrame,
  vxlanEncap,
} from "../harness/index.ts";

function haveTool(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const canRun = process.getuid?.() === 0 && ["ip", "tshark", "tcpdump", "ethtool", "ping", "timeout"].every(haveTool);

const MAC_A = "02:00:00:00:00:0a";
const MAC_B = "02:00:00:00:00:0b";
const INNER_SRC = "02:00:00:00:01:01";
const INNER_DST = "02:00:00:00:01:02";

describe.skipIf(!canRun)("kernel harness: two namespaces over a veth", () => {
  let lab: Lab;
  let a: string;
  let b: string;

  beforeAll(() => {
    lab = new Lab("t-harness");
    a = lab.ns("a");
    b = lab.ns("b");
    lab.veth(a, "v0", b, "v0", { macA: MAC_A, macB: MAC_B, mtu: 1600 });
    lab.addr(a, "v0", "10.0.0.1/24");
    lab.addr(b, "v0", "10.0.0.2/24");
  });

  afterAll(() => {
    const prefix = lab?.prefix;
    lab?.cleanup();
    if (prefix) expect(listNetns().filter((n) => n.startsWith(prefix))).toEqual([]);
  });

  it("names namespaces with the lab's unique prefix and sets links up as asked", () => {
    expect(a.startsWith(HARNESS_PREFIX)).toBe(true);
    expect(a.startsWith(lab.prefix)).toBe(true);
    expect(listNetns()).toEqual(expect.arrayContaining([a, b]));
    const la = lab.link(a, "v0");
    expect(la).toMatchObject({ mac: MAC_A, mtu: 1600, up: true });
    expect(lab.link(b, "v0").mac).toBe(MAC_B);
    expect(lab.exec(b, "ethtool", ["-k", "v0"])).toMatch(/generic-receive-offload: on/);
    expect(lab.exec(a, "sysctl", ["-n", "net.ipv6.conf.all.disable_ipv6"]).trim()).toBe("1");
    expect(() => lab.exec(a, "ip", ["link", "show", "dev", "nope0"])).toThrow(/nope0/);
  });

  it("an injected ARP request arrives on the far side and tshark decodes it", async () => {
    const frame = arpRequest({ srcMac: MAC_A, srcIp: "10.0.0.1", targetIp: "10.0.0.99" });
    const cap = await startCapture(b, "v0", { filter: "arp", count: 1, direction: "in", timeoutMs: 10_000, lab });
    expect(await sendFrames(a, "v0", [frame])).toBe(1);
    const pkts = await cap.stop();
    expect(pkts).toHaveLength(1);
    const p = pkts[0]!;
    expect(p.raw.equals(frame)).toBe(true);
    expect(p.protocols).toEqual(["eth", "ethertype", "arp"]);
    expect(p.eth).toEqual({ src: MAC_A, dst: "ff:ff:ff:ff:ff:ff", type: 0x0806 });
    expect(p.arp).toEqual({ opcode: 1, senderMac: MAC_A, senderIp: "10.0.0.1", targetMac: "00:00:00:00:00:00", targetIp: "10.0.0.99" });
    expect(p.fields["arp.dst.proto_ipv4"]).toEqual(["10.0.0.99"]);
    expect(p.parsed.arp?.targetIp).toBe("10.0.0.99");
  });

  it("an injected VXLAN frame is decoded with VNI, flags, inner Ethernet and a good outer IP checksum", async () => {
    const inner = icmpEchoFrame({
      srcMac: INNER_SRC,
      dstMac: INNER_DST,
      vlan: { id: 10 },
      srcIp: "192.168.1.1",
      dstIp: "192.168.1.2",
      ident: 7,
      seq: 3,
      payload: Buffer.from("vxgate"),
    });
    const frame = vxlanEncap({
      outer: { srcMac: MAC_A, dstMac: MAC_B, srcIp: "10.0.0.1", dstIp: "10.0.0.2", ttl: 33, srcPort: 50000 },
      vni: 100,
      inner,
    });
    const cap = await startCapture(b, "v0", { filter: "udp port 4789", count: 1, direction: "in", lab });
    await sendFrames(a, "v0", [frame]);
    const [p] = await cap.stop();
    expect(p).toBeDefined();
    const pkt = p as DecodedPacket;
    expect(pkt.raw.equals(frame)).toBe(true);
    expect(pkt.protocolsString).toBe("eth:ethertype:ip:udp:vxlan:eth:ethertype:vlan:ethertype:ip:icmp:data");
    expect(pkt.eth).toMatchObject({ src: MAC_A, dst: MAC_B });
    expect(pkt.ip).toMatchObject({ src: "10.0.0.1", dst: "10.0.0.2", ttl: 33, proto: 17, df: true, checksumStatus: "good" });
    expect(pkt.udp).toMatchObject({ srcPort: 50000, dstPort: 4789, checksum: 0, checksumStatus: "not-present" });
    expect(pkt.vxlan).toEqual({ flags: 0x0800, iFlag: true, vni: 100, gFlag: false, dFlag: false });
    expect(pkt.fields["vxlan.vni"]).toEqual(["100"]);
    // inner level
    const i = pkt.inner!;
    expect(i.eth).toEqual({ src: INNER_SRC, dst: INNER_DST, type: 0x8100 });
    expect(i.vlan).toMatchObject({ id: 10, etype: 0x0800 });
    expect(i.ip).toMatchObject({ src: "192.168.1.1", dst: "192.168.1.2", checksumStatus: "good" });
    expect(i.icmp).toEqual({ type: 8, code: 0, checksumStatus: "good", ident: 7, seq: 3 });
    // both eth layers are visible in the flat field map, outer first
    expect(pkt.fields["eth.src"]).toEqual([MAC_A, INNER_SRC]);
    // and our own parser agrees with tshark
    expect(pkt.parsed.vxlan?.vni).toBe(100);
    expect(pkt.parsed.inner?.eth.src).toBe(INNER_SRC);
  });

  it("tshark reports a bad IPv4 header checksum and a bad UDP checksum", async () => {
    const good = udpFrame({ srcMac: MAC_A, dstMac: MAC_B, srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 1111, dstPort: 2222, payload: Buffer.from("x") });
    const badIp = Buffer.from(good);
    badIp[14 + 10]! ^= 0x55;
    const badUdp = Buffer.from(good);
    badUdp[badUdp.length - 1]! ^= 0x01;
    const cap = await startCapture(b, "v0", { filter: "udp port 2222", count: 3, direction: "in", lab });
    await sendFrames(a, "v0", [good, badIp, badUdp]);
    const pkts = await cap.stop();
    expect(pkts.map((p) => p.ip?.checksumStatus)).toEqual(["good", "bad", "good"]);
    expect(pkts.map((p) => p.udp?.checksumStatus)).toEqual(["good", expect.any(String), "bad"]);
    expect(pkts.map((p) => p.parsed.ipv4?.checksumOk)).toEqual([true, false, true]);
  });

  it("captures exactly the frames sent, in order, for a bounded burst", async () => {
    const frames = Array.from({ length: 50 }, (_, k) =>
      udpFrame({ srcMac: MAC_A, dstMac: MAC_B, srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 3000, dstPort: 3001, id: k, payload: Buffer.from(`n${k}`) }),
    );
    const cap = await startCapture(b, "v0", { filter: "udp dst port 3001", direction: "in", lab });
    expect(await sendFrames(a, "v0", frames)).toBe(50);
    expect(await cap.waitFor(50, 5000)).toBe(50);
    const raw = await cap.stopRaw();
    expect(raw.map((r) => r.data.toString("hex"))).toEqual(frames.map((f) => f.toString("hex")));
    expect(cap.dropped()).toBe(0);
  });

  it("a capture with nothing to see returns an empty list", async () => {
    const cap = await startCapture(b, "v0", { filter: "udp port 9", lab });
    expect(await cap.stop()).toEqual([]);
  });

  it("ping works between the namespaces and reports loss to a dead address", async () => {
    expect(await ping(lab, a, "10.0.0.2", { count: 3, intervalS: 0.05 })).toMatchObject({ sent: 3, received: 3 });
    expect(await ping(lab, b, "10.0.0.1", { count: 2, intervalS: 0.05 })).toMatchObject({ sent: 2, received: 2 });
    expect(await ping(lab, a, "10.0.0.77", { count: 2, intervalS: 0.05, timeoutS: 1 })).toMatchObject({ sent: 2, received: 0 });
  });

  it("UDP datagrams sent from one namespace are counted in the other", async () => {
    const r = await udpExchange(lab, { from: a, to: b, dst: "10.0.0.2", port: 4000, count: 25, payload: Buffer.from("ping!") });
    expect(r).toMatchObject({ sent: 25, received: 25 });
    expect(r.result.datagrams[0]).toMatchObject({ srcIp: "10.0.0.1", payload: Buffer.from("ping!") });
    const none = await udpExchange(lab, { from: a, to: b, dst: "10.0.0.2", port: 4001, listenIp: "127.0.0.1", count: 3, waitMs: 300 });
    expect(none).toMatchObject({ sent: 3, received: 0 });
  });
});

describe.skipIf(!canRun)("kernel harness: lifecycle", () => {
  it("cleanup kills tracked processes and removes every namespace and root link; it is idempotent", async () => {
    const lab = new Lab("t-cleanup");
    try {
      const x = lab.ns("x", { forwarding: true, acceptLocal: true, rpFilter: 0 });
      expect(lab.exec(x, "sysctl", ["-n", "net.ipv4.conf.all.forwarding"]).trim()).toBe("1");
      expect(lab.exec(x, "sysctl", ["-n", "net.ipv4.conf.all.accept_local"]).trim()).toBe("1");
      const pair = lab.veth(x, "e0", null, "r0", { gro: { a: true, b: false } });
      expect(pair.b).toBe(`${lab.rootIfPrefix}r0`);
      expect(pair.b.length).toBeLessThanOrEqual(15);
      expect(lab.exec(null, "ip", ["-d", "link", "show", "dev", pair.b])).toMatch(/alias vxh:/);
      const sleeper = lab.spawn(x, "sleep", ["600"]);
      const cap = await startCapture(x, "e0", { lab });
      void cap;
      expect(listNetns().filter((n) => n.startsWith(lab.prefix))).toEqual([x]);

      const exited = new Promise<void>((r) => sleeper.once("exit", () => r()));
      lab.cleanup();
      lab.cleanup();
      await exited;
      expect(listNetns().filter((n) => n.startsWith(lab.prefix))).toEqual([]);
      expect(lab.run(null, "ip", ["link", "show", "dev", pair.b]).status).not.toBe(0);
      expect(() => lab.ns("late")).toThrow(/cleaned up/);
    } finally {
      lab.cleanup();
    }
  });

  it("sweepStale removes leftovers of a dead run but not a live lab's namespaces", () => {
    // A pid that cannot be alive: above pid_max.
    const pidMax = Number(execFileSync("cat", ["/proc/sys/kernel/pid_max"], { encoding: "utf8" }).trim());
    const stale = `${HARNESS_PREFIX}${(pidMax + 1).toString(36)}-0-old`;
    execFileSync("ip", ["netns", "add", stale]);
    const live = new Lab("t-sweep", { sweep: false });
    try {
      const mine = live.ns("keep");
      const removed = Lab.sweepStale();
      expect(removed).toContain(stale);
      expect(removed).not.toContain(mine);
      const names = listNetns();
      expect(names).not.toContain(stale);
      expect(names).toContain(mine);
    } finally {
      live.cleanup();
      execFileSync("sh", ["-c", `ip netns del ${stale} 2>/dev/null || true`]);
    }
  });
});

describe.skipIf(!haveTool("tshark"))("builders against tshark (offline)", () => {
  it("decodes QinQ, VLAN and VXLAN fields the way packets.ts builds them", async () => {
    const qinq = udpFrame({
      srcMac: MAC_A,
      dstMac: MAC_B,
      vlan: [{ id: 100, tpid: 0x88a8, pcp: 2 }, { id: 20 }],
      srcIp: "10.0.0.1",
      dstIp: "10.0.0.2",
      srcPort: 1,
      dstPort: 2,
    });
    const vx8472 = vxlanEncap({
      outer: { srcMac: MAC_A, dstMac: MAC_B, srcIp: "10.0.0.1", dstIp: "10.0.0.2", dstPort: 8472, udpChecksum: true },
      vni: 0xabcdef,
      inner: arpRequest({ srcMac: INNER_SRC, srcIp: "192.168.1.1", targetIp: "192.168.1.2" }),
    });
    const [q, v] = await decodeFrames([qinq, vx8472], { vxlanPorts: [8472] });
    expect(q!.vlans).toEqual([
      { tpid: 0x88a8, id: 100, pcp: 2, dei: 0, etype: 0x8100 },
      { tpid: 0x8100, id: 20, pcp: 0, dei: 0, etype: 0x0800 },
    ]);
    expect(q!.udp?.checksumStatus).toBe("good");
    expect(v!.vxlan).toEqual({ flags: 0x0800, iFlag: true, vni: 0xabcdef, gFlag: false, dFlag: false });
    expect(v!.udp).toMatchObject({ dstPort: 8472, checksumStatus: "good" });
    expect(v!.inner?.arp).toMatchObject({ senderMac: INNER_SRC, targetIp: "192.168.1.2" });
    expect(v!.parsed.inner?.arp?.senderIp).toBe("192.168.1.1");
  });
});
