// Encapsulation and decapsulation through the real XDP programs of a running
// switch, checked on the far side of the wire by tshark.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ethernet, ETH_P_IPV4, udpFrame, vxlanEncap, arpRequest } from "../harness/index.ts";
import { execFileSync, spawnSync } from "node:child_process";
import { CLI } from "../../lab/fabric.ts";
import { bootSwitch, REMOTE_A, REMOTE_B, VTEP, vxlanOnly, type SwitchUnderTest } from "./switch-fixture.ts";
import type { FdbRow } from "../../src/control/runtime.ts";

const H1 = "02:00:00:00:00:11";
const H2 = "02:00:00:00:00:12";
const H3 = "02:00:00:00:00:13";
const STATIC_REMOTE = "02:00:00:00:aa:01";

let sw: SwitchUnderTest;

beforeAll(async () => {
  sw = await bootSwitch(
    "vtep",
    `ports:
  - { name: h1, vni: 100 }
  - { name: h2, vni: 100 }
  - { name: h3, vni: 200 }
vnis:
  - vni: 100
    flood: [${REMOTE_A}, ${REMOTE_B}]
    static_macs:
      - { mac: "${STATIC_REMOTE}", remote: ${REMOTE_A} }
  - vni: 200
    learning: false
    flood: [${REMOTE_A}]
`,
    [
      { name: "p1", port: "h1", mac: H1, cidr: "198.51.100.1/24" },
      { name: "p2", port: "h2", mac: H2, cidr: "198.51.100.2/24" },
      { name: "p3", port: "h3", mac: H3, cidr: "203.0.113.3/24" },
    ],
  );
});

afterAll(async () => {
  await sw?.dispose();
});


const fdb = () => sw.api<FdbRow[]>("fdb");

describe("access port -> overlay (encap)", () => {
  it("encapsulates to the remote VTEP with RFC 7348 outer headers", async () => {
    const cap = await sw.captureSpine("udp port 4789");
    const frames = Array.from({ length: 8 }, (_, i) =>
      udpFrame({ dstMac: STATIC_REMOTE, srcMac: H1, srcIp: "198.51.100.1", dstIp: `198.51.100.${100 + i}`, srcPort: 1000 + i, dstPort: 7, payload: Buffer.from(`flow ${i}`) }),
    );
    await sw.sendFromHost("p1", frames);
    await cap.waitFor(frames.length, 5000);
    const pkts = vxlanOnly(await cap.stop());
    expect(pkts).toHaveLength(frames.length);
    const srcPorts = new Set<number>();
    pkts.forEach((p, i) => {
      expect(p.eth!.src).toBe(sw.uplinkMac);
      expect(p.eth!.dst).toBe(sw.spineMac);
      expect(p.ip).toMatchObject({ src: VTEP, dst: REMOTE_A, ttl: 64, proto: 17, checksumStatus: "good" });
      expect(p.udp!.dstPort).toBe(4789);
      expect(p.udp!.srcPort).toBeGreaterThanOrEqual(49152);
      expect(p.udp!.checksum).toBe(0);
      expect(p.udp!.length).toBe(frames[i]!.length + 16);
      expect(p.vxlan).toMatchObject({ iFlag: true, vni: 100, flags: 0x0800 });
      // the inner frame is carried byte for byte
      expect(p.raw.subarray(50).equals(frames[i]!)).toBe(true);
      srcPorts.add(p.udp!.srcPort);
    });
    // the outer source port carries the inner flow's entropy
    expect(srcPorts.size).toBeGreaterThan(1);
  });

  it("flows between the same two hosts get different outer source ports (the inner UDP/TCP ports are hashed)", async () => {
    const cap = await sw.captureSpine("udp port 4789");
    const frames = Array.from({ length: 16 }, (_, i) =>
      udpFrame({ dstMac: STATIC_REMOTE, srcMac: H1, srcIp: "198.51.100.1", dstIp: "198.51.100.100", srcPort: 2000 + i, dstPort: 7, payload: Buffer.from(`port ${i}`) }),
    );
    await sw.sendFromHost("p1", frames);
    await cap.waitFor(frames.length, 5000);
    const pkts = vxlanOnly(await cap.stop());
    expect(pkts).toHaveLength(frames.length);
    // 16 flows into 16384 ports: all in one would be a hash that ignores the ports
    expect(new Set(pkts.map((p) => p.udp!.srcPort)).size).toBeGreaterThan(8);
    // and one flow keeps its port
    const again = await sw.captureSpine("udp port 4789");
    await sw.sendFromHost("p1", [frames[3]!, frames[3]!, frames[3]!]);
    await again.waitFor(3, 5000);
    expect(new Set(vxlanOnly(await again.stop()).map((p) => p.udp!.srcPort)).size).toBe(1);
  });

  it("learned the sending host on its port", async () => {
    expect(await fdb()).toContainEqual(expect.objectContaining({ vni: 100, mac: H1, type: "local", port: "h1" }));
  });
});

describe("overlay -> access port (decap)", () => {
  const fromRemote = (inner: Buffer, vni = 100, src = REMOTE_A) =>
    vxlanEncap({ outer: { dstMac: sw.uplinkMac, srcMac: sw.spineMac, srcIp: src, dstIp: VTEP }, vni, inner });

  it("decapsulates to the port that holds the inner destination, and nowhere else", async () => {
    // let the switch learn h2 first (a broadcast from it)
    await sw.sendFromHost("p2", [arpRequest({ srcMac: H2, srcIp: "198.51.100.2", targetIp: "198.51.100.250" })]);
    await expect.poll(fdb).toContainEqual(expect.objectContaining({ vni: 100, mac: H2, port: "h2" }));

    const [c1, c2, c3] = await Promise.all([sw.captureHost("p1"), sw.captureHost("p2"), sw.captureHost("p3")]);
    // addressed to h2's MAC but not its IP, so h2's stack stays silent (no ICMP, no ARP) during the capture
    const inner = udpFrame({ dstMac: H2, srcMac: "02:00:00:00:bb:01", srcIp: "198.51.100.77", dstIp: "198.51.100.222", srcPort: 5, dstPort: 9, payload: Buffer.from("to h2") });
    await sw.sendFromSpine([fromRemote(inner, 100, REMOTE_B)]);
    await c2.waitFor(1, 5000);
    const [p1, p2, p3] = await Promise.all([c1.stop({ settleMs: 300 }), c2.stop(), c3.stop({ settleMs: 300 })]);
    expect(p2).toHaveLength(1);
    expect(p2[0]!.raw.equals(inner)).toBe(true);
    expect(p2[0]!.udp?.dstPort).toBe(9);
    expect(p1).toHaveLength(0);
    expect(p3).toHaveLength(0);
  });

  it("learns the inner source against the outer source IP, and sends replies there", async () => {
    await expect.poll(fdb).toContainEqual(expect.objectContaining({ vni: 100, mac: "02:00:00:00:bb:01", type: "remote", remote: REMOTE_B }));
    const cap = await sw.captureSpine("udp port 4789");
    const reply = ethernet({ dst: "02:00:00:00:bb:01", src: H2, ethertype: ETH_P_IPV4, payload: Buffer.alloc(46, 1) });
    await sw.sendFromHost("p2", [reply]);
    await cap.waitFor(1, 5000);
    const pkts = vxlanOnly(await cap.stop());
    expect(pkts).toHaveLength(1);
    expect(pkts[0]!.ip!.dst).toBe(REMOTE_B);
    expect(pkts[0]!.vxlan!.vni).toBe(100);
  });

  it("does not take VXLAN that is not for its VTEP address, or non-VXLAN traffic", async () => {
    const before = await sw.counters();
    const inner = udpFrame({ dstMac: H2, srcMac: "02:00:00:00:bb:02", srcIp: "198.51.100.78", dstIp: "198.51.100.2", srcPort: 5, dstPort: 9, payload: Buffer.from("x") });
    const notOurs = vxlanEncap({ outer: { dstMac: sw.uplinkMac, srcMac: sw.spineMac, srcIp: REMOTE_A, dstIp: "198.18.0.99" }, vni: 100, inner });
    const c2 = await sw.captureHost("p2");
    await sw.sendFromSpine([notOurs]);
    const got = await c2.stop({ settleMs: 500 });
    expect(got).toHaveLength(0);
    const after = await sw.counters();
    expect(after.uplink_pass_kernel! - before.uplink_pass_kernel!).toBeGreaterThanOrEqual(1n);
    expect(after.decap_fwd).toBe(before.decap_fwd);
  });
});

describe("vxgate show", () => {
  const cli = (...args: string[]) => execFileSync(process.execPath, ["--import", "tsx", CLI, ...args], { encoding: "utf8" });

  it("prints the forwarding table as a human table and as JSON, from the management API", () => {
    const human = cli("show", "fdb", "--config", sw.configPath);
    expect(human.split("\n")[0]).toMatch(/^VNI\s+MAC\s+TYPE\s+SOURCE\s+PORT/);
    expect(human).toMatch(new RegExp(`100\\s+${STATIC_REMOTE}\\s+remote\\s+static\\s+-\\s+-\\s+${REMOTE_A.replace(/\./g, "\\.")}\\s`));
    const rows = JSON.parse(cli("show", "fdb", "--json", "--config", sw.configPath)) as FdbRow[];
    expect(rows).toContainEqual(expect.objectContaining({ vni: 100, mac: H1, type: "local", port: "h1" }));
  });

  it("shows ports with how each stage is attached, and the counters that moved", () => {
    const ports = JSON.parse(cli("show", "ports", "--json", "--config", sw.configPath)) as { name: string; role: string; fastPath: string; replication: string }[];
    expect(ports.map((p) => p.name).sort()).toEqual(["eth0", "h1", "h2", "h3"]);
    for (const p of ports) {
      expect(p.fastPath).toBe("xdp native");
      expect(p.replication).toBe("tcx ingress");
    }
    expect(cli("show", "counters", "--config", sw.configPath)).toMatch(/^encap_fwd\s+\d+\s+\d+$/m);
    const flood = JSON.parse(cli("show", "flood", "--json", "--config", sw.configPath)) as { vni: number; type: string; target: string }[];
    expect(flood.filter((f) => f.vni === 100).map((f) => f.target)).toEqual(["h1", "h2", REMOTE_A, REMOTE_B]);
  });

  // last: it stops the control plane
  it("reads the pinned fast path when the control plane is down", async () => {
    await sw.fabric.kill(sw.name, "SIGKILL");
    const r = spawnSync(process.execPath, ["--import", "tsx", CLI, "show", "fdb", "--json", "--config", sw.configPath], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stderr).toContain("control plane not running; read from the pinned fast path");
    expect(JSON.parse(r.stdout) as FdbRow[]).toContainEqual(expect.objectContaining({ vni: 100, mac: H1, type: "local", port: "h1" }));
    const status = spawnSync(process.execPath, ["--import", "tsx", CLI, "show", "status", "--config", sw.configPath], { encoding: "utf8" });
    expect(status.status).toBe(1);
    expect(status.stderr).toContain("cannot reach vxgate");
  });
});
