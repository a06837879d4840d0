#!/usr/bin/env -S npx tsx
// vxgate: the switch daemon and its command line.
//   vxgate run   --config switch.yaml     boot the switch and serve the management API
//   vxgate check --config switch.yaml     validate only
//   vxgate build --config switch.yaml --out DIR   generate C and compile the ELF ahead of time
//   vxgate show  fdb|vni|ports|flood|counters|status|moves [--json] (--config F | --socket S)
//   vxgate show  bgp summary | evpn routes | evpn mac [--json]     (GET /v1/bgp/summary, /v1/evpn/routes, /v1/evpn/mac)
//   vxgate show  mirror [--json]          mirror sessions, this switch's role in each, counters
//   vxgate mirror add NAME --host-mac M --host-vni V --server-mac M --server-vni V --host-id N [...]
//   vxgate mirror del NAME                (POST / DELETE /v1/mirror/sessions)
//   vxgate stop  --config switch.yaml     remove everything the switch put in the kernel
import { parseArgs } from "node:util";
import { request } from "node:http";
import { existsSync } from "node:fs";
import { loadConfigFile } from "../config/load.ts";
import { ConfigError, type SwitchConfig } from "../config/types.ts";
import { pipelineFor } from "../codegen/pipeline.ts";
import { buildPipeline, CompileError, DEFAULT_CACHE_DIR } from "../codegen/build.ts";
import { createLogger } from "../control/log.ts";
import type { ApiView } from "../control/api.ts";
import { renderTable } from "./table.ts";
import { counterNames } from "../codegen/tables.ts";
import { EVPN_VIEWS, renderEvpnView, type EvpnView } from "../control/evpn/show.ts";
import { renderMirror } from "../control/mirror/show.ts";
import type { MirrorRow } from "../control/mirror/feature.ts";

const USAGE = `usage:
  vxgate run   --config FILE [--artifacts DIR] [--xdp-mode auto|native|generic] [--log-level debug|info|warn]
  vxgate check --config FILE
  vxgate build --config FILE --out DIR
  vxgate show  fdb|vni|ports|flood|counters|status|moves|mirror [--json] (--config FILE | --socket PATH)
  vxgate mirror add NAME --host-mac MAC --host-vni VNI [--host-ip IP] --server-mac MAC --server-vni VNI [--server-ip IP]
                    --host-id 1..65535 [--direction both|from-host|to-host] [--match mac|ip] (--config FILE | --socket PATH)
  vxgate mirror del NAME (--config FILE | --socket PATH)
  vxgate show  bgp summary | evpn routes | evpn mac [--json] (--config FILE | --socket PATH)
  vxgate stop  --config FILE
`;

class UsageError extends Error {}

/** The API refused a request: its own words (a list of errors) reach the user. */
class ApiError extends Error {
  constructor(path: string, body: string) {
    let msg = `${path}: ${body}`;
    try {
      const j = JSON.parse(body) as { errors?: string[]; error?: string };
      if (j.errors) msg = j.errors.join("\n");
      else if (j.error) msg = j.error;
    } catch {
      // not JSON: show it as it came
    }
    super(msg);
  }
}

/** `vxgate mirror add` flags -> the API's JSON session (the API validates it). */
function mirrorSessionBody(name: string | undefined, v: Record<string, string | boolean | undefined>): Record<string, unknown> {
  if (!name) throw new UsageError("mirror add needs a session NAME");
  const num = (x: string | boolean | undefined) => (typeof x === "string" && /^[0-9]+$/.test(x) ? Number(x) : x);
  const endpoint = (p: "host" | "server") => {
    const e: Record<string, unknown> = { mac: v[`${p}-mac`], vni: num(v[`${p}-vni`]) };
    if (v[`${p}-ip`] !== undefined) e.ip = v[`${p}-ip`];
    return e;
  };
  const body: Record<string, unknown> = { name, host: endpoint("host"), server: endpoint("server"), host_id: num(v["host-id"]) };
  if (v.direction !== undefined) body.direction = v.direction;
  if (v.match !== undefined) body.match = v.match;
  return body;
}

function loadOrExplain(file: string | undefined): SwitchConfig {
  if (!file) throw new UsageError("--config is required");
  return loadConfigFile(file);
}

async function apiCall(socketPath: string, method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<unknown> {
  return new Promise((ok, fail) => {
    const headers = body === undefined ? {} : { "content-type": "application/json" };
    const req = request({ socketPath, method, path, headers }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (data += c));
      res.on("end", () => {
        if ((res.statusCode ?? 500) >= 400) fail(new ApiError(path, data));
        else ok(JSON.parse(data));
      });
    });
    req.on("error", (e) => fail(new Error(`cannot reach vxgate at ${socketPath}: ${(e as Error).message}`)));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

function renderView(v: ApiView, data: unknown): string {
  switch (v) {
    case "fdb":
      return renderTable(data as Record<string, unknown>[], ["vni", "mac", "type", "source", "port", "vlan", "remote", "frozen", "ageSeconds"]);
    case "vni":
      return renderTable(
        (data as Record<string, unknown>[]).map((r) => ({ ...r, ports: (r.ports as string[]).join(",") })),
        ["vni", "learning", "floodAndLearn", "ageingSeconds", "floodTargets", "ports"],
      );
    case "ports":
      return renderTable(data as Record<string, unknown>[], ["name", "ifindex", "role", "vni", "vlans", "fastPath", "replication", "rxPackets", "txPackets"]);
    case "flood":
      return renderTable(data as Record<string, unknown>[], ["vni", "slot", "type", "target", "vlan"]);
    case "counters": {
      const c = data as Record<string, { packets: string; bytes: string }>;
      const rows = counterNames.filter((n) => c[n] && c[n].packets !== "0").map((n) => ({ counter: n, packets: c[n]!.packets, bytes: c[n]!.bytes }));
      return renderTable(rows, ["counter", "packets", "bytes"]);
    }
    case "moves":
      return renderTable(data as Record<string, unknown>[], ["at", "vni", "mac", "to"]);
    case "mirror":
      return renderMirror(data as MirrorRow[]);
    case "status":
      return renderTable(Object.entries(data as Record<string, unknown>).map(([k, v]) => ({ key: k, value: v })), ["key", "value"]);
  }
}

/** The management socket named by --socket, or by the config's management section. */
function socketOf(values: { socket?: string; config?: string }, cfg?: SwitchConfig): string {
  const socket = values.socket ?? (cfg ?? (values.config ? loadOrExplain(values.config) : undefined))?.management.socket;
  if (!socket) throw new UsageError("--config or --socket is required");
  return socket;
}

async function inspectPinned(cfg: SwitchConfig, what: ApiView): Promise<unknown> {
  const { Runtime } = await import("../control/runtime.ts");
  const { view } = await import("../control/api.ts");
  const rt = Runtime.inspect({ config: cfg, log: createLogger({ level: "error" }) });
  if (!rt) return undefined;
  // through JSON, as the API would have sent it (bigints become strings)
  return JSON.parse(JSON.stringify(view(rt, what), (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      config: { type: "string", short: "c" },
      out: { type: "string" },
      artifacts: { type: "string" },
      socket: { type: "string" },
      json: { type: "boolean" },
      "xdp-mode": { type: "string" },
      "log-level": { type: "string" },
      "host-mac": { type: "string" },
      "host-vni": { type: "string" },
      "host-ip": { type: "string" },
      "server-mac": { type: "string" },
      "server-vni": { type: "string" },
      "server-ip": { type: "string" },
      "host-id": { type: "string" },
      direction: { type: "string" },
      match: { type: "string" },
    },
  });
  switch (cmd) {
    case "check": {
      const cfg = loadOrExplain(values.config);
      process.stdout.write(`${values.config}: ok (switch ${cfg.switch.name}, ${cfg.ports.length} access ports, ${cfg.vnis.length} VNIs)\n`);
      return 0;
    }
    case "build": {
      const cfg = loadOrExplain(values.config);
      if (!values.out) throw new UsageError("--out is required");
      const b = buildPipeline(pipelineFor(cfg), values.out);
      process.stdout.write(`${b.reused ? "up to date" : "built"}: ${b.objectPath} (hash ${b.hash})\n`);
      return 0;
    }
    case "run": {
      const cfg = loadOrExplain(values.config);
      const log = createLogger({ level: (values["log-level"] as "info") ?? "info", base: { switch: cfg.switch.name } });
      const mode = values["xdp-mode"] as "auto" | "native" | "generic" | undefined;
      if (mode && !["auto", "native", "generic"].includes(mode)) throw new UsageError(`--xdp-mode ${mode}: expected auto, native or generic`);
      // the fast-path modules load the native addon: only commands that touch the kernel import them
      const { Runtime } = await import("../control/runtime.ts");
      const { ManagementApi } = await import("../control/api.ts");
      const rt = await Runtime.boot({ config: cfg, log, cacheDir: values.artifacts ?? DEFAULT_CACHE_DIR, xdpMode: mode });
      let stopping = false;
      const api = new ManagementApi(rt, log, {
        onStop: () => {
          if (stopping) return;
          stopping = true;
          log.info("stop requested: removing the fast path");
          void rt
            .destroy()
            .then(() => api.close())
            .then(() => process.exit(0));
        },
      });
      await api.listen(cfg.management.socket, cfg.management.http);
      const leave = (sig: string) => {
        if (stopping) return;
        stopping = true;
        // the pinned fast path keeps forwarding; the next `vxgate run` adopts it
        log.info("control plane exiting, fast path left forwarding", { signal: sig });
        void rt
          .release()
          .then(() => api.close())
          .then(() => process.exit(0));
      };
      process.on("SIGTERM", () => leave("SIGTERM"));
      process.on("SIGINT", () => leave("SIGINT"));
      log.info("switch running", { vtep: cfg.vtep.sourceIp, ports: rt.target.ports().length, adopted: rt.target.adopted });
      return await new Promise<number>(() => {}); // runs until a signal or `stop`
    }
    case "show": {
      if (positionals[0] === "bgp" || positionals[0] === "evpn") {
        const v = positionals.slice(0, 2).join("/") as EvpnView;
        if (!EVPN_VIEWS.includes(v)) throw new UsageError("show bgp summary | show evpn routes | show evpn mac");
        const data = await apiCall(socketOf(values), "GET", `/v1/${v}`);
        process.stdout.write(values.json ? JSON.stringify(data, null, 2) + "\n" : renderEvpnView(v, data));
        return 0;
      }
      const what = positionals[0] as ApiView | undefined;
      const views: ApiView[] = ["fdb", "vni", "ports", "flood", "counters", "status", "moves", "mirror"];
      if (!what || !views.includes(what)) throw new UsageError(`show what? one of ${views.join(", ")}`);
      const cfg = values.config ? loadOrExplain(values.config) : undefined;
      const socket = socketOf(values, cfg);
      let data: unknown;
      try {
        data = await apiCall(socket, "GET", `/v1/${what}`);
      } catch (e) {
        // control plane down: the fast path may still be forwarding from its pins
        const pinned = cfg && ["fdb", "vni", "ports", "flood", "counters", "mirror"].includes(what) ? await inspectPinned(cfg, what) : undefined;
        if (pinned === undefined) throw e;
        process.stderr.write(`vxgate: ${cfg!.switch.name}: control plane not running; read from the pinned fast path\n`);
        data = pinned;
      }
      process.stdout.write(values.json ? JSON.stringify(data, null, 2) + "\n" : renderView(what, data));
      return 0;
    }
    case "mirror": {
      const [verb, name] = positionals;
      const socket = socketOf(values);
      if (verb === "add") {
        const r = (await apiCall(socket, "POST", "/v1/mirror/sessions", mirrorSessionBody(name, values))) as { session: { name: string; hostId: number } };
        process.stdout.write(`mirror session ${r.session.name} added (host_id ${r.session.hostId})\n`);
        return 0;
      }
      if (verb === "del" && name) {
        await apiCall(socket, "DELETE", `/v1/mirror/sessions/${encodeURIComponent(name)}`);
        process.stdout.write(`mirror session ${name} removed\n`);
        return 0;
      }
      throw new UsageError("mirror add NAME ... | mirror del NAME");
    }
    case "stop": {
      const cfg = loadOrExplain(values.config);
      if (existsSync(cfg.management.socket)) {
        try {
          await apiCall(cfg.management.socket, "POST", "/v1/stop");
          process.stdout.write(`${cfg.switch.name}: stopping\n`);
          return 0;
        } catch {
          // no daemon behind the socket: clean up directly below
        }
      }
      const { EbpfTarget } = await import("../control/targets/ebpf/target.ts");
      EbpfTarget.removePinned(cfg.switch.name);
      process.stdout.write(`${cfg.switch.name}: fast path removed\n`);
      return 0;
    }
    default:
      process.stderr.write(USAGE);
      return cmd ? 2 : 0;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    if (e instanceof ConfigError) process.stderr.write(e.problems.join("\n") + "\n");
    else if (e instanceof ApiError) process.stderr.write(`vxgate: ${e.message}\n`);
    else if (e instanceof UsageError) process.stderr.write(`vxgate: ${e.message}\n${USAGE}`);
    else if (e instanceof CompileError) process.stderr.write(`vxgate: ${e.message}\n${e.output}\n`);
    else {
      const err = e as Error & { log?: string };
      process.stderr.write(`vxgate: ${err.message}\n${err.log ? `verifier log:\n${err.log}\n` : ""}`);
    }
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
