// The management API: HTTP/JSON on a local Unix socket (and optionally on a
// TCP port: loopback, or any address with a bearer token). Views of the
// runtime's tables, Prometheus metrics (GET /metrics), what operators change
// at run time (static MACs, mirror sessions, duplicate-MAC freezes, BGP
// neighbour resets: each logged at info with who asked), and `stop`, which
// answers once the switch is out of the kernel.
//
// Access: the Unix socket is root's alone (mode 0600, owner root, checked
// once it is bound); over TCP every request carries `Authorization: Bearer
// <token>` when the config names a management.token_file (which it must for
// an address other than loopback), else 401.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createHash, timingSafeEqual } from "node:crypto";
import { dirname } from "node:path";
import type { Runtime } from "./runtime.ts";
import type { Logger } from "./log.ts";
import { EVPN_VIEWS, evpnView, type EvpnView } from "./evpn/show.ts";
import { ValueReport, bool, isLoopbackHost, obj, opt } from "../config/schema.ts";
import { parseVniMac, type Requester } from "./static-macs.ts";
import { SwitchMetrics, runtimeSource } from "./metrics.ts";

export type ApiView = "status" | "fdb" | "vni" | "ports" | "flood" | "counters" | "moves" | "mirror" | "mcast" | "mcast/local" | "igmp/groups" | "igmp/ports" | "igmp/querier";

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
    case "mcast":
      return rt.mcast.rows();
    case "mcast/local":
      return rt.mcast.localMembership();
    case "igmp/groups":
      return rt.mcast.igmpGroups();
    case "igmp/ports":
      return rt.mcast.igmpPorts();
    case "igmp/querier":
      return rt.mcast.igmpQuerier();
  }
}

const VIEWS = new Set<string>(["status", "fdb", "vni", "ports", "flood", "counters", "moves", "mirror", "mcast", "mcast/local", "igmp/groups", "igmp/ports", "igmp/querier"]);

/** Request bodies are small JSON documents (a mirror session, a static MAC). */
const BODY_MAX = 64 * 1024;

/** The header the CLI names its user in (logged as given: the socket being root-only is the authentication). */
export const CLIENT_HEADER = "x-vxgate-client";

/** Who asked, for the log: the listener, the TCP peer, what the client says it is. */
function requester(req: IncomingMessage, via: Via): Requester {
  const h = req.headers[CLIENT_HEADER];
  const client = typeof h === "string" ? h.slice(0, 200) : undefined;
  const who: Requester = via === "unix" ? { via: "unix socket" } : { via: "http", remote: `${req.socket.remoteAddress}:${req.socket.remotePort}` };
  if (client) who.client = client;
  return who;
}

type Via = "unix" | "http";

/** Constant-time bearer check: both sides hashed to one length first. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer +([^\s]+) *$/i.exec(header ?? "");
  const given = createHash("sha256").update(m?.[1] ?? "").digest();
  const want = createHash("sha256").update(token).digest();
  return timingSafeEqual(given, want) && m !== null;
}

/** The JSON body; an empty one reads as undefined where the body is optional. */
function readJson(req: IncomingMessage, opts: { optional?: boolean } = {}): Promise<unknown> {
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
      if (body.trim() === "") {
        if (opts.optional) return ok(undefined);
        return fail(new Error("request body is empty: a JSON object is expected"));
      }
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
  /** Remove everything the switch put in the kernel; resolves once it is gone. */
  stop(): Promise<void>;
  /** The answer to `stop` went out: close the API and exit the process. */
  exit(code: number): void;
  /** Re-read the config file and apply it to the running switch (`vxgate reload`): what changed, or the file's problems. */
  reload?(): Promise<{ changed: string[] } | { errors: string[] }>;
}

/** What POST /v1/stop answers, once the switch is removed (200) or removing
 * it failed (500). The caller waits for the process itself to exit: pid is
 * only meaningful in the same PID namespace (pidNs, the inode of it). */
export interface StopAnswer {
  stopped: boolean;
  pid: number;
  pidNs?: number;
  error?: string;
}

export function pidNamespace(): number | undefined {
  try {
    return statSync("/proc/self/ns/pid").ino;
  } catch {
    return undefined;
  }
}

const bigintAsString = (_k: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);

function json(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(code, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body, bigintAsString));
}

/** How much JSON text a streamed answer hands the socket at a time. */
const STREAM_CHUNK = 64 * 1024;

/** A 200 whose body is a JSON array of `rows`, the same text JSON.stringify
 *  would make of the whole array, written a chunk at a time as the rows are
 *  made, each chunk only once the client took the one before: neither the rows
 *  nor their text are ever all in memory. A client that hangs up stops it. */
export async function streamJsonArray(res: ServerResponse, rows: Iterable<unknown>): Promise<void> {
  let it: Iterator<unknown>;
  let text = "[";
  let first = true;
  try {
    it = rows[Symbol.iterator]();
    // the first row before the headers: a table that cannot be read is a 500
    let r = it.next();
    res.writeHead(200, { "content-type": "application/json" });
    for (; !r.done; r = it.next()) {
      text += (first ? "" : ",") + JSON.stringify(r.value, bigintAsString);
      first = false;
      if (text.length < STREAM_CHUNK) continue;
      const more = res.write(text);
      text = "";
      if (!more) {
        await new Promise<void>((ok) => {
          const done = () => {
            res.off("drain", done);
            res.off("close", done);
            ok();
          };
          res.on("drain", done);
          res.on("close", done);
        });
        if (res.destroyed) return;
      }
    }
  } catch (e) {
    if (!res.headersSent) return json(res, 500, { error: (e as Error).message });
    res.destroy(e as Error); // half a table must not read as a whole one
    return;
  }
  res.end(text + "]");
}

/** Where the management API listens (the config's management section). */
export interface ListenOptions {
  socket: string;
  http?: { host: string; port: number };
  /** file holding the bearer token HTTP requests must carry */
  tokenFile?: string;
}

const resetSchema = obj({ soft: opt(bool(), false) });

export class ManagementApi {
  private readonly servers: Server[] = [];
  /** set by the first stop request; resolves to the failure, if any */
  private stopping?: Promise<string | undefined>;
  private exiting = false;
  /** HTTP requests must carry it (Authorization: Bearer) when set */
  private token?: string;
  private tcp?: Server;
  private metrics?: SwitchMetrics;
  private refused = { count: 0, loggedAt: 0 };

  constructor(private readonly rt: Runtime, private readonly log: Logger, private readonly handlers: ApiHandlers) {}

  private handle(req: IncomingMessage, res: ServerResponse, via: Via): void {
    if (via === "http" && this.token !== undefined && !bearerMatches(req.headers.authorization, this.token)) return this.unauthorized(req, res);
    const url = new URL(req.url ?? "/", "http://vxgate");
    if (req.method === "POST" && url.pathname === "/v1/stop") {
      this.log.info("stop requested", { by: requester(req, via) });
      return void this.stop(res);
    }
    // the tables are being torn down: nothing to show, nothing to change
    if (this.stopping) return json(res, 503, { error: "the switch is stopping" });
    if (req.method === "POST" && url.pathname === "/v1/reload") {
      this.log.info("reload requested", { by: requester(req, via) });
      if (!this.handlers.reload) return json(res, 501, { errors: ["this API cannot reload"] });
      void this.handlers.reload().then(
        (r) => json(res, "errors" in r ? 400 : 200, r),
        (e: unknown) => json(res, 500, { errors: [(e as Error).message] }),
      );
      return;
    }
    if (url.pathname === "/metrics") {
      if (req.method !== "GET") return json(res, 405, { error: "GET /metrics" }, { allow: "GET" });
      return void this.scrape(res);
    }
    if (url.pathname.startsWith("/v1/mirror/sessions")) return void this.mirrorSessions(req, res, url.pathname, via);
    if (url.pathname === "/v1/mcast/remotes") return void this.mcastRemotes(req, res, via);
    if (url.pathname === "/v1/static-macs" || url.pathname.startsWith("/v1/static-macs/")) return void this.staticMacs(req, res, url.pathname, via);
    if (url.pathname === "/v1/evpn/clear-duplicate") return void this.clearDuplicate(req, res, via);
    if (url.pathname.startsWith("/v1/bgp/neighbors/")) return void this.bgpReset(req, res, url.pathname, via);
    const m = /^\/v1\/([a-z]+(?:\/[a-z]+)?)$/.exec(url.pathname);
    if (!m) return json(res, 404, { error: `no such path ${url.pathname}` });
    const name = m[1]!;
    if (req.method === "GET" && (EVPN_VIEWS as readonly string[]).includes(name)) {
      const evpn = this.rt.evpn;
      if (!evpn) return json(res, 404, { error: "BGP EVPN is not configured on this switch (no bgp: section)" });
      return json(res, 200, evpnView(evpn.speaker, name as EvpnView));
    }
    if (req.method === "GET" && name === "evpn/duplicates") return json(res, 200, this.rt.evpn?.port.duplicates ?? []);
    // the forwarding table can hold a million entries: its rows go out as they are made
    if (req.method === "GET" && name === "fdb") return void streamJsonArray(res, this.rt.l2.fdbRowsSorted());
    if (req.method === "GET" && VIEWS.has(name)) return json(res, 200, view(this.rt, name as ApiView));
    json(res, 404, { error: `no such view ${name}` });
  }

  /** POST /v1/stop: answer only when the switch is removed (or removing it
   * failed), then exit; `vxgate stop` waits for that exit. */
  private async stop(res: ServerResponse): Promise<void> {
    this.stopping ??= this.handlers.stop().then(
      () => undefined,
      (e: unknown) => (e as Error).message ?? String(e),
    );
    const error = await this.stopping;
    const answer: StopAnswer = { stopped: error === undefined, pid: process.pid, pidNs: pidNamespace(), ...(error ? { error } : {}) };
    res.once("finish", () => {
      if (this.exiting) return;
      this.exiting = true;
      this.handlers.exit(error ? 1 : 0);
    });
    json(res, error ? 500 : 200, answer, { connection: "close" });
  }

  /** 401, and a warning now and then (not one per request of a scanner). */
  private unauthorized(req: IncomingMessage, res: ServerResponse): void {
    this.refused.count++;
    const now = Date.now();
    if (now - this.refused.loggedAt > 10_000) {
      this.log.warn("management api: request without a valid bearer token refused", { remote: `${req.socket.remoteAddress}:${req.socket.remotePort}`, path: req.url, refused: this.refused.count });
      this.refused = { count: 0, loggedAt: now };
    }
    req.resume();
    json(res, 401, { error: "this listener needs Authorization: Bearer <token> (the token in management.token_file)" }, { "www-authenticate": 'Bearer realm="vxgate"' });
  }

  /** GET /metrics: Prometheus text exposition format. */
  private async scrape(res: ServerResponse): Promise<void> {
    try {
      this.metrics ??= new SwitchMetrics(runtimeSource(this.rt));
      const text = await this.metrics.scrape();
      res.writeHead(200, { "content-type": this.metrics.contentType });
      res.end(text);
    } catch (e) {
      this.log.error("metrics scrape failed", { error: (e as Error).message });
      json(res, 500, { error: `metrics: ${(e as Error).message}` });
    }
  }

  /** GET /v1/static-macs; POST /v1/static-macs (JSON {vni, mac, port | remote}); DELETE /v1/static-macs/VNI/MAC */
  private async staticMacs(req: IncomingMessage, res: ServerResponse, path: string, via: Via): Promise<void> {
    const macs = this.rt.staticMacs;
    if (path === "/v1/static-macs" && req.method === "GET") return json(res, 200, macs.list());
    if (path === "/v1/static-macs" && req.method === "POST") {
      let body: unknown;
      try {
        body = await readJson(req);
      } catch (e) {
        return json(res, 400, { errors: [(e as Error).message] });
      }
      const r = macs.add(body, requester(req, via));
      return "errors" in r ? json(res, r.status, { errors: r.errors }) : json(res, r.replaced ? 200 : 201, r);
    }
    const m = /^\/v1\/static-macs\/([^/]+)\/([^/]+)$/.exec(path);
    if (m && req.method === "DELETE") {
      const vni = decodeURIComponent(m[1]!);
      const r = macs.remove({ vni: /^[0-9]+$/.test(vni) ? Number(vni) : vni, mac: decodeURIComponent(m[2]!) }, requester(req, via));
      return "errors" in r ? json(res, r.status, { errors: r.errors }) : json(res, 200, r);
    }
    json(res, 404, { error: `no such path ${req.method} ${path} (GET or POST /v1/static-macs, DELETE /v1/static-macs/VNI/MAC)` });
  }

  /** POST /v1/evpn/clear-duplicate (JSON {vni, mac}): lift a duplicate-detection freeze. */
  private async clearDuplicate(req: IncomingMessage, res: ServerResponse, via: Via): Promise<void> {
    if (req.method !== "POST") return json(res, 405, { error: "POST /v1/evpn/clear-duplicate" }, { allow: "POST" });
    let body: unknown;
    try {
      body = await readJson(req);
    } catch (e) {
      return json(res, 400, { errors: [(e as Error).message] });
    }
    const evpn = this.rt.evpn;
    if (!evpn) return json(res, 404, { errors: ["BGP EVPN is not configured on this switch (no bgp: section)"] });
    const p = parseVniMac(body);
    if ("errors" in p) return json(res, 400, p);
    const vnis = this.rt.config.vnis.map((v) => v.vni);
    if (!vnis.includes(p.vni)) return json(res, 400, { errors: [`vni: ${p.vni} is not a VNI of this switch (configured: ${vnis.join(", ") || "none"})`] });
    const r = evpn.clearDuplicate(p.vni, p.mac);
    if (!r.speaker && !r.fdb) return json(res, 404, { errors: [`mac ${p.mac} in vni ${p.vni} is not frozen: no duplicate to clear`] });
    this.log.info("duplicate MAC cleared", { by: requester(req, via), vni: p.vni, mac: p.mac, mobility: r.speaker, fdbFrozen: r.fdb });
    json(res, 200, { cleared: { vni: p.vni, mac: p.mac, mobility: r.speaker, fdbFrozen: r.fdb } });
  }

  /** POST /v1/bgp/neighbors/ADDRESS/reset (optional JSON {soft: true}) */
  private async bgpReset(req: IncomingMessage, res: ServerResponse, path: string, via: Via): Promise<void> {
    const m = /^\/v1\/bgp\/neighbors\/([^/]+)\/reset$/.exec(path);
    if (!m) return json(res, 404, { error: `no such path ${path} (POST /v1/bgp/neighbors/ADDRESS/reset)` });
    if (req.method !== "POST") return json(res, 405, { error: `POST ${path}` }, { allow: "POST" });
    let body: unknown;
    try {
      body = (await readJson(req, { optional: true })) ?? {};
    } catch (e) {
      return json(res, 400, { errors: [(e as Error).message] });
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) return json(res, 400, { errors: [`body must be a JSON object, got ${body === null ? "null" : Array.isArray(body) ? "an array" : `a ${typeof body}`}`] });
    const r = new ValueReport(body);
    const opts = resetSchema(r.root, r, [], "body", { line: 1, col: 1 });
    if (r.count > 0 || !opts) return json(res, 400, { errors: r.problems() });
    const evpn = this.rt.evpn;
    if (!evpn) return json(res, 404, { errors: ["BGP EVPN is not configured on this switch (no bgp: section)"] });
    const neighbor = decodeURIComponent(m[1]!);
    const soft = opts.soft ?? false;
    try {
      if (!evpn.speaker.resetNeighbor(neighbor, { soft })) {
        const known = evpn.speaker.summary().map((x) => x.neighbor);
        return json(res, 404, { errors: [`neighbor: ${neighbor} is not a BGP neighbor of this switch (neighbors: ${known.join(", ") || "none"})`] });
      }
    } catch (e) {
      return json(res, 409, { errors: [(e as Error).message] });
    }
    this.log.info(soft ? "BGP neighbor soft reset: our routes sent again" : "BGP neighbor reset: session restarted", { by: requester(req, via), neighbor, soft });
    json(res, 200, { neighbor, soft, state: evpn.speaker.session(neighbor)?.state });
  }

  /** POST /v1/mcast/remotes {vni, group, source?, remotes}: a controller says
   * where a group's members are; its list replaces the config file's for
   * that group (an empty list: no static members). */
  private async mcastRemotes(req: IncomingMessage, res: ServerResponse, via: Via): Promise<void> {
    if (req.method !== "POST") return json(res, 405, { error: "POST /v1/mcast/remotes" }, { allow: "POST" });
    let body: unknown;
    try {
      body = await readJson(req);
    } catch (e) {
      return json(res, 400, { errors: [(e as Error).message] });
    }
    const r = this.rt.mcast.setRemotes(body, requester(req, via));
    return "errors" in r ? json(res, 400, r) : json(res, 200, r);
  }

  /** POST /v1/mirror/sessions (JSON session), DELETE /v1/mirror/sessions/NAME */
  private async mirrorSessions(req: IncomingMessage, res: ServerResponse, path: string, via: Via): Promise<void> {
    const mirror = this.rt.mirror;
    if (req.method === "POST" && path === "/v1/mirror/sessions") {
      let body: unknown;
      try {
        body = await readJson(req);
      } catch (e) {
        return json(res, 400, { errors: [(e as Error).message] });
      }
      const r = mirror.add(body, requester(req, via));
      return "errors" in r ? json(res, 400, r) : json(res, 201, r);
    }
    const m = /^\/v1\/mirror\/sessions\/([^/]+)$/.exec(path);
    if (req.method === "DELETE" && m) {
      const r = mirror.remove(decodeURIComponent(m[1]!), requester(req, via));
      return "errors" in r ? json(res, 404, r) : json(res, 200, r);
    }
    json(res, 404, { error: `no such path ${req.method} ${path}` });
  }

  /** The Unix socket (root's alone: mode 0600, owner root, checked once
   * bound) and the optional TCP listener (with its bearer token, if any). */
  async listen(o: ListenOptions): Promise<void> {
    const socketPath = o.socket;
    // everything that can be refused is refused before anything listens
    if (o.http && !isLoopbackHost(o.http.host) && !o.tokenFile) throw new Error(`management http ${o.http.host}:${o.http.port} is not a loopback address: it needs management.token_file`);
    if (o.tokenFile) {
      const token = readFileSync(o.tokenFile, "utf8").trim();
      if (token === "" || /\s/.test(token)) throw new Error(`management token_file ${o.tokenFile} must hold one token (no whitespace inside)`);
      this.token = token;
    }
    mkdirSync(dirname(socketPath), { recursive: true });
    if (existsSync(socketPath)) rmSync(socketPath); // a stale socket from a killed daemon
    const unix = createServer((q, s) => this.handle(q, s, "unix"));
    await new Promise<void>((ok, fail) => {
      unix.once("error", fail);
      // bound with no access for group and others from the start (the bind is synchronous in listen())
      const umask = process.umask(0o177);
      try {
        unix.listen(socketPath, () => ok());
      } finally {
        process.umask(umask);
      }
    });
    this.servers.push(unix);
    try {
      chmodSync(socketPath, 0o600);
      if (process.geteuid?.() === 0) chownSync(socketPath, 0, 0);
      const st = lstatSync(socketPath);
      const mode = st.mode & 0o777;
      if (!st.isSocket() || mode !== 0o600 || st.uid !== 0) throw new Error(`management socket ${socketPath} is ${st.isSocket() ? "" : "not a socket, "}mode ${mode.toString(8).padStart(4, "0")}, owner uid ${st.uid}: it must be 0600 and root's (run vxgate as root)`);
    } catch (e) {
      await this.close();
      rmSync(socketPath, { force: true });
      throw e;
    }
    this.log.info("management api listening", { socket: socketPath, mode: "0600" });
    if (o.http) {
      const http = o.http;
      const tcp = createServer((q, s) => this.handle(q, s, "http"));
      await new Promise<void>((ok, fail) => tcp.once("error", fail).listen(http.port, http.host, () => ok()));
      this.servers.push(tcp);
      this.tcp = tcp;
      this.log.info("management api listening", { http: `${http.host.includes(":") ? `[${http.host}]` : http.host}:${this.httpAddress()!.port}`, auth: this.token !== undefined ? "bearer token" : "none (loopback)" });
    }
  }

  /** The TCP listener's bound address (port 0 in the config of a test: the one the kernel chose). */
  httpAddress(): { host: string; port: number } | undefined {
    const a = this.tcp?.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : undefined;
  }

  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => new Promise<void>((ok) => s.close(() => ok()))));
  }
}
