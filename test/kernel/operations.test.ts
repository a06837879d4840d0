// Operations on a running switch: GET /metrics scraped over the management
// socket and read by an independent Prometheus text-format parser, checked
// against /v1/counters, /v1/fdb and /v1/status; the socket's access rights;
// static MACs added and removed at run time with `vxgate mac add|del` (they
// forward like config static MACs, survive a control-plane restart, are
// removed by `vxgate stop`; bad input names the field and changes nothing; a
// config static MAC cannot be deleted).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, lstatSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { CLI } from "../../lab/fabric.ts";
import { runAsync } from "../harness/proc.ts";
import { udpFrame } from "../harness/index.ts";
import { Scrape } from "../harness/prometheus.ts";
import { counterNames } from "../../src/codegen/tables.ts";
import type { FdbRow } from "../../src/control/runtime.ts";
import { MapCounter } from "../../src/control/targets/ebpf/map-count.ts";
import { createLogger } from "../../src/control/log.ts";
import { bootSwitch, type SwitchUnderTest } from "./switch-fixture.ts";

const CONFIG_STATIC = "02:00:00:00:6a:01"; // static on h1 in the config
const API_STATIC = "02:00:00:00:6a:02"; // added at run time, on h2

let sw: SwitchUnderTest;

beforeAll(async () => {
  sw = await bootSwitch(
    "ops",
    `ports:
  - { name: h1, vni: 100 }
  - { name: h2, vni: 100 }
vnis:
  - vni: 100
    static_macs:
      - { mac: "${CONFIG_STATIC}", port: h1 }
  - vni: 200
tables: { fdb: 200000 }
`,
    [
      { name: "p1", port: "h1", mac: "02:00:00:00:06:01", cidr: "198.51.100.1/24" },
      { name: "p2", port: "h2", mac: "02:00:00:00:06:02", cidr: "198.51.100.2/24" },
    ],
  );
}, 60_000);

afterAll(async () => {
  await sw?.dispose();
});

const socket = () => sw.fabric.config(sw.name).management.socket;

function scrape(): Promise<{ status: number; type?: string; body: string }> {
  return new Promise((ok, fail) => {
    const req = request({ socketPath: socket(), path: "/metrics", agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => ok({ status: res.statusCode!, type: res.headers["content-type"], body }));
    });
    req.on("error", fail);
    req.end();
  });
}

const vxgate = (...args: string[]) =>
  runAsync(null, "nsenter", [`--net=${sw.lab.netnsPath(sw.fabric.switchNs(sw.name))}`, process.execPath, "--import", "tsx", CLI, ...args, "--config", sw.configPath], { timeoutMs: 60_000 });

/** The FDB without the ages (they grow between two reads). */
const fdbNow = async () => (await sw.api<FdbRow[]>("fdb")).map(({ ageSeconds: _a, ...r }) => r);
const fdbRow = async (mac: string) => (await sw.api<FdbRow[]>("fdb")).find((r) => r.vni === 100 && r.mac === mac);

/** Frames from p1 to `dst` (learning p1 on the way). */
const sendTo = (dst: string, n: number) =>
  sw.sendFromHost(
    "p1",
    Array.from({ length: n }, () => udpFrame({ dstMac: dst, srcMac: "02:00:00:00:06:01", srcIp: "198.51.100.1", dstIp: "198.51.100.2", srcPort: 7, dstPort: 9, payload: Buffer.alloc(100) })),
  );

describe("management socket", () => {
  it("is root's alone: a socket of mode 0600 owned by root", () => {
    const st = lstatSync(socket());
    expect(st.isSocket()).toBe(true);
    expect((st.mode & 0o777).toString(8)).toBe("600");
    expect(st.uid).toBe(0);
  });
});

describe("GET /metrics", () => {
  it("agrees with /v1/counters for every fast-path counter, packets and bytes", async () => {
    await sendTo("02:00:00:00:06:02", 20);
    type Counters = Record<string, { packets: string; bytes: string }>;
    const before = await sw.api<Counters>("counters");
    const r = await scrape();
    const after = await sw.api<Counters>("counters");
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const s = new Scrape(r.body);
    expect(s.family("vxgate_fastpath_packets_total").type).toBe("COUNTER");
    expect(s.samples("vxgate_fastpath_packets_total").map(([l]) => l.counter).sort()).toEqual([...counterNames].sort());
    for (const n of counterNames) {
      for (const [metric, field] of [["vxgate_fastpath_packets_total", "packets"], ["vxgate_fastpath_bytes_total", "bytes"]] as const) {
        const v = s.value(metric, { counter: n })!;
        // background chatter (IPv6 neighbour discovery) may count between the reads
        expect(v, `${metric} ${n}`).toBeGreaterThanOrEqual(Number(before[n]![field]));
        expect(v, `${metric} ${n}`).toBeLessThanOrEqual(Number(after[n]![field]));
      }
    }
    expect(s.value("vxgate_fastpath_packets_total", { counter: "local_fwd" })).toBeGreaterThanOrEqual(20);
  });

  it("reports table occupancy from the kernel's counts, learning and BGP-less sections", async () => {
    await sendTo("02:00:00:00:06:02", 1);
    const rows = await sw.api<FdbRow[]>("fdb");
    const s = new Scrape((await scrape()).body);
    expect(s.value("vxgate_table_entries", { table: "fdb" })).toBe(rows.length);
    expect(s.value("vxgate_table_max_entries", { table: "fdb" })).toBe(200000);
    expect(s.value("vxgate_table_entries", { table: "vnis" })).toBe(2);
    expect(s.value("vxgate_table_max_entries", { table: "vnis" })).toBe(4096);
    // flood: h1 and h2 in VNI 100, nothing in 200
    expect(s.value("vxgate_table_entries", { table: "flood" })).toBe(2);
    for (const t of ["fdb", "vnis", "flood", "vteps", "ports", "vlans", "mirror", "mirror_ip", "mirror_term"]) expect(s.value("vxgate_table_max_entries", { table: t }), t).toBeGreaterThan(0);
    const status = await sw.api<{ learnEvents: number }>("status");
    expect(s.value("vxgate_l2_learned_total")).toBe(status.learnEvents);
    expect(s.value("vxgate_static_macs", { origin: "config" })).toBe(1);
    expect(s.samples("vxgate_bgp_session_state")).toEqual([]);
    expect(s.value("vxgate_info", { switch: sw.name })).toBe(1);
    // the occupancy comes from a pinned iterator beside the maps
    expect(existsSync(`/sys/fs/bpf/vxgate/${sw.name}/map_counts`)).toBe(true);
  });

  it("leaves the counts out, saying why once, where the iterator cannot be pinned", () => {
    const lines: { level: string; msg: string }[] = [];
    const c = new MapCounter(`${sw.lab.tmpdir}/not-bpffs/map_counts`, createLogger({ level: "info", json: true, sink: (l) => lines.push(JSON.parse(l)) }));
    expect(c.read()).toBeUndefined();
    expect(c.read()).toBeUndefined();
    expect(c.unavailable).toBeTruthy();
    expect(lines.map((l) => [l.level, l.msg])).toEqual([["warn", "table occupancy unavailable: cannot pin the map-count iterator (needs clang, bpftool and a kernel >= 6.6)"]]);
  });
});

describe("static MACs at run time", () => {
  it("refuses bad input naming the field, and changes nothing", async () => {
    const before = await fdbNow();
    const bad = await vxgate("mac", "add", "--vni", "100", "--mac", "02:00:00:00:6a", "--port", "h2");
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe('vxgate: mac: "02:00:00:00:6a" is not a valid MAC address (want aa:bb:cc:dd:ee:ff)\n');
    const vni = await vxgate("mac", "add", "--vni", "300", "--mac", API_STATIC, "--port", "h2");
    expect(vni.stderr).toBe("vxgate: vni: 300 is not a VNI of this switch (configured: 100, 200)\n");
    const port = await vxgate("mac", "add", "--vni", "200", "--mac", API_STATIC, "--port", "h2");
    expect(port.stderr).toBe("vxgate: port: h2 does not carry vni 200 (neither untagged nor on a VLAN)\n");
    const cfgStatic = await vxgate("mac", "del", "--vni", "100", "--mac", CONFIG_STATIC);
    expect(cfgStatic.status).toBe(1);
    expect(cfgStatic.stderr).toContain(`vxgate: mac ${CONFIG_STATIC} in vni 100 is a static MAC of the config file`);
    expect(await fdbNow()).toEqual(before);
    expect(existsSync(`/run/vxgate/${sw.name}/static-macs.json`)).toBe(false);
  });

  it("adds one that forwards like a config static MAC, logged with who asked", async () => {
    const from = sw.fabric.logOf(sw.name).length;
    const r = await vxgate("mac", "add", "--vni", "100", "--mac", API_STATIC, "--port", "h2");
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`static MAC ${API_STATIC} in vni 100 added at port h2\n`);
    expect(await fdbRow(API_STATIC)).toMatchObject({ type: "local", port: "h2", source: "static", static: true });
    const log = sw.fabric.logOf(sw.name).slice(from).split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    expect(log.find((l) => l.msg === "static MAC added")).toMatchObject({ level: "info", vni: 100, mac: API_STATIC, port: "h2", by: { via: "unix socket", client: expect.stringMatching(/@.* pid \d+$/) } });
    // frames to it go out h2 only, without flooding
    const cap = await sw.captureHost("p2", `ether dst ${API_STATIC}`);
    const flood = (await sw.counters()).bum_to_tc;
    await sendTo(API_STATIC, 5);
    await cap.waitFor(5, 5000);
    expect((await cap.stop()).length).toBe(5);
    expect((await sw.counters()).bum_to_tc).toBe(flood);
    // the data path never moves a static entry: frames from it on h1 do not
    await sw.sendFromHost("p1", [udpFrame({ dstMac: "02:00:00:00:06:02", srcMac: API_STATIC, srcIp: "198.51.100.9", dstIp: "198.51.100.2", srcPort: 7, dstPort: 9, payload: Buffer.from("x") })]);
    expect(await fdbRow(API_STATIC)).toMatchObject({ port: "h2", static: true });
    const s = new Scrape((await scrape()).body);
    expect(s.value("vxgate_static_macs", { origin: "api" })).toBe(1);
  });

  it("survives a control-plane restart (kept in the run directory, reconciled like the config's)", async () => {
    expect(JSON.parse(readFileSync(`/run/vxgate/${sw.name}/static-macs.json`, "utf8"))).toEqual([{ vni: 100, mac: API_STATIC, port: "h2" }]);
    await sw.fabric.kill(sw.name);
    await sw.fabric.start(sw.name);
    expect(await fdbRow(API_STATIC)).toMatchObject({ type: "local", port: "h2", static: true });
    expect(await sw.api("static-macs")).toEqual([{ vni: 100, mac: API_STATIC, port: "h2" }]);
  });

  it("removes one it added; a removed one is learned again like any host", async () => {
    const r = await vxgate("mac", "del", "--vni", "100", "--mac", API_STATIC);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`static MAC ${API_STATIC} in vni 100 removed\n`);
    expect(await fdbRow(API_STATIC)).toBeUndefined();
    expect(await fdbRow(CONFIG_STATIC)).toMatchObject({ static: true });
    const again = await vxgate("mac", "del", "--vni", "100", "--mac", API_STATIC);
    expect(again.stderr).toBe(`vxgate: mac ${API_STATIC} in vni 100 is not a static MAC added through the API\n`);
    await sw.sendFromHost("p1", [udpFrame({ dstMac: "02:00:00:00:06:02", srcMac: API_STATIC, srcIp: "198.51.100.9", dstIp: "198.51.100.2", srcPort: 7, dstPort: 9, payload: Buffer.from("x") })]);
    await expect.poll(() => fdbRow(API_STATIC), { timeout: 5000 }).toMatchObject({ port: "h1", source: "learned", static: false });
  });

  it("is removed by vxgate stop with the rest of the switch", async () => {
    expect((await vxgate("mac", "add", "--vni", "100", "--mac", API_STATIC, "--remote", "198.18.0.2")).status).toBe(0);
    expect(await fdbRow(API_STATIC)).toMatchObject({ type: "remote", remote: "198.18.0.2", static: true });
    const stop = await vxgate("stop");
    expect(stop.status, stop.stderr).toBe(0);
    expect(existsSync(`/run/vxgate/${sw.name}`)).toBe(false);
    expect(existsSync(`/sys/fs/bpf/vxgate/${sw.name}`)).toBe(false);
    // a new switch from the same config starts without it
    await sw.fabric.start(sw.name);
    expect(await fdbRow(API_STATIC)).toBeUndefined();
    expect(await sw.api("static-macs")).toEqual([]);
  }, 60_000);
});
