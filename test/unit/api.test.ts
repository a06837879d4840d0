// The management API's access rules and write side, over a fake runtime: the
// Unix socket is root's alone (0600, checked once bound, whatever the umask),
// an HTTP listener on a non-loopback address needs a bearer token (401
// without it, constant-time compare), /metrics on both listeners, and the
// write endpoints: bad input names the field and changes nothing, each change
// is logged at info with who asked.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chmodSync, lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { counterNames, constants } from "../../src/codegen/tables.ts";
import { ManagementApi, bearerMatches } from "../../src/control/api.ts";
import { createLogger } from "../../src/control/log.ts";
import { StaticMacFeature } from "../../src/control/static-macs.ts";
import type { Runtime } from "../../src/control/runtime.ts";
import type { Target } from "../../src/control/targets/target.ts";
import { Scrape } from "../harness/prometheus.ts";

const cfg = parseConfig(readFileSync(join(import.meta.dirname, "../fixtures/config/full.yaml"), "utf8"), "full.yaml");
const IFINDEX: Record<string, number> = { h1: 10, h2: 11, trunk1: 12, trunk2: 13 };

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: () => any;
}

function call(to: { socketPath: string } | { host: string; port: number }, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((ok, fail) => {
    const h = { ...headers, ...(body !== undefined ? { "content-type": "application/json" } : {}) };
    const req = request({ ...to, method, path, headers: h }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (data += c));
      res.on("end", () => ok({ status: res.statusCode!, headers: res.headers, body: data, json: () => JSON.parse(data) }));
    });
    req.on("error", fail);
    req.end(body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body));
  });
}

function fakeRuntime(dir: string, log = createLogger({ level: "error" })) {
  const fdb = new Map<string, any>();
  const key = (k: { vni: number; mac: string }) => `${k.vni}/${k.mac}`;
  const fdbHandle = { get: (k: any) => fdb.get(key(k))?.[1], set: (k: any, v: any) => void fdb.set(key(k), [k, v]), delete: (k: any) => fdb.delete(key(k)), entries: () => [...fdb.values()] };
  const target = {
    kind: "fake",
    adopted: false,
    table: () => fdbHandle,
    counters: () => Object.fromEntries(counterNames.map((n, i) => [n, { packets: BigInt(i), bytes: BigInt(i * 100) }])),
    tableOccupancy: () => [{ table: "fdb", maxEntries: 131072, entries: fdb.size }],
  } as unknown as Target;
  const staticMacs = new StaticMacFeature(cfg, target, log, {
    stateFile: join(dir, "run", "static-macs.json"),
    ifindexOf: (n) => IFINDEX[n]!,
    hooks: { fdbChanged() {}, localAdded() {}, localRemoved() {}, vnisChanged() {}, vtepSeen() {} },
  });
  const resets: string[] = [];
  const speaker = {
    summary: () => [{ neighbor: "10.0.0.254", remoteAs: 65000, type: "iBGP", role: "peer", state: "Active", pfxRcvd: 0, pfxAccepted: 0, pfxSent: 0, msgRcvd: 0, msgSent: 0, flaps: 0, aggregation: true, gracefulRestart: "off" }],
    counters: {},
    session: () => ({ state: "Active" }),
    resetNeighbor(address: string, o: { soft?: boolean }) {
      if (address !== "10.0.0.254") return false;
      if (o.soft) throw new Error("the session to 10.0.0.254 is Active, not Established: nothing to re-send");
      resets.push(address);
      return true;
    },
  };
  const frozen = new Set(["100/02:00:00:00:0c:01"]);
  const evpn = {
    speaker,
    port: { duplicates: [] },
    clearDuplicate: (vni: number, mac: string) => {
      const was = frozen.delete(`${vni}/${mac}`);
      return { speaker: was, fdb: was };
    },
  };
  const rt = {
    config: cfg,
    target,
    startedAt: new Date(),
    staticMacs,
    evpn,
    l2: { stats: { learnEvents: 0, moveEvents: 0, evpnMoves: 0, aged: 0, noNeighEvents: 0 }, resyncs: { sweeps: 0, recovered: 0, lastMs: 0 } },
    mirror: { rows: () => [] },
    status: () => ({ switch: "leaf1" }),
    counterRows: () => target.counters(),
  } as unknown as Runtime;
  return { rt, fdb: fdbHandle, resets };
}

let dir: string;
let api: ManagementApi | undefined;
let lines: { level: string; msg: string; [k: string]: any }[];

async function start(o: { http?: { host: string; port: number }; tokenFile?: string } = {}) {
  const log = createLogger({ level: "info", json: true, sink: (l) => lines.push(JSON.parse(l)) });
  const f = fakeRuntime(dir, log);
  api = new ManagementApi(f.rt, log, { stop: async () => {}, exit() {} });
  const socketPath = join(dir, "mgmt.sock");
  await api.listen({ socket: socketPath, ...o });
  const http = api.httpAddress();
  return { ...f, unix: { socketPath }, http: http ? { host: "127.0.0.1", port: http.port } : undefined };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vxg-api-"));
  lines = [];
});
afterEach(async () => {
  await api?.close();
  api = undefined;
  rmSync(dir, { recursive: true, force: true });
});

describe("management socket", () => {
  it("is root's alone (0600, uid 0) even under a permissive umask", async () => {
    const old = process.umask(0);
    try {
      const { unix } = await start();
      const st = lstatSync(unix.socketPath);
      expect(st.isSocket()).toBe(true);
      expect((st.mode & 0o777).toString(8)).toBe("600");
      expect(st.uid).toBe(0);
      expect(st.gid).toBe(0);
      expect((await call(unix, "GET", "/v1/status")).json()).toEqual({ switch: "leaf1" });
      expect(process.umask(0)).toBe(0); // the process's own umask again (the API restored it)
    } finally {
      process.umask(old);
    }
  });
});

describe("HTTP listener and bearer token", () => {
  const tokenFile = () => {
    const f = join(dir, "token");
    writeFileSync(f, "s3cret-token\n");
    chmodSync(f, 0o600);
    return f;
  };

  it("serves loopback without a token when none is configured", async () => {
    const { http } = await start({ http: { host: "127.0.0.1", port: 0 } });
    expect((await call(http!, "GET", "/v1/status")).status).toBe(200);
  });

  it("refuses a non-loopback listener without a token before listening at all", async () => {
    const f = fakeRuntime(dir);
    api = new ManagementApi(f.rt, createLogger({ level: "error" }), { stop: async () => {}, exit() {} });
    await expect(api.listen({ socket: join(dir, "mgmt.sock"), http: { host: "0.0.0.0", port: 0 } })).rejects.toThrow(/not a loopback address: it needs management.token_file/);
    expect(() => lstatSync(join(dir, "mgmt.sock"))).toThrow();
  });

  it("with a token: every HTTP request needs Authorization: Bearer, the Unix socket does not", async () => {
    const { http, unix } = await start({ http: { host: "0.0.0.0", port: 0 }, tokenFile: tokenFile() });
    const none = await call(http!, "GET", "/v1/status");
    expect(none.status).toBe(401);
    expect(none.headers["www-authenticate"]).toBe('Bearer realm="vxgate"');
    expect(none.json().error).toMatch(/Authorization: Bearer/);
    expect((await call(http!, "GET", "/v1/status", undefined, { authorization: "Bearer s3cret-tokeN" })).status).toBe(401);
    expect((await call(http!, "GET", "/v1/status", undefined, { authorization: "Basic s3cret-token" })).status).toBe(401);
    // writes too, and nothing changes
    expect((await call(http!, "POST", "/v1/static-macs", { vni: 100, mac: "02:00:00:00:0a:01", port: "h1" })).status).toBe(401);
    expect((await call(http!, "GET", "/metrics")).status).toBe(401);
    const ok = await call(http!, "GET", "/v1/status", undefined, { authorization: "Bearer s3cret-token" });
    expect(ok.status).toBe(200);
    expect((await call(unix, "GET", "/v1/static-macs")).json()).toEqual([]);
    expect(lines.filter((l) => l.msg.includes("without a valid bearer token"))).toHaveLength(1); // not one per request
  });

  it("also on loopback when a token_file is given", async () => {
    const { http } = await start({ http: { host: "127.0.0.1", port: 0 }, tokenFile: tokenFile() });
    expect((await call(http!, "GET", "/v1/status")).status).toBe(401);
    expect((await call(http!, "GET", "/v1/status", undefined, { authorization: "bearer s3cret-token" })).status).toBe(200);
  });

  it("compares tokens whatever their lengths", () => {
    expect(bearerMatches("Bearer abc", "abc")).toBe(true);
    expect(bearerMatches("Bearer abcd", "abc")).toBe(false);
    expect(bearerMatches("Bearer ", "")).toBe(false);
    expect(bearerMatches(undefined, "abc")).toBe(false);
  });
});

describe("GET /metrics", () => {
  it("answers in the Prometheus text format on the socket and over HTTP", async () => {
    const { unix, http } = await start({ http: { host: "127.0.0.1", port: 0 } });
    for (const to of [unix, http!]) {
      const r = await call(to, "GET", "/metrics");
      expect(r.status).toBe(200);
      expect(r.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
      const s = new Scrape(r.body);
      expect(s.value("vxgate_fastpath_packets_total", { counter: "decap_fwd" })).toBe(counterNames.indexOf("decap_fwd"));
      expect(s.value("vxgate_bgp_session_state", { neighbor: "10.0.0.254", state: "Active" })).toBe(1);
    }
    expect((await call(unix, "POST", "/metrics")).status).toBe(405);
  });
});

describe("write API", () => {
  const CLIENT = { "x-vxgate-client": "alice (sudo)@box pid 42" };

  it("adds and removes a static MAC, logging who and what", async () => {
    const { unix, fdb } = await start();
    const add = await call(unix, "POST", "/v1/static-macs", { vni: 100, mac: "02:00:00:00:0A:01", port: "h1" }, CLIENT);
    expect(add.status).toBe(201);
    expect(add.json()).toEqual({ mac: { vni: 100, mac: "02:00:00:00:0a:01", port: "h1" }, replaced: false });
    expect(fdb.get({ vni: 100, mac: "02:00:00:00:0a:01" })).toMatchObject({ kind: constants.FDB_LOCAL, flags: constants.FDB_STATIC, ifindex: 10 });
    expect(lines.find((l) => l.msg === "static MAC added")).toMatchObject({ level: "info", by: { via: "unix socket", client: "alice (sudo)@box pid 42" }, vni: 100, mac: "02:00:00:00:0a:01", port: "h1" });
    expect((await call(unix, "GET", "/v1/static-macs")).json()).toEqual([{ vni: 100, mac: "02:00:00:00:0a:01", port: "h1" }]);
    const del = await call(unix, "DELETE", "/v1/static-macs/100/02:00:00:00:0a:01", undefined, CLIENT);
    expect(del.status).toBe(200);
    expect(fdb.get({ vni: 100, mac: "02:00:00:00:0a:01" })).toBeUndefined();
    expect(lines.find((l) => l.msg === "static MAC removed")).toMatchObject({ by: { client: "alice (sudo)@box pid 42" } });
  });

  it("refuses bad input naming the field, and changes nothing", async () => {
    const { unix, fdb } = await start();
    const bad = async (method: string, path: string, body: unknown, status: number, error: string) => {
      const r = await call(unix, method, path, body);
      expect(r.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(status);
      expect(r.json().errors).toContain(error);
    };
    await bad("POST", "/v1/static-macs", { vni: 100, mac: "zz", port: "h1" }, 400, 'mac: "zz" is not a valid MAC address (want aa:bb:cc:dd:ee:ff)');
    const notJson = await call(unix, "POST", "/v1/static-macs", "{ nope");
    expect(notJson.status).toBe(400);
    expect(notJson.json().errors[0]).toMatch(/^request body is not JSON: /);
    await bad("POST", "/v1/static-macs", { vni: 100, mac: "02:00:00:00:01:01", port: "h1" }, 409, "mac: 02:00:00:00:01:01 in vni 100 is a static MAC of the config file (full.yaml): change it there");
    await bad("DELETE", "/v1/static-macs/100/02:00:00:00:01:01", undefined, 409, "mac 02:00:00:00:01:01 in vni 100 is a static MAC of the config file (full.yaml): remove it there");
    await bad("DELETE", "/v1/static-macs/10x/02:00:00:00:01:01", undefined, 400, 'vni: must be an integer in 1..16777215, got string "10x"');
    await bad("POST", "/v1/evpn/clear-duplicate", { vni: 100 }, 400, "missing required key 'mac'");
    await bad("POST", "/v1/evpn/clear-duplicate", { vni: 777, mac: "02:00:00:00:0c:01" }, 400, "vni: 777 is not a VNI of this switch (configured: 100, 200, 300)");
    await bad("POST", "/v1/evpn/clear-duplicate", { vni: 100, mac: "02:00:00:00:0c:02" }, 404, "mac 02:00:00:00:0c:02 in vni 100 is not frozen: no duplicate to clear");
    await bad("POST", "/v1/bgp/neighbors/10.0.0.254/reset", { soft: "yes" }, 400, 'soft: must be true or false, got string "yes"');
    await bad("POST", "/v1/bgp/neighbors/10.0.0.9/reset", {}, 404, "neighbor: 10.0.0.9 is not a BGP neighbor of this switch (neighbors: 10.0.0.254)");
    await bad("POST", "/v1/bgp/neighbors/10.0.0.254/reset", { soft: true }, 409, "the session to 10.0.0.254 is Active, not Established: nothing to re-send");
    expect(fdb.entries()).toEqual([]);
    expect(lines.filter((l) => l.level === "info" && l.msg !== "management api listening")).toEqual([]);
  });

  it("clears a duplicate and resets a neighbor, logging who asked", async () => {
    const { unix, resets } = await start();
    const c = await call(unix, "POST", "/v1/evpn/clear-duplicate", { vni: 100, mac: "02:00:00:00:0C:01" }, CLIENT);
    expect(c.status).toBe(200);
    expect(c.json()).toEqual({ cleared: { vni: 100, mac: "02:00:00:00:0c:01", mobility: true, fdbFrozen: true } });
    expect(lines.find((l) => l.msg === "duplicate MAC cleared")).toMatchObject({ level: "info", by: { client: CLIENT["x-vxgate-client"] }, vni: 100 });
    // no body: a hard reset
    const r = await call(unix, "POST", "/v1/bgp/neighbors/10.0.0.254/reset", undefined, CLIENT);
    expect(r.status).toBe(200);
    expect(resets).toEqual(["10.0.0.254"]);
    expect(lines.find((l) => l.msg.startsWith("BGP neighbor reset"))).toMatchObject({ level: "info", neighbor: "10.0.0.254", soft: false, by: { via: "unix socket" } });
  });
});
