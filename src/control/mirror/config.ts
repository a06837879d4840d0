// The `mirror:` section of the switch config (match-mirror-encap sessions) and
// the same rules for sessions a controller sends over the management API as
// JSON. The mirror feature owns its section: hooked into src/config/schema.ts
// (mirrorSchema), semantic.ts (checkMirrorSemantics) and load.ts (buildMirror),
// with the same "file:line:col: message" quality as the rest of the file.
//
//   mirror:
//     enabled: true            # default true; false = the mirror stage is not compiled into the fast path and sessions are refused
//     sessions:
//       - name: watch-web1     # [a-z0-9][a-z0-9._-]{0,31}, unique
//         host:   { mac: "02:00:00:00:01:05", vni: 100, ip: 10.1.0.5 }   # the monitored host
//         server: { mac: "02:00:00:00:09:01", vni: 100 }                 # the monitoring server
//         host_id: 7           # 1..65535, unique
//         direction: both      # both | from-host | to-host (default both)
//         match: mac           # mac | ip (default mac; ip needs host.ip)
//
// One set of validators and rules serves both paths: the schema validators
// run over the YAML AST, or over the JSON body turned into one (ValueReport,
// which names fields by path instead of line:col); the cross-field rules yield
// Issues that each path words in its own way.

import {
  VNI_MAX,
  VNI_MIN,
  ValueReport,
  bool,
  formatPath,
  int,
  ipv4Unicast,
  list,
  mac,
  obj,
  opt,
  req,
  str,
  type Path,
  type Pos,
  type Report,
  type V,
} from "../../config/schema.ts";

export type MirrorDirection = "both" | "from-host" | "to-host";

export interface MirrorEndpoint {
  mac: string; // lower-case aa:bb:cc:dd:ee:ff, unicast
  vni: number;
  ip?: string; // dotted quad, unicast
}

export interface MirrorSession {
  name: string; // /^[a-z0-9][a-z0-9._-]{0,31}$/
  /** The monitored host. */
  host: MirrorEndpoint;
  /** The monitoring server. */
  server: MirrorEndpoint;
  hostId: number; // 1..65535, unique among sessions
  direction: MirrorDirection; // default "both"
  match: "mac" | "ip"; // default "mac"; "ip" requires host.ip
}

export interface MirrorConfig {
  enabled: boolean;
  sessions: MirrorSession[];
}

export const MIRROR_DIRECTIONS: readonly MirrorDirection[] = ["both", "from-host", "to-host"];
export const MIRROR_MATCHES: readonly MirrorSession["match"][] = ["mac", "ip"];

// ---------------------------------------------------------------------------
// Validators

const SESSION_NAME = /^[a-z0-9][a-z0-9._-]{0,31}$/;

const sessionName = str((s, label) =>
  SESSION_NAME.test(s) ? undefined : `${label} ${JSON.stringify(s)} must match ${SESSION_NAME.source}`,
);

function oneOf<T extends string>(words: readonly T[]): V<T> {
  return str((s, label) =>
    (words as readonly string[]).includes(s) ? undefined : `${label} ${JSON.stringify(s)} must be one of: ${words.join(", ")}`,
  ) as V<T>;
}

// Built on first use: schema.ts imports this module, so its constants (mac,
// ipv4Unicast, VNI_MIN) are not initialised yet while this module loads.
function makeSchemas() {
  const endpoint = obj({
    mac: req(mac),
    vni: req(int(VNI_MIN, VNI_MAX)),
    ip: opt(ipv4Unicast),
  });
  const session = obj({
    name: req(sessionName),
    host: req(endpoint),
    server: req(endpoint),
    host_id: req(int(1, 65535)),
    direction: opt(oneOf(MIRROR_DIRECTIONS), "both"),
    match: opt(oneOf(MIRROR_MATCHES), "mac"),
  });
  const mirror = obj({
    enabled: opt(bool(), true),
    sessions: opt(list(session), () => []),
  });
  return { session, mirror };
}

type Schemas = ReturnType<typeof makeSchemas>;
let schemas: Schemas | undefined;
const schema = (): Schemas => (schemas ??= makeSchemas());

export type RawMirror = NonNullable<ReturnType<Schemas["mirror"]>>;
export type RawMirrorSession = NonNullable<ReturnType<Schemas["session"]>>;

/** The `mirror:` section's validator (absent section = its defaults). */
export const mirrorSchema: V<RawMirror> = (...a) => schema().mirror(...a);

// ---------------------------------------------------------------------------
// Cross-field rules, shared by the file and the JSON path

/** One broken rule of a session, worded by the path that found it. */
interface Issue {
  /** The field, relative to the session (YAML / JSON keys). */
  path: Path;
  /** In a file, point at the field's key rather than its value. */
  key?: boolean;
  /** About the session's own fields: a file names the session first. */
  own?: boolean;
  /** The offending value, shown after the field's name. */
  value?: string | number;
  text: string;
  /** In a file, the line of what this clashes with. */
  line?: number;
}

function fileText(x: Issue, session: string): string {
  const value = x.value !== undefined ? ` ${x.value}` : "";
  const line = x.line !== undefined ? ` (line ${x.line})` : "";
  return `${x.own ? `${session}: ` : ""}${x.path.join(" ")}${value} ${x.text}${line}`;
}

function jsonText(x: Issue): string {
  return `${formatPath(x.path)}: ${x.value !== undefined ? `${x.value} ` : ""}${x.text}`;
}

/** Rules within one session. `has(path)`: was that field given (valid or not)?
 *  `vnis`: the VNIs the switch has, and how to say one is missing (absent: skip). */
function sessionIssues(
  s: RawMirrorSession,
  has: (path: Path) => boolean,
  vnis: { known: ReadonlySet<number>; where: string } | undefined,
): Issue[] {
  const out: Issue[] = [];
  const { host, server } = s;
  if (vnis) {
    for (const [end, e] of [["host", host], ["server", server]] as const) {
      if (e?.vni !== undefined && !vnis.known.has(e.vni)) {
        out.push({ path: [end, "vni"], own: true, value: e.vni, text: `is not declared ${vnis.where}` });
      }
    }
  }
  if (host?.mac !== undefined && host.vni !== undefined && server?.mac === host.mac && server.vni === host.vni) {
    out.push({ path: ["server"], key: true, own: true, text: "equals host" });
  }
  if (s.match === "ip" && host && !has(["host", "ip"])) {
    out.push({ path: ["match"], own: true, value: "ip", text: "needs host.ip" });
  }
  return out;
}

/** Names and host ids already taken, by the sessions before this one. */
class Taken {
  private readonly names = new Map<string, number | undefined>();
  private readonly hostIds = new Map<number, { name?: string; line?: number }>();

  issues(s: RawMirrorSession): Issue[] {
    const out: Issue[] = [];
    if (s.name !== undefined && this.names.has(s.name)) {
      out.push({ path: ["name"], value: s.name, text: "is already used by another session", line: this.names.get(s.name) });
    }
    const first = s.hostId !== undefined ? this.hostIds.get(s.hostId) : undefined;
    if (s.hostId !== undefined && first) {
      const by = first.name !== undefined ? `session ${first.name}` : "another session";
      out.push({ path: ["host_id"], value: s.hostId, text: `is already used by ${by}`, line: first.line });
    }
    return out;
  }

  /** Record a session (the first one to take a name or id keeps it). */
  add(s: { name?: string; hostId?: number }, lines: { name?: number; hostId?: number } = {}): void {
    if (s.name !== undefined && !this.names.has(s.name)) this.names.set(s.name, lines.name);
    if (s.hostId !== undefined && !this.hostIds.has(s.hostId)) this.hostIds.set(s.hostId, { name: s.name, line: lines.hostId });
  }
}

/** `declaredVnis`: the top-level VNIs (undefined when some were invalid: skip the membership check). */
export function checkMirrorSemantics(m: RawMirror, r: Report, declaredVnis: ReadonlySet<number> | undefined): void {
  const at = (path: Path): Pos => r.at(path) ?? { line: 1, col: 1 };
  const base = ["mirror"];
  if (m.enabled === false && m.sessions !== undefined && m.sessions.length > 0) {
    r.error(r.keyAt([...base, "sessions"]) ?? at(base), "mirror.enabled is false: remove the sessions or enable mirroring");
  }
  const vnis = declaredVnis && { known: declaredVnis, where: "under vnis" };
  const taken = new Taken();
  m.sessions?.forEach((s, i) => {
    if (!s) return;
    const p = [...base, "sessions", i];
    const who = s.name !== undefined ? `session ${s.name}` : formatPath(p);
    for (const x of [...sessionIssues(s, (q) => r.has([...p, ...q]), vnis), ...taken.issues(s)]) {
      const q = [...p, ...x.path];
      r.error((x.key ? r.keyAt(q) : undefined) ?? at(q), fileText(x, who));
    }
    taken.add(s, { name: at([...p, "name"]).line, hostId: at([...p, "host_id"]).line });
  });
}

// ---------------------------------------------------------------------------
// Build

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`config loader bug: mirror ${what} missing after a clean check`);
  return v;
}

function buildEndpoint(e: RawMirrorSession["host"], what: string): MirrorEndpoint {
  const end = need(e, what);
  const out: MirrorEndpoint = { mac: need(end.mac, `${what}.mac`), vni: need(end.vni, `${what}.vni`) };
  if (end.ip !== undefined) out.ip = end.ip;
  return out;
}

function buildSession(s: RawMirrorSession): MirrorSession {
  return {
    name: need(s.name, "session name"),
    host: buildEndpoint(s.host, "host"),
    server: buildEndpoint(s.server, "server"),
    hostId: need(s.hostId, "host_id"),
    direction: need(s.direction, "direction"),
    match: need(s.match, "match"),
  };
}

/** Raw (checked, error-free) -> MirrorConfig. */
export function buildMirror(raw: RawMirror): MirrorConfig {
  return {
    enabled: need(raw.enabled, "enabled"),
    sessions: need(raw.sessions, "sessions").map((s) => buildSession(need(s, "session"))),
  };
}

// ---------------------------------------------------------------------------
// Sessions over the management API

/** Check a session a controller sent as JSON (the YAML entry's snake_case
 *  keys) against the switch's VNIs and the sessions it already has. Problems
 *  name the field: `host_id: 70000 out of range 1..65535`. */
export function parseSessionJson(
  body: unknown,
  ctx: { vnis: ReadonlySet<number>; existing: readonly MirrorSession[] },
): { session: MirrorSession } | { errors: string[] } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    const got = body === null ? "null" : Array.isArray(body) ? "an array" : `a ${typeof body}`;
    return { errors: [`body must be a JSON object, got ${got}`] };
  }
  const r = new ValueReport(body);
  const raw = schema().session(r.root, r, [], "session", { line: 1, col: 1 });
  if (raw) {
    const taken = new Taken();
    for (const s of ctx.existing) taken.add(s);
    const issues = [...sessionIssues(raw, (q) => r.has(q), { known: ctx.vnis, where: "on this switch" }), ...taken.issues(raw)];
    for (const x of issues) r.error({ line: 1, col: 1 }, jsonText(x));
  }
  if (r.count > 0 || !raw) return { errors: r.problems() };
  return { session: buildSession(raw) };
}
