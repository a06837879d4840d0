// The management API: HTTP/JSON on a local Unix socket (and optionally on a
// loopback TCP port). Read-only views of the runtime's tables plus `stop`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import type { Runtime } from "./runtime.ts";
import type { Logger } from "./log.ts";
import { EVPN_VIEWS, evpnView, type EvpnView } from "./evpn/show.ts";

export type ApiView = "status" | "fdb" | "vni" | "ports" | "flood" | "counters" | "moves" | "mirror";

export function view(rt: Runtime, v: ApiView): unknown {
  switch (v) {
    case "status":
      return rt.status();
    case "fdb":
      return rt.l2.fdbRows();
    case "vni":
      return rt.l2.vniRows();
    case "ports":
      return rt.l2.portRows();
    case "flood":
      return rt.l2.floodRows();
    case "counters":
      return rt.counterRows();
    case "moves":
      return rt.l2.moves;
    case "mirror":
      return rt.mirror.rows();
  }
}

const VIEWS = new Set<string>(["status", "fdb", "vni", "ports", "flood", "counters", "moves", "mirror"]);

/** Request bodies are small JSON documents (a mirror session). */
const BODY_MAX = 64 * 1024;

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((ok, fail) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
      if (body.length > BODY_MAX) {
        fail(new Error(`request body larger than ${BODY_MAX} bytes`));
        req.destroy();
      }
    });
    req.on("end", () => {
      try {
        ok(JSON.parse(body));
      } catch (e) {
        fail(new Error(`request body is not JSON: ${(e as Error).message}`));
      }
    });
    req.on("error", fail);
  });
}

export interface ApiHandlers {
  onStop(): void;
}

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify(body, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
}

export class ManagementApi {
  private readonly servers: Server[] = [];

  constructor(private readonly rt: Runtime, private readonly log: Logger, private readonly handlers: ApiHandlers) {}

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://vxgate");
    if (url.pathname.startsWith("/v1/mirror/sessions")) return void this.mirrorSessions(req, res, url.pathname);
    const m = /^\/v1\/([a-z]+(?:\/[a-z]+)?)$/.exec(url.pathname);
    if (!m) return json(res, 404, { error: `no such path ${url.pathname}` });
    const name = m[1]!;
    if (req.method === "GET" && (EVPN_VIEWS as readonly string[]).includes(name)) {
      const evpn = this.rt.evpn;
      if (!evpn) return json(res, 404, { error: "BGP EVPN is not configured on this switch (no bgp: section)" });
      return json(res, 200, evpnView(evpn.speaker, name as EvpnView));
    }
    if (req.method === "GET" && name === "evpn/duplicates") return json(res, 200, this.rt.evpn?.port.duplicates ?? []);
    if (req.method === "GET" && VIEWS.has(name)) return json(res, 200, view(this.rt, name as ApiView));
    if (req.method === "POST" && name === "stop") {
      json(res, 202, { stopping: true });
      setImmediate(() => this.handlers.onStop());
      return;
    }
    json(res, 404, { error: `no such view ${name}` });
  }

  /** POST /v1/mirror/sessions (JSON session), DELETE /v1/mirror/sessions/NAME */
  private async mirrorSessions(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const mirror = this.rt.mirror;
    if (req.method === "POST" && path === "/v1/mirror/sessions") {
      let body: unknown;
      try {
        body = await readJson(req);
      } catch (e) {
        return json(res, 400, { errors: [(e as Error).message] });
      }
      const r = mirror.add(body);
      return "errors" in r ? json(res, 400, r) : json(res, 201, r);
    }
    const m = /^\/v1\/mirror\/sessions\/([^/]+)$/.exec(path);
    if (req.method === "DELETE" && m) {
      const r = mirror.remove(decodeURIComponent(m[1]!));
      return "errors" in r ? json(res, 404, r) : json(res, 200, r);
    }
    json(res, 404, { error: `no such path ${req.method} ${path}` });
  }

  async listen(socketPath: string, http?: { host: string; port: number }): Promise<void> {
    mkdirSync(dirname(socketPath), { recursive: true });
    if (existsSync(socketPath)) rmSync(socketPath); // a stale socket from a killed daemon
    const unix = createServer((q, s) => this.handle(q, s));
    await new Promise<void>((ok, fail) => unix.once("error", fail).listen(socketPath, () => ok()));
    this.servers.push(unix);
    this.log.info("management api listening", { socket: socketPath });
    if (http) {
      const tcp = createServer((q, s) => this.handle(q, s));
      await new Promise<void>((ok, fail) => tcp.once("error", fail).listen(http.port, http.host, () => ok()));
      this.servers.push(tcp);
      this.log.info("management api listening", { http: `${http.host}:${http.port}` });
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((ok) => s.close(() => ok()))));
  }
}
