// Restarting the control plane must not touch forwarding. A three-switch
// fabric (own switch names, sockets and configs: no collision with `npm run
// lab`) carries steady UDP streams between hosts on sw1 and sw2 while the
// control planes of BOTH switches on the path are killed (SIGKILL one, SIGTERM
// the other) and restarted: not one datagram may be lost, the restarted
// daemons adopt the pinned fast path, learned entries survive, and the tables
// reconcile with zero writes. Config changes made across a restart are applied
// and touch nothing else. Finally `vxgate stop` removes the pins and the XDP
// programs, after which traffic stops.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, Fabric, Lab, type SwitchSpec } from "../../lab/fabric.ts";
import { PYTHON, ethernet, ETH_P_IPV4, ping, sendFrames, sleep, startCapture, udpExchange, udpListen, type UdpListener } from "../harness/index.ts";

const VTEPS = ["198.18.0.1", "198.18.0.2", "198.18.0.3"];
const STATIC_MAC = "02:00:00:00:aa:01"; // added to sw2 later: behind sw3
const HOSTS = {
  a1: { sw: 0, port: "h1", mac: "02:00:00:00:01:01", ip: "198.51.100.1" },
  a2: { sw: 0, port: "h2", mac: "02:00:00:00:01:02", ip: "203.0.113.1" },
  b1: { sw: 1, port: "h1", mac: "02:00:00:00:02:01", ip: "198.51.100.2" },
  b2: { sw: 1, port: "h2", mac: "02:00:00:00:02:02", ip: "203.0.113.2" },
  c1: { sw: 2, port: "h1", mac: "02:00:00:00:03:01", ip: "198.51.100.3" },
  c2: { sw: 2, port: "h2", mac: "02:00:00:00:03:02", ip: "203.0.113.3" },
} as const;
type HostName = keyof typeof HOSTS;

let lab: Lab;
let fabric: Fabric;
let names: string[] = [];
const configPaths: string[] = [];

interface ConfigOpts {
  staticMac?: boolean;
  withoutVni200?: boolean;
  /** a trunk port h3 (VLAN 30 -> VNI 300): the first trunk changes the generated program */
  trunk?: boolean;
}

function writeConfig(i: number, o: ConfigOpts = {}): void {
  const others = VTEPS.filter((_, j) => j !== i).join(", ");
  const vni200 = o.withoutVni200
    ? ""
    : `
  - vni: 200
    flood: [${others}]`;
  const statics = o.staticMac
    ? `
    static_macs:
      - { mac: "${STATIC_MAC}", remote: ${VTEPS[2]} }`
    : "";
  writeFileSync(
    configPaths[i]!,
    `switch:
  name: ${names[i]}
vtep:
  source_ip: ${VTEPS[i]}
uplinks:
  - name: eth0
ports:
  - { name: h1, vni: 100 }${o.withoutVni200 ? "" : "\n  - { name: h2, vni: 200 }"}${o.trunk ? "\n  - { name: h3, vlans: { 30: 300 } }" : ""}
vnis:
  - vni: 100
    flood: [${others}]${statics}${vni200}${o.trunk ? "\n  - vni: 300" : ""}
management:
  socket: ${join(lab.tmpdir, `sw${i + 1}.sock`)}
`,
  );
}

const ns = (h: HostName) => fabric.hostNs(h);

interface Status {
  switch: string;
  adopted: boolean;
  startedAt: string;
  learnEvents: number;
  moveEvents: number;
}
type Counters = Record<string, { packets: string }>;

const api = <T>(sw: number, view: string) => fabric.api<T>(names[sw]!, view);
const fdbKeys = (rows: FdbRow[]) => rows.map((r) => `${r.vni} ${r.mac} ${r.type} ${r.port ?? r.remote} ${r.static}`).sort();
const packets = (c: Counters, k: string) => BigInt(c[k]!.packets);

/** JSON log records written since `offset` (the daemon logs JSON lines to a file). */
function logSince(sw: number, offset: number): Record<string, unknown>[] {
  return fabric
    .logOf(names[sw]!)
    .slice(offset)
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
const logLength = (sw: number) => fabric.logOf(names[sw]!).length;

// ---------------------------------------------------------------------------
// a sequence-numbered UDP stream: one datagram every intervalMs until stopped
// (bounded by maxCount), each carrying its number and send time

const STREAM_SENDER = `
import socket, sys, time, struct, signal
dst, port, interval, maxn = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
stop = [False]
def on_term(*_):
    stop[0] = True
signal.signal(signal.SIGTERM, on_term)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print("started", flush=True)
n = 0
t0 = time.monotonic()
while not stop[0] and n < maxn:
    s.sendto(struct.pack("!Id", n, time.time()) + b"restart-stream..", (dst, port))
    n += 1
    d = t0 + n * interval - time.monotonic()
    if d > 0:
        time.sleep(d)
print("sent %d" % n, flush=True)
`;
import type { FdbRow } from "../../src/control/runtime.ts";

interface StreamResult {
  sent: number;
  /** sequence numbers never received */
  missing: number[];
  duplicates: number;
  /** send times (epoch ms) by sequence number, of what was received */
  sentAt: Map<number, number>;
}

class Stream {
  private out = "";
  private constructor(
    private readonly sender: ChildProcess,
    private readonly listener: UdpListener,
  ) {
    sender.stdout!.setEncoding("utf8").on("data", (d: string) => (this.out += d));
  }

  static async start(from: HostName, to: HostName, port: number, intervalMs = 5, maxCount = 4000): Promise<Stream> {
    const listener = await udpListen(lab, ns(to), { port, timeoutMs: maxCount * intervalMs + 20_000 });
    const sender = lab.spawn(ns(from), PYTHON, ["-c", STREAM_SENDER, HOSTS[to].ip, String(port), String(intervalMs / 1000), String(maxCount)]);
    sender.stdin?.end();
    const s = new Stream(sender, listener);
    const until = Date.now() + 10_000;
    while (!s.out.includes("started")) {
      if (Date.now() > until || sender.exitCode !== null) throw new Error(`stream ${from} -> ${to} did not start`);
      await sleep(10);
    }
    return s;
  }

  async stop(): Promise<StreamResult> {
    const exited = new Promise<void>((r) => (this.sender.exitCode !== null ? r() : this.sender.once("exit", () => r())));
    this.sender.kill("SIGTERM");
    await Promise.race([exited, sleep(5000)]);
    const m = /sent (\d+)/.exec(this.out);
    if (!m) throw new Error(`stream sender said: ${this.out}`);
    const sent = Number(m[1]);
    // the last datagram crosses in well under a millisecond; leave it 300 ms
    await sleep(300);
    const r = await this.listener.stop();
    const seen = new Map<number, number>();
    let duplicates = 0;
    for (const d of r.datagrams) {
      const seq = d.payload.readUInt32BE(0);
      if (seen.has(seq)) duplicates++;
      seen.set(seq, d.payload.readDoubleBE(4) * 1000);
    }
    const missing: number[] = [];
    for (let i = 0; i < sent; i++) if (!seen.has(i)) missing.push(i);
    return { sent, missing, duplicates, sentAt: seen };
  }
}

const sentBetween = (r: StreamResult, from: number, to: number) => [...r.sentAt.values()].filter((t) => t >= from && t <= to).length;

async function pollUntil(ok: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

const xdpOn = (sw: number, dev?: string) => /prog\/xdp/.test(lab.ip(fabric.switchNs(names[sw]!), "-d", "link", "show", ...(dev ? ["dev", dev] : [])));

beforeAll(async () => {
  lab = new Lab("restart");
  names = [1, 2, 3].map((i) => `kt-rs-${process.pid.toString(36)}-sw${i}`);
  names.forEach((_, i) => configPaths.push(join(lab.tmpdir, `sw${i + 1}.yaml`)));
  names.forEach((_, i) => writeConfig(i));
  const specs: SwitchSpec[] = configPaths.map((configPath, i) => ({
    configPath,
    hosts: (Object.entries(HOSTS) as [HostName, (typeof HOSTS)[HostName]][])
      .filter(([, h]) => h.sw === i)
      .map(([name, h]) => ({ name, port: h.port, mac: h.mac, cidr: `${h.ip}/24` })),
  }));
  fabric = new Fabric(lab, specs);
  for (const n of names) await fabric.start(n);
  for (const n of names) {
    const swNs = fabric.switchNs(n);
    await pollUntil(() => /REACHABLE|STALE|DELAY|PROBE/.test(lab.exec(swNs, "ip", ["neigh", "show", "dev", "eth0"])), 5000, `${n}: next hop`);
  }
  // learn everyone on the path, in both VNIs
  for (const [from, to] of [
    ["a1", "b1"],
    ["b1", "a1"],
    ["a2", "b2"],
    ["a1", "c1"],
  ] as [HostName, HostName][]) {
    const r = await ping(lab, ns(from), HOSTS[to].ip, { count: 2, intervalS: 0.2, timeoutS: 2 });
    expect(r.received, `${from} -> ${to}: ${r.output}`).toBe(r.sent);
  }
});

afterAll(async () => {
  await fabric?.shutdown().catch(() => {});
  await lab?.dispose();
});

describe("control plane restart over a live fast path", () => {
  it("both control planes on the path die mid-stream (SIGKILL, SIGTERM) and come back: no datagram lost, state adopted as is", async () => {
    const [sw1, sw2] = [0, 1];
    const fdbBefore = await Promise.all([api<FdbRow[]>(sw1, "fdb"), api<FdbRow[]>(sw2, "fdb")]);
    const countersBefore = await Promise.all([api<Counters>(sw1, "counters"), api<Counters>(sw2, "counters")]);
    const floodBefore = await Promise.all([api(sw1, "flood"), api(sw2, "flood")]);
    const sw3Before = await api<Status>(2, "status");
    expect(fdbBefore[0]).toContainEqual(expect.objectContaining({ vni: 100, mac: HOSTS.b1.mac, type: "remote", remote: VTEPS[1] }));
    expect(fdbBefore[1]).toContainEqual(expect.objectContaining({ vni: 100, mac: HOSTS.a1.mac, type: "remote", remote: VTEPS[0] }));
    const logAt = [logLength(sw1), logLength(sw2)];

    const there = await Stream.start("a1", "b1", 9100);
    const back = await Stream.start("b1", "a1", 9101);
    await sleep(600);
    const downAt = Date.now();
    await Promise.all([fabric.kill(names[sw1]!, "SIGKILL"), fabric.kill(names[sw2]!, "SIGTERM")]);
    // really down: no management API, but the fast path is still attached
    await expect(api(sw1, "status")).rejects.toThrow();
    await expect(api(sw2, "status")).rejects.toThrow();
    expect(xdpOn(sw1, "eth0") && xdpOn(sw1, "h1") && xdpOn(sw2, "eth0") && xdpOn(sw2, "h1")).toBe(true);
    await sleep(1000);
    const restartAt = Date.now();
    await Promise.all([fabric.start(names[sw1]!), fabric.start(names[sw2]!)]);
    await sleep(500);
    const [r1, r2] = await Promise.all([there.stop(), back.stop()]);

    for (const [what, r] of [
      ["a1 -> b1", r1],
      ["b1 -> a1", r2],
    ] as const) {
      expect(r.missing, `${what}: lost ${r.missing.length} of ${r.sent}`).toEqual([]);
      expect(r.duplicates, what).toBe(0);
      // the streams really ran across the outage (5 ms spacing: ~200 while down)
      expect(sentBetween(r, downAt, restartAt), `${what}: datagrams sent while both control planes were down`).toBeGreaterThan(100);
      expect(r.sent).toBeGreaterThan(400);
    }

    // the SIGTERMed daemon said it left the fast path forwarding; the SIGKILLed one said nothing
    const exitLine = (sw: number) => logSince(sw, logAt[sw]!).filter((l) => l.msg === "control plane exiting, fast path left forwarding");
    expect(exitLine(sw2)).toEqual([expect.objectContaining({ signal: "SIGTERM" })]);
    expect(exitLine(sw1)).toEqual([]);

    for (const sw of [sw1, sw2]) {
      const st = await api<Status>(sw, "status");
      expect(st.adopted).toBe(true);
      // nothing had to be learned again: the entries survived in the pinned map
      expect(st.learnEvents).toBe(0);
      expect(st.moveEvents).toBe(0);
      const boot = logSince(sw, logAt[sw]!);
      // the new daemon's boot: everything from its first line on
      const after = boot.slice(boot.findIndex((l) => l.msg === "fast path generated"));
      expect(after.length).toBeGreaterThan(0);
      expect(after.map((l) => l.msg)).toContain("adopted pinned fast path");
      expect(after.map((l) => l.msg)).not.toContain("fast path loaded");
      expect(after.find((l) => l.msg === "tables reconciled")).toMatchObject({ written: 0, deleted: 0, adopted: true });

      const fdb = await api<FdbRow[]>(sw, "fdb");
      expect(fdbKeys(fdb)).toEqual(fdbKeys(fdbBefore[sw]!));
      expect(await api(sw, "flood")).toEqual(floodBefore[sw]);
      // counters live in the pinned map too: they carried on from where they were
      const c = await api<Counters>(sw, "counters");
      const [out, inn] = sw === sw1 ? [r1, r2] : [r2, r1];
      expect(packets(c, "encap_fwd") - packets(countersBefore[sw]!, "encap_fwd")).toBeGreaterThanOrEqual(BigInt(out.sent));
      expect(packets(c, "decap_fwd") - packets(countersBefore[sw]!, "decap_fwd")).toBeGreaterThanOrEqual(BigInt(inn.sent));
    }
    // the switch off the path was not touched
    expect(await api<Status>(2, "status")).toMatchObject({ startedAt: sw3Before.startedAt, adopted: false });
  });

  it("a config change (a static MAC) is applied on restart and nothing else is disturbed", async () => {
    const sw2 = 1;
    const fdbBefore = await api<FdbRow[]>(sw2, "fdb");
    const floodBefore = await api(sw2, "flood");
    const vniBefore = await api(sw2, "vni");
    writeConfig(sw2, { staticMac: true });
    const logAt = logLength(sw2);

    const there = await Stream.start("a1", "b1", 9200);
    const back = await Stream.start("b1", "a1", 9201);
    await sleep(400);
    await fabric.kill(names[sw2]!, "SIGTERM");
    await fabric.start(names[sw2]!);
    await sleep(400);
    const rs = await Promise.all([there.stop(), back.stop()]);
    for (const r of rs) expect(r.missing, `lost ${r.missing.length} of ${r.sent}`).toEqual([]);

    const st = await api<Status>(sw2, "status");
    expect(st).toMatchObject({ adopted: true, learnEvents: 0 });
    // exactly the new entry and its VTEP allow-list reference were written
    const rec = logSince(sw2, logAt).filter((l) => l.msg === "tables reconciled");
    expect(rec).toEqual([expect.objectContaining({ written: 2, deleted: 0, adopted: true })]);
    const fdb = await api<FdbRow[]>(sw2, "fdb");
    expect(fdb).toContainEqual(expect.objectContaining({ vni: 100, mac: STATIC_MAC, type: "remote", remote: VTEPS[2], static: true }));
    expect(fdbKeys(fdb.filter((r) => r.mac !== STATIC_MAC))).toEqual(fdbKeys(fdbBefore));
    expect(await api(sw2, "flood")).toEqual(floodBefore);
    expect(await api(sw2, "vni")).toEqual(vniBefore);

    // and the entry forwards: a frame from b1 to the static MAC goes to sw3 only (sw3 floods it to c1)
    const [atC1, atA1] = await Promise.all([
      startCapture(ns("c1"), "eth0", { lab, direction: "in", filter: `ether dst ${STATIC_MAC}` }),
      startCapture(ns("a1"), "eth0", { lab, direction: "in", filter: `ether dst ${STATIC_MAC}` }),
    ]);
    const frame = ethernet({ dst: STATIC_MAC, src: HOSTS.b1.mac, ethertype: ETH_P_IPV4, payload: Buffer.alloc(46, 7) });
    await sendFrames(ns("b1"), "eth0", [frame]);
    await atC1.waitFor(1, 5000);
    const [c1, a1] = await Promise.all([atC1.stop(), atA1.stop({ settleMs: 300 })]);
    expect(c1.map((p) => p.raw.equals(frame))).toEqual([true]);
    expect(a1).toHaveLength(0);
  });

  it("a change that regenerates the program (a trunk port and a VNI added, then removed) swaps programs atomically: nothing lost", async () => {
    const sw2 = 1;
    lab.veth(fabric.switchNs(names[sw2]!), "h3", lab.ns("b3"), "eth0");
    for (const step of [{ staticMac: true, trunk: true }, { staticMac: true }]) {
      writeConfig(sw2, step);
      const logAt = logLength(sw2);
      const there = await Stream.start("a1", "b1", 9400);
      const back = await Stream.start("b1", "a1", 9401);
      await sleep(400);
      await fabric.kill(names[sw2]!, "SIGTERM");
      await fabric.start(names[sw2]!);
      await sleep(400);
      const rs = await Promise.all([there.stop(), back.stop()]);
      for (const r of rs) expect(r.missing, `${step.trunk ? "adding" : "removing"} the trunk: lost ${r.missing.length} of ${r.sent}`).toEqual([]);
      // a new program (VLAN handling compiled in or out), swapped on every port that stays
      const up = logSince(sw2, logAt).filter((l) => l.msg === "fast path upgraded in place");
      expect(up).toEqual([expect.objectContaining({ portsSwapped: 3, portsAttached: step.trunk ? 1 : 0, portsRemoved: step.trunk ? [] : ["h3"] })]);
      expect(xdpOn(sw2, "h3")).toBe(!!step.trunk);
    }
  });

  it("`vxgate reload` (and SIGHUP) apply a changed file to the running switch: a trunk port and a VNI added, then removed, nothing lost; a bad file changes nothing", async () => {
    const sw2 = 1;
    const cli = (...args: string[]) => lab.run(null, process.execPath, ["--import", "tsx", CLI, ...args]);
    const startedAt = (await api<Status>(sw2, "status")).startedAt;
    for (const [step, how] of [[{ staticMac: true, trunk: true }, "cli"], [{ staticMac: true }, "sighup"]] as const) {
      writeConfig(sw2, step);
      const logAt = logLength(sw2);
      const there = await Stream.start("a1", "b1", 9500);
      const back = await Stream.start("b1", "a1", 9501);
      await sleep(300);
      if (how === "cli") {
        const r = cli("reload", "--config", configPaths[sw2]!);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/reloaded: ports, vnis/);
      } else {
        const pid = (await api<{ pid: number }>(sw2, "status")).pid;
        process.kill(pid, "SIGHUP");
        await pollUntil(() => logSince(sw2, logAt).some((l) => l.msg === "config reloaded"), 10_000, "the reload after SIGHUP");
      }
      await sleep(300);
      const rs = await Promise.all([there.stop(), back.stop()]);
      for (const r of rs) expect(r.missing, `${how}: lost ${r.missing.length} of ${r.sent}`).toEqual([]);
      // a new program swapped in place on every port that stays; the trunk port attached, then detached
      const up = logSince(sw2, logAt).filter((l) => l.msg === "fast path upgraded in place");
      expect(up).toEqual([expect.objectContaining({ portsSwapped: 3, portsAttached: step.trunk ? 1 : 0, portsRemoved: step.trunk ? [] : ["h3"] })]);
      expect(xdpOn(sw2, "h3")).toBe(!!step.trunk);
      expect((await api<{ vni: number }[]>(sw2, "vni")).map((v) => v.vni)).toEqual(step.trunk ? [100, 200, 300] : [100, 200]);
    }
    // the same daemon all along
    expect((await api<Status>(sw2, "status")).startedAt).toBe(startedAt);

    // a broken file: its errors, positioned, and nothing changes
    writeFileSync(configPaths[sw2]!, readFileSync(configPaths[sw2]!, "utf8").replace("  - vni: 100", "  - vni: 100000000"));
    const vniBefore = await api(sw2, "vni");
    const bad = cli("reload", "--config", configPaths[sw2]!);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/sw2\.yaml:\d+:\d+: vni 100000000 out of range 1\.\.16777215/);
    expect(await api(sw2, "vni")).toEqual(vniBefore);
    writeConfig(sw2, { staticMac: true });
  });

  it("removing a VNI (and its port) on restart removes exactly that VNI's state", async () => {
    const sw2 = 1;
    expect((await ping(lab, ns("a2"), HOSTS.b2.ip, { count: 2, intervalS: 0.2, timeoutS: 2 })).received).toBe(2);
    const fdbBefore = await api<FdbRow[]>(sw2, "fdb");
    const vni200Fdb = fdbBefore.filter((r) => r.vni === 200);
    expect(vni200Fdb.map((r) => r.mac).sort()).toEqual([HOSTS.a2.mac, HOSTS.b2.mac].sort());
    const sw1Vni = await api(0, "vni");
    writeConfig(sw2, { staticMac: true, withoutVni200: true });
    const logAt = logLength(sw2);

    const there = await Stream.start("a1", "b1", 9300);
    await sleep(400);
    await fabric.kill(names[sw2]!, "SIGTERM");
    await fabric.start(names[sw2]!);
    await sleep(400);
    const r = await there.stop();
    expect(r.missing, `lost ${r.missing.length} of ${r.sent}`).toEqual([]);

    expect(await api<Status>(sw2, "status")).toMatchObject({ adopted: true, learnEvents: 0 });
    // deleted: the port, VNI 200's 3 flood slots (h2, sw1, sw3), its 2 allow-list
    // entries, its 2 learned MACs, and the VNI itself; nothing written
    const rec = logSince(sw2, logAt).filter((l) => l.msg === "tables reconciled");
    expect(rec).toEqual([expect.objectContaining({ written: 0, deleted: 1 + 3 + 2 + vni200Fdb.length + 1 })]);
    expect((await api<{ vni: number }[]>(sw2, "vni")).map((v) => v.vni)).toEqual([100]);
    expect((await api<{ name: string }[]>(sw2, "ports")).map((p) => p.name).sort()).toEqual(["eth0", "h1"]);
    expect(fdbKeys(await api<FdbRow[]>(sw2, "fdb"))).toEqual(fdbKeys(fdbBefore.filter((r) => r.vni !== 200)));
    expect(xdpOn(sw2, "h2")).toBe(false);
    expect(xdpOn(sw2, "h1") && xdpOn(sw2, "eth0")).toBe(true);
    // VNI 200 is gone from sw2 only
    expect((await ping(lab, ns("a2"), HOSTS.b2.ip, { count: 2, intervalS: 0.2, timeoutS: 1 })).received).toBe(0);
    expect((await ping(lab, ns("a1"), HOSTS.b1.ip, { count: 2, intervalS: 0.2, timeoutS: 2 })).received).toBe(2);
    expect(await api(0, "vni")).toEqual(sw1Vni);
  });

  it("`vxgate stop` removes the pins and the XDP programs, and traffic stops", async () => {
    const [sw1, sw2] = [0, 1];
    const before = await udpExchange(lab, { from: ns("a1"), to: ns("b1"), dst: HOSTS.b1.ip, port: 9400, count: 20, waitMs: 500 });
    expect(before.received).toBe(20);
    for (const sw of [sw1, sw2]) fabric.stopAndRemove(names[sw]!);
    for (const sw of [sw1, sw2]) {
      const pins = `/sys/fs/bpf/vxgate/${names[sw]}`;
      await pollUntil(() => !existsSync(pins), 10_000, `${pins} to go`);
      await pollUntil(() => !xdpOn(sw), 10_000, `${names[sw]}: XDP to be detached`);
      expect(existsSync(`/run/vxgate/${names[sw]}/pinned.json`)).toBe(false);
      await expect(api(sw, "status")).rejects.toThrow();
      expect(lab.ip(fabric.switchNs(names[sw]!), "-d", "link", "show")).not.toMatch(/xdp/);
    }
    const after = await udpExchange(lab, { from: ns("a1"), to: ns("b1"), dst: HOSTS.b1.ip, port: 9401, count: 20, waitMs: 1000 });
    expect(after.received).toBe(0);
    expect((await ping(lab, ns("a1"), HOSTS.b1.ip, { count: 2, intervalS: 0.2, timeoutS: 1 })).received).toBe(0);
    // the third switch keeps its fast path
    expect(existsSync(`/sys/fs/bpf/vxgate/${names[2]}`)).toBe(true);
    expect(xdpOn(2, "eth0")).toBe(true);
  });
});
