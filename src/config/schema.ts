// The shape of the YAML config file, as one declarative schema walked directly
// over the `yaml` AST so that every problem carries the line:col of the key or
// value it is about. The walk never stops at the first problem: a bad field
// yields `undefined` in the output (its siblings still get checked) and the
// problem goes into the Report. Cross-field rules live in semantic.ts; turning
// the checked raw tree into a SwitchConfig happens in load.ts.

import { readFileSync, statSync } from "node:fs";
import { BlockList, isIPv6 } from "node:net";
import {
  Document,
  LineCounter,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  visit,
  type Node,
  type Scalar,
} from "yaml";
import { forEachItem } from "./plain-yaml.ts";
import { formatIpv4, formatMac, ipv4UnicastProblem, macUnicastProblem, tryParseIpv4, tryParseMac } from "./net.ts";
import { bgpSchema } from "../control/evpn/config.ts";
import { mirrorSchema } from "../control/mirror/config.ts";
import { mcastMembersSchema, multicastSchema } from "../control/mcast/config.ts";

// ---------------------------------------------------------------------------
// Positions and problem collection

export interface Pos {
  line: number; // 1-based
  col: number; // 1-based
}

export type Path = readonly (string | number)[];

/** Offset -> 1-based line and column (the `yaml` package's LineCounter, or one counted on demand). */
export interface LinePositions {
  linePos(offset: number): { line: number; col: number };
}

/** A position kept as the offset it came from: line and column are worked
 *  out the first time anyone reads them (most never are: they matter for an
 *  error, and a 100k-line file has few of those). */
class OffsetPos implements Pos {
  private lc?: { line: number; col: number };
  constructor(
    readonly lines: LinePositions,
    readonly offset: number,
  ) {}
  get line(): number {
    return (this.lc ??= this.lines.linePos(this.offset)).line;
  }
  get col(): number {
    return (this.lc ??= this.lines.linePos(this.offset)).col;
  }
  toJSON(): Pos {
    return { line: this.line, col: this.col };
  }
}

/** Collects problems and remembers where every key and value of the file sits,
 *  by path (YAML key names and list indexes), for the semantic checks. */
type Kept = number | Pos;

/** Where a key (k) and its value (v) sit, and what was recorded below them:
 *  list entries in `a` by index, mapping keys in `s`, four slots per key
 *  (name, key position, value position, the PosNode below it if any). A tree
 *  walked by the path's elements: no lookup builds a string, and a leaf
 *  (most keys) costs four array slots, not an object. */
interface PosNode {
  k?: Kept;
  v?: Kept;
  s?: (string | Kept | PosNode | undefined)[];
  a?: (PosNode | undefined)[];
}

export class Report {
  private readonly list: { pos: Pos; msg: string }[] = [];
  private readonly positions: PosNode = {};
  /** Set while a validator walks a collection reached through an alias. */
  private via: Pos | undefined;

  constructor(
    readonly file: string,
    readonly doc: Document.Parsed,
    private readonly lc: LinePositions,
  ) {}

  posAt(offset: number): Pos {
    return new OffsetPos(this.lc, offset);
  }

  posOf(node: Node | null | undefined, fallback: Pos = { line: 1, col: 1 }): Pos {
    const r = node?.range;
    return r ? this.posAt(r[0]) : fallback;
  }

  error(pos: Pos, msg: string): void {
    this.list.push({ pos, msg });
  }

  get count(): number {
    return this.list.length;
  }

  /** "file:line:col: message", sorted by position (stable), duplicates dropped. */
  problems(): string[] {
    const sorted = this.list
      .map((p, i) => ({ ...p, i }))
      .sort((a, b) => a.pos.line - b.pos.line || a.pos.col - b.pos.col || a.i - b.i);
    return [...new Set(sorted.map((p) => `${this.file}:${p.pos.line}:${p.pos.col}: ${p.msg}`))];
  }

  /** The PosNode of `path` (created along the way when `create`). */
  private posNode(path: Path, create: boolean): PosNode | undefined {
    let n = this.positions;
    for (const p of path) {
      let next: PosNode | undefined;
      if (typeof p === "number") {
        next = n.a?.[p];
        if (!next) {
          if (!create) return undefined;
          (n.a ??= [])[p] = next = {};
        }
      } else {
        const i = this.keySlot(n, p, create);
        if (i < 0) return undefined;
        next = n.s![i + 3] as PosNode | undefined;
        if (!next) {
          if (!create) return undefined;
          n.s![i + 3] = next = {};
        }
      }
      n = next;
    }
    return n;
  }

  /** Where mapping key `name` starts in `n.s` (-1 when absent and not `create`d). */
  private keySlot(n: PosNode, name: string, create: boolean): number {
    const s = n.s;
    if (s) for (let i = 0; i < s.length; i += 4) if (s[i] === name) return i;
    if (!create) return -1;
    // copied, not pushed: a pushed-to array keeps room for 16 more
    const added = [name, undefined, undefined, undefined];
    n.s = s ? s.concat(added) : added;
    return n.s.length - 4;
  }

  /** Record a position of `path` (k: the key's, v: the value's). */
  private record(path: Path, which: "k" | "v", pos: Pos): void {
    const last = path[path.length - 1];
    if (typeof last !== "string") {
      this.posNode(path, true)![which] = this.keep(pos);
      return;
    }
    const parent = this.posNode(path.slice(0, -1), true)!;
    const i = this.keySlot(parent, last, true);
    parent.s![i + (which === "k" ? 1 : 2)] = this.keep(pos);
  }

  /** The key and value positions recorded for `path`. */
  private recorded(path: Path): { k?: Kept; v?: Kept } | undefined {
    const last = path[path.length - 1];
    if (typeof last !== "string") return this.posNode(path, false);
    const parent = this.posNode(path.slice(0, -1), false);
    const i = parent ? this.keySlot(parent, last, false) : -1;
    if (i < 0) return undefined;
    const s = parent!.s!;
    return { k: s[i + 1] as Kept | undefined, v: s[i + 2] as Kept | undefined };
  }

  /** What a PosNode keeps of a position: its offset when it has one. */
  private keep(pos: Pos): Kept {
    const p = this.via ?? pos;
    return p instanceof OffsetPos && p.lines === this.lc ? p.offset : p;
  }
  private pos(p: Kept | undefined): Pos | undefined {
    return typeof p === "number" ? new OffsetPos(this.lc, p) : p;
  }

  setKey(path: Path, pos: Pos): void {
    this.record(path, "k", pos);
  }
  setValue(path: Path, pos: Pos): void {
    this.record(path, "v", pos);
  }
  /** Run `f` (a validator walking `node`); when `node` is an alias, every
   *  position recorded meanwhile is the alias's. A semantic rule about what the
   *  alias brings in (`- *v100` declaring vni 100 a second time) is fixed
   *  where the alias is used, not at the anchor it copies. Problems with the
   *  values themselves (`vni: &v 0`) are still reported where they are written. */
  throughAlias<T>(node: unknown, f: () => T): T {
    if (this.via !== undefined || !isAlias(node)) return f();
    this.via = this.posOf(node);
    try {
      return f();
    } finally {
      this.via = undefined;
    }
  }
  /** Was this key (or list entry) present in the file, valid or not? */
  has(path: Path): boolean {
    const n = this.recorded(path);
    return n !== undefined && (n.k !== undefined || n.v !== undefined);
  }
  /** Position of the value at `path` (falls back to its key). */
  at(path: Path): Pos | undefined {
    const n = this.recorded(path);
    return this.pos(n?.v ?? n?.k);
  }
  /** Position of the key at `path` (falls back to its value). */
  keyAt(path: Path): Pos | undefined {
    const n = this.recorded(path);
    return this.pos(n?.k ?? n?.v);
  }

  /** How a field is named in messages: its key in a file (the position says
   *  where it is); a subclass without positions can name the whole path. */
  label(path: Path): string {
    return String(path[path.length - 1]);
  }

  /** Follow an alias to the node it names. */
  resolve(node: unknown): Node | null | undefined {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return node as Node | null | undefined;
  }
}

/** A Report for a plain JS value that did not come from a file (a JSON request
 *  body, say): fields are named by their path ("host.vni: 300 ..."), problems
 *  are kept in the order found and carry no position. */
export class ValueReport extends Report {
  private readonly messages: string[] = [];

  constructor(value: unknown) {
    super("", new Document(value, { aliasDuplicateObjects: false }) as Document.Parsed, new LineCounter());
  }

  /** The value as a node, for a validator. */
  get root(): Node | null {
    return this.doc.contents as Node | null;
  }

  override error(_pos: Pos, msg: string): void {
    this.messages.push(msg);
  }

  override get count(): number {
    return this.messages.length;
  }

  override problems(): string[] {
    return [...new Set(this.messages)];
  }

  override label(path: Path): string {
    return `${formatPath(path)}:`;
  }
}

export function formatPath(path: Path): string {
  let s = "";
  for (const p of path) s += typeof p === "number" ? `[${p}]` : s === "" ? p : `.${p}`;
  return s;
}

// ---------------------------------------------------------------------------
// Validators

/** A validator checks one node and returns its normalised value, or undefined
 *  after reporting why not. `node` is undefined when the key is absent (only
 *  section validators are ever called that way); `anchor` is where to point
 *  when the node has no position of its own (the key it hangs off). */
export type V<T> = (node: Node | null | undefined, r: Report, path: Path, label: string, anchor: Pos) => T | undefined;

function isNullScalar(n: Node | null | undefined): boolean {
  return n === null || n === undefined || (isScalar(n) && n.value === null);
}

/** Where a value sits; an implicit empty value (`key:` with nothing) points at its key. */
function valuePos(r: Report, n: Node | null | undefined, anchor: Pos): Pos {
  if (n === null || n === undefined) return anchor;
  if (isScalar(n) && n.value === null && !n.source) return anchor;
  return r.posOf(n, anchor);
}

/** How a node reads in a message: `string "abc"`, `1.5`, `a list`. */
export function describe(n: Node | null | undefined): string {
  if (n === null || n === undefined) return "nothing";
  if (isMap(n)) return "a mapping";
  if (isSeq(n)) return "a list";
  if (isScalar(n)) {
    const v = n.value;
    if (v === null) return "null";
    if (typeof v === "string") return `string ${JSON.stringify(v)}`;
    if (typeof v === "boolean") return `boolean ${v}`;
    if (typeof v === "number" || typeof v === "bigint") return n.source || String(v);
    return String(v);
  }
  return "an unsupported value";
}

function isIntScalar(n: Scalar): boolean {
  const v = n.value;
  if (typeof v !== "number" || !Number.isSafeInteger(v)) return false;
  if (n.format === "HEX" || n.format === "OCT") return true;
  // 100.0 and 1e3 resolve to integral numbers but are floats in the file.
  return !/[.eE]/.test(n.source ?? "");
}

export function int(min: number, max: number): V<number> {
  return (node, r, _path, label, anchor) => {
    const n = r.resolve(node);
    const pos = valuePos(r, n, anchor);
    if (isScalar(n) && isIntScalar(n)) {
      const v = n.value as number;
      if (v < min || v > max) {
        r.error(pos, `${label} ${v} out of range ${min}..${max}`);
        return undefined;
      }
      return v;
    }
    if (isScalar(n) && typeof n.value === "number" && /^[-+]?[0-9]+$/.test(n.source ?? "")) {
      // an integer too big for a double to hold exactly
      r.error(pos, `${label} ${n.source} out of range ${min}..${max}`);
      return undefined;
    }
    r.error(pos, `${label} must be an integer in ${min}..${max}, got ${describe(n)}`);
    return undefined;
  };
}

/** An integer power of two in min..max (both powers of two). */
export function powerOfTwo(min: number, max: number): V<number> {
  const base = int(min, max);
  return (node, r, path, label, anchor) => {
    const v = base(node, r, path, label, anchor);
    if (v === undefined) return undefined;
    if ((v & (v - 1)) !== 0) {
      r.error(valuePos(r, r.resolve(node), anchor), `${label} ${v} must be a power of two (e.g. ${2 ** Math.round(Math.log2(v))})`);
      return undefined;
    }
    return v;
  };
}

export function bool(): V<boolean> {
  return (node, r, _path, label, anchor) => {
    const n = r.resolve(node);
    if (isScalar(n) && typeof n.value === "boolean") return n.value;
    r.error(valuePos(r, n, anchor), `${label} must be true or false, got ${describe(n)}`);
    return undefined;
  };
}

/** A string; `check` returns a complete message when the string is unacceptable,
 *  and may normalise it by returning `{ value }`. */
export function str(
  check?: (s: string, label: string) => string | { value: string } | undefined,
): V<string> {
  return (node, r, _path, label, anchor) => {
    const n = r.resolve(node);
    const pos = valuePos(r, n, anchor);
    if (!isScalar(n) || typeof n.value !== "string") {
      r.error(pos, `${label} must be a string, got ${describe(n)}`);
      return undefined;
    }
    const s = n.value;
    const res = check?.(s, label);
    if (typeof res === "string") {
      r.error(pos, res);
      return undefined;
    }
    return res ? res.value : s;
  };
}

const SWITCH_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

export const switchName = str((s, label) =>
  SWITCH_NAME.test(s) ? undefined : `${label} ${JSON.stringify(s)} must match ${SWITCH_NAME.source}`,
);

/** Why `s` is not a valid Linux interface name (kernel dev_valid_name rules). */
export function ifnameProblem(s: string): string | undefined {
  if (s.length === 0) return "empty";
  if (Buffer.byteLength(s) > 15) return "longer than 15 bytes";
  if (s === "." || s === "..") return `'${s}' is reserved`;
  if (s.includes("/")) return "contains '/'";
  if (s.includes(":")) return "contains ':'";
  if (/[\s\0]/.test(s)) return "contains whitespace";
  return undefined;
}

export const ifname = str((s, label) => {
  const why = ifnameProblem(s);
  return why ? `${label} ${JSON.stringify(s)} is not a valid interface name (${why})` : undefined;
});

/** A unicast IPv4 address, normalised to its dotted quad. */
export const ipv4Unicast = str((s, label) => {
  const n = tryParseIpv4(s);
  if (n === undefined) return `${label} ${JSON.stringify(s)} is not a valid IPv4 address`;
  const why = ipv4UnicastProblem(n);
  if (why) return `${label} ${s} is not a unicast IPv4 address (${why})`;
  // a dotted quad tryParseIpv4 takes is already in its normal form (no leading zeros)
  return undefined;
});

/** A unicast MAC, normalised to lower-case colon form. */
const MAC_NORMAL = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export const mac = str((s, label) => {
  if (MAC_NORMAL.test(s)) {
    // already lower-case colon form: only the unicast rules (in macUnicastProblem's order)
    const why = s === "ff:ff:ff:ff:ff:ff" ? "broadcast" : parseInt(s[1]!, 16) & 1 ? "multicast" : s === "00:00:00:00:00:00" ? "all-zero" : undefined;
    return why ? `${label} ${s} is not a unicast MAC address (${why})` : undefined;
  }
  const b = tryParseMac(s);
  if (!b) return `${label} ${JSON.stringify(s)} is not a valid MAC address (want aa:bb:cc:dd:ee:ff)`;
  const why = macUnicastProblem(b);
  if (why) return `${label} ${s} is not a unicast MAC address (${why})`;
  return { value: formatMac(b) };
});

const SUN_PATH_MAX = 107; // sizeof(sockaddr_un.sun_path) - 1

export const socketPath = str((s, label) => {
  if (!s.startsWith("/")) return `${label} must be an absolute path, got ${JSON.stringify(s)}`;
  if (s.includes("\0")) return `${label} must not contain NUL`;
  if (Buffer.byteLength(s) > SUN_PATH_MAX) return `${label} path is longer than ${SUN_PATH_MAX} bytes (unix socket limit)`;
  return undefined;
});

const V6_LOOPBACK = new BlockList();
V6_LOOPBACK.addAddress("::1", "ipv6");

/** "HOST:PORT" with an IP address: IPv4, or IPv6 in brackets. A host other
 *  than loopback (127.0.0.0/8, [::1]) needs management.token_file (managementSchema). */
export const httpListen: V<{ host: string; port: number }> = (node, r, path, label, anchor) => {
  const s = str()(node, r, path, label, anchor);
  if (s === undefined) return undefined;
  const pos = valuePos(r, r.resolve(node), anchor);
  const m = /^(\[[^\]]*\]|[^:[\]]+):([0-9]+)$/.exec(s);
  if (!m) {
    r.error(pos, `${label} ${JSON.stringify(s)} must be HOST:PORT with an IP address, e.g. 127.0.0.1:8080 or [::1]:8080`);
    return undefined;
  }
  const [, hostPart, portPart] = m;
  let host: string | undefined;
  if (hostPart.startsWith("[")) {
    const h = hostPart.slice(1, -1);
    if (isIPv6(h)) host = V6_LOOPBACK.check(h, "ipv6") ? "::1" : h.toLowerCase();
  } else {
    const n = tryParseIpv4(hostPart);
    if (n !== undefined) host = formatIpv4(n);
  }
  let ok = true;
  if (host === undefined) {
    r.error(pos, `${label} host ${hostPart} is not an IP address (IPv4, or IPv6 in brackets)`);
    ok = false;
  }
  const port = Number(portPart);
  if (!/^(0|[1-9][0-9]*)$/.test(portPart) || port < 1 || port > 65535) {
    r.error(pos, `${label} port ${portPart} out of range 1..65535`);
    ok = false;
  }
  return ok && host !== undefined ? { host, port } : undefined;
};

/** 127.0.0.0/8 or ::1 (as httpListen normalises them). */
export function isLoopbackHost(host: string): boolean {
  if (host === "::1") return true;
  const n = tryParseIpv4(host);
  return n !== undefined && n >>> 24 === 127;
}

/** The file holding the management API's bearer token: an absolute path to a
 *  regular, non-empty file that others cannot read (the token is a password). */
export const tokenFile = str((s, label) => {
  if (!s.startsWith("/")) return `${label} must be an absolute path, got ${JSON.stringify(s)}`;
  try {
    const st = statSync(s);
    if (!st.isFile()) return `${label} ${s} is not a regular file`;
    if (st.mode & 0o004) return `${label} ${s} is readable by everyone (mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}): chmod o-rwx ${s}`;
    if (readFileSync(s, "utf8").trim() === "") return `${label} ${s} is empty: it must hold the bearer token`;
  } catch (e) {
    return `${label} ${s} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  return undefined;
});

const managementFields = obj({
  socket: opt(socketPath),
  http: opt(httpListen),
  token_file: opt(tokenFile),
});

/** The management section: an HTTP listener on an address other than
 *  loopback is accepted only together with a token_file. */
export const managementSchema: V<NonNullable<ReturnType<typeof managementFields>>> = (node, r, path, label, anchor) => {
  const m = managementFields(node, r, path, label, anchor);
  if (m?.http && !isLoopbackHost(m.http.host) && !r.has([...path, "token_file"])) {
    const h = m.http.host.includes(":") ? `[${m.http.host}]` : m.http.host;
    r.error(
      r.at([...path, "http"]) ?? anchor,
      `${r.label([...path, "http"])} host ${h} is not a loopback address (127.0.0.0/8 or [::1]): another address needs token_file (a file holding the bearer token HTTP clients must send)`,
    );
    return undefined;
  }
  return m;
};

export function list<T>(item: V<T>, opts: { min?: number; itemLabel?: string } = {}): V<(T | undefined)[]> {
  return (node, r, path, label, anchor) => r.throughAlias(node, () => {
    const n = r.resolve(node);
    const pos = valuePos(r, n, anchor);
    if (!isSeq(n)) {
      // `-name: eth0` is a mapping with the key "-name"
      const k = isMap(n) ? keyName(r, n.items[0]?.key) : undefined;
      const hint = k !== undefined && /^-\S/.test(k) && !(r instanceof ValueReport) ? ` (missing space after '-' in '${k}'?)` : "";
      r.error(pos, `${label} must be a list, got ${describe(n)}${hint}`);
      return undefined;
    }
    const out: (T | undefined)[] = [];
    forEachItem(n, (it, i) => {
      const p = [...path, i];
      const ipos = r.posOf(it as Node, pos);
      r.setValue(p, ipos);
      out.push(item(it as Node, r, p, opts.itemLabel ?? `${label}[${i}]`, ipos));
    });
    const min = opts.min ?? 0;
    if (out.length < min) r.error(pos, `${label} must have at least ${min} ${min === 1 ? "entry" : "entries"}`);
    return out;
  });
}

// Objects ------------------------------------------------------------------

export interface Field<T> {
  v: V<T>;
  required: boolean;
  /** Value when absent or empty (`key:` with nothing). */
  def?: () => T;
  /** Run the validator with no node when absent, to fill a section's defaults. */
  section?: boolean;
}

export function req<T>(v: V<T>): Field<T> {
  return { v, required: true };
}
export function opt<T>(v: V<T>, def?: T | (() => T)): Field<T> {
  return {
    v,
    required: false,
    def: def === undefined ? undefined : typeof def === "function" ? (def as () => T) : () => def,
  };
}
/** An optional sub-mapping whose own defaults apply when it is absent. */
export function section<T>(v: V<T>): Field<T> {
  return { v, required: false, section: true };
}

type Camel<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;
type FieldsOut<F> = { [K in keyof F & string as Camel<K>]?: F[K] extends Field<infer T> ? T : never };

export function camel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function where(path: Path): string {
  return path.length === 0 ? "" : ` in ${formatPath(path)}`;
}

function editDistance(a: string, b: string): number {
  const d: number[] = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length];
}

/** The known key closest to `key`, if it is close enough to be a likely typo. */
export function suggest(key: string, known: string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, "");
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = norm(k) === norm(key) ? 0 : editDistance(key.toLowerCase(), k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  const limit = key.length <= 3 ? 1 : key.length <= 6 ? 2 : 3;
  return bestD <= limit ? best : undefined;
}

function keyName(r: Report, key: unknown): string | undefined {
  const k = r.resolve(key);
  if (isScalar(k) && k.value !== null && typeof k.value !== "object") return String(k.value);
  return undefined;
}

/** Check every mapping under `node` (for pass-through sections) for duplicate keys. */
function checkDuplicateKeys(node: Node, r: Report): void {
  visit(node, {
    Map(_k, map) {
      const seen = new Map<string, Pos>();
      for (const pair of map.items) {
        const name = keyName(r, pair.key);
        if (name === undefined) continue;
        const kpos = r.posOf(pair.key as Node);
        const first = seen.get(name);
        if (first) r.error(kpos, `duplicate key '${name}' (first at line ${first.line})`);
        else seen.set(name, kpos);
      }
    },
  });
}

/** `source_ip 10.0.0.1` or `name:eth0` where a mapping was wanted: a key of
 *  it with the ':' (or the space after it) missing. */
function missingColonHint(n: Node | null | undefined, known: string[]): string {
  if (!isScalar(n) || typeof n.value !== "string") return "";
  const m = /^([A-Za-z_][\w-]*)(?:[ \t]+|:)\S/.exec(n.value);
  if (!m || !known.includes(m[1])) return "";
  return n.value[m[1].length] === ":" ? ` (missing space after '${m[1]}:'?)` : ` (missing ':' after '${m[1]}'?)`;
}

export function obj<F extends Record<string, Field<any>>>(fields: F): V<FieldsOut<F>> {
  const known = Object.keys(fields);
  const entries = Object.entries(fields);
  const camels = new Map(known.map((k) => [k, camel(k)]));
  return (node, r, path, label, anchor) => r.throughAlias(node, () => {
    const n = r.resolve(node);
    const pos = valuePos(r, n, anchor);
    const out: Record<string, unknown> = {};
    const seen = new Map<string, Pos>();
    if (!isNullScalar(n)) {
      if (!isMap(n)) {
        const hint = r instanceof ValueReport ? "" : missingColonHint(n, known); // a YAML typo
        r.error(pos, `${label} must be a mapping, got ${describe(n)}${hint}`);
        return undefined;
      }
      for (const pair of n.items) {
        const kpos = r.posOf(pair.key as Node, pos);
        const key = keyName(r, pair.key);
        if (key === undefined) {
          r.error(kpos, `keys${where(path)} must be plain names, got ${describe(r.resolve(pair.key))}`);
          continue;
        }
        const first = seen.get(key);
        if (first) {
          r.error(kpos, `duplicate key '${key}'${where(path)} (first at line ${first.line})`);
          continue;
        }
        seen.set(key, kpos);
        const f = fields[key];
        if (!f) {
          const s = suggest(key, known);
          r.error(
            kpos,
            `unknown key '${key}'${where(path)}` +
              (s ? ` (did you mean '${s}'?)` : ` (expected one of: ${known.join(", ")})`),
          );
          continue;
        }
        const p = [...path, key];
        const vnode = pair.value as Node | null;
        if (isNullScalar(r.resolve(vnode)) && !f.required && !f.section) {
          // `key:` with nothing is the same as leaving the key out.
          if (f.def) out[camels.get(key)!] = f.def();
          continue;
        }
        r.setKey(p, kpos);
        r.setValue(p, isAlias(vnode) ? r.posOf(vnode, kpos) : valuePos(r, r.resolve(vnode), kpos));
        const v = f.v(vnode, r, p, r.label(p), kpos);
        if (v !== undefined) out[camels.get(key)!] = v;
      }
    }
    for (const [key, f] of entries) {
      if (seen.has(key)) continue;
      if (f.required) {
        // Point at the key that owns this mapping (or the list entry), not its first child.
        r.error(anchor, `missing required key '${key}'${where(path)}`);
      } else if (f.def) {
        out[camels.get(key)!] = f.def();
      } else if (f.section) {
        const v = f.v(undefined, r, [...path, key], r.label([...path, key]), pos);
        if (v !== undefined) out[camels.get(key)!] = v;
      }
    }
    return out as FieldsOut<F>;
  });
}

/** Any mapping, passed through as plain JS (duplicate keys still rejected). */
export const anyMapping: V<Record<string, unknown>> = (node, r, _path, label, anchor) => {
  const n = r.resolve(node);
  if (!isMap(n)) {
    r.error(valuePos(r, n, anchor), `${label} must be a mapping, got ${describe(n)}`);
    return undefined;
  }
  const before = r.count;
  checkDuplicateKeys(n, r);
  if (r.count > before) return undefined;
  try {
    return n.toJS(r.doc) as Record<string, unknown>;
  } catch (e) {
    // e.g. an alias bomb ("Excessive alias count")
    r.error(valuePos(r, n, anchor), `${label} cannot be read: ${(e as Error).message}`);
    return undefined;
  }
};

// ---------------------------------------------------------------------------
// The schema

export const VNI_MIN = 1;
export const VNI_MAX = 16777215;

const vniNumber = int(VNI_MIN, VNI_MAX);
const vlanNumber = int(1, 4094);

export interface RawVlan {
  vlan?: number;
  vni?: number;
}

const vlanEntry = obj({ vlan: req(vlanNumber), vni: req(vniNumber) });

/** VLAN -> VNI, either `{10: 100}` or `[{vlan: 10, vni: 100}]`. Both forms end
 *  up as a list, with positions recorded at path [..., i, "vlan" | "vni"]. */
export const vlanMap: V<(RawVlan | undefined)[]> = (node, r, path, label, anchor) => {
  const n = r.resolve(node);
  if (isSeq(n)) return list(vlanEntry)(node, r, path, label, anchor);
  if (!isMap(n)) {
    r.error(
      valuePos(r, n, anchor),
      `${label} must be a mapping of VLAN to VNI or a list of {vlan, vni}, got ${describe(n)}`,
    );
    return undefined;
  }
  return r.throughAlias(node, () => n.items.map((pair, i) => {
    const p = [...path, i];
    const knode = r.resolve(pair.key);
    const kpos = r.posOf(knode, anchor);
    const at = r.posOf(pair.key as Node, anchor); // an alias key: where it is used
    r.setValue(p, at);
    r.setValue([...p, "vlan"], at);
    const vlan = vlanNumber(knode, r, [...p, "vlan"], "vlan", kpos);
    const vnode = pair.value as Node | null;
    r.setValue([...p, "vni"], isAlias(vnode) ? r.posOf(vnode, kpos) : valuePos(r, r.resolve(vnode), kpos));
    const vni = vniNumber(vnode, r, [...p, "vni"], "vni", kpos);
    return { vlan, vni };
  }));
};

export const configSchema = obj({
  switch: req(obj({ name: req(switchName) })),
  vtep: req(
    obj({
      source_ip: req(ipv4Unicast),
      udp_port: opt(int(1, 65535), 4789),
    }),
  ),
  uplinks: req(list(obj({ name: req(ifname) }), { min: 1 })),
  ports: opt(
    list(
      obj({
        name: req(ifname),
        vni: opt(vniNumber),
        vlans: opt(vlanMap, () => []),
        max_macs: opt(int(1, 16777216)),
      }),
    ),
    () => [],
  ),
  vnis: opt(
    list(
      obj({
        vni: req(vniNumber),
        learning: opt(bool(), true),
        max_macs: opt(int(1, 16777216)),
        ageing: opt(int(0, 1000000), 300),
        flood: opt(list(ipv4Unicast, { itemLabel: "flood entry" }), () => []),
        static_macs: opt(
          list(
            obj({
              mac: req(mac),
              port: opt(str()),
              remote: opt(ipv4Unicast),
            }),
          ),
          () => [],
        ),
      }),
    ),
    () => [],
  ),
  tables: section(
    obj({
      fdb: opt(int(16, 16777216), 65536),
      vnis: opt(int(1, 65536), 4096),
      flood_per_vni: opt(int(1, 256), 64),
      remote_vteps: opt(int(1, 1048576), 4096),
      // bytes of the learning-event ring; a power of two (the kernel's rule for ring buffers)
      event_ring: opt(powerOfTwo(4096, 1 << 30), 8 * 1024 * 1024),
      // (vni, source or any, group) entries: static and snooped groups
      mcast_groups: opt(int(1, 1048576), 4096),
      // a group's member ports + remote VTEPs (the multicast feature owns the bound)
      mcast_members: opt<number>((...a) => mcastMembersSchema(...a), 32),
    }),
  ),
  management: section(managementSchema),
  // bgp.ts imports this module: defer the reference past the import cycle.
  bgp: opt<NonNullable<ReturnType<typeof bgpSchema>>>((...a) => bgpSchema(...a)),
  // Same cycle (the mirror feature owns its section); absent = its defaults.
  mirror: section<NonNullable<ReturnType<typeof mirrorSchema>>>((...a) => mirrorSchema(...a)),
  // Same again for the multicast feature; absent = its defaults (disabled).
  multicast: section<NonNullable<ReturnType<typeof multicastSchema>>>((...a) => multicastSchema(...a)),
});

/** The schema's output: the file's content in camelCase with defaults filled,
 *  every field possibly missing (where the file was wrong). */
export type RawConfig = NonNullable<ReturnType<typeof configSchema>>;

/** Run the schema over a parsed document. */
export function checkSchema(r: Report): RawConfig | undefined {
  const root = r.doc.contents as Node | null;
  if (isNullScalar(root)) {
    r.error({ line: 1, col: 1 }, "config file is empty");
    return undefined;
  }
  return configSchema(root, r, [], "config", r.posOf(root));
}
