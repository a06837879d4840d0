// Static MACs added at run time through the management API (`vxgate mac
// add|del`). They are what a config static MAC is: FDB_STATIC entries the data
// path never moves or ages, that EVPN advertises as sticky when local and that
// routes never replace. They are kept in the switch's run directory, so a
// restarted control plane reconciles them like the config's (merged into the
// desired state), and `vxgate stop` removes them with the rest of the switch.
// A config static MAC belongs to the file: the API neither replaces nor
// deletes it. One the current config does not allow (its VNI or port gone, or
// the file took the MAC over, after a restart or a reload) is ignored, with a
// warning, and kept: it is back when the config allows it again, until
// `vxgate mac del` removes it.
//
// Request bodies (POST /v1/static-macs):
//   { "vni": 100, "mac": "02:00:00:00:01:01", "port": "eth1" }
//   { "vni": 100, "mac": "02:00:00:00:02:01", "remote": "10.0.0.2" }
// checked with the config file's own validators (src/config/schema.ts), so a
// MAC, VNI or address is refused with the same words as in the file, naming
// the field; a refused request changes nothing.
import type { SwitchConfig } from "../config/types.ts";
import { ValueReport, VNI_MAX, VNI_MIN, ifname, int, ipv4Unicast, mac, obj, opt, req } from "../config/schema.ts";
import { constants } from "../codegen/tables.ts";
import type { TableValue } from "./codec.ts";
import { portVlanFor, type DesiredState } from "./l2/desired.ts";
import type { Logger } from "./log.ts";
import type { Target } from "./targets/target.ts";
import { loadStateList, saveStateList } from "./state-file.ts";

export interface StaticMac {
  vni: number;
  mac: string; // lower-case aa:bb:cc:dd:ee:ff
  /** a local port (exactly one of port and remote) */
  port?: string;
  /** a remote VTEP */
  remote?: string;
}

/** Who asked, as the API saw it (logged with every change). */
export type Requester = Record<string, string | number | undefined>;

export interface StaticMacHooks {
  /** an entry was written or removed (mirror sessions follow hosts) */
  fdbChanged(vni: number, mac: string): void;
  /** a local static MAC: advertise it (EVPN, sticky) */
  localAdded(vni: number, mac: string, vlan: number | undefined): void;
  /** a local static MAC was removed: withdraw it */
  localRemoved(vni: number, mac: string): void;
  /** the VTEPs admitted per VNI changed (a remote static MAC): reapply the VNI tables */
  vnisChanged(): void;
  /** a remote static MAC's VTEP: keep its outer next hop resolved */
  vtepSeen(vtep: string): void;
}

export interface StaticMacOptions {
  /** where they are kept across control-plane restarts (the switch's run directory) */
  stateFile: string;
  ifindexOf(port: string): number;
  hooks: StaticMacHooks;
}

export type StaticMacResult<T> = T | { errors: string[]; status: 400 | 404 | 409 | 500 };

// built on first use (schema.ts's validators are initialised once it has loaded)
let schemas: ReturnType<typeof makeSchemas> | undefined;
function makeSchemas() {
  return {
    add: obj({ vni: req(int(VNI_MIN, VNI_MAX)), mac: req(mac), port: opt(ifname), remote: opt(ipv4Unicast) }),
    del: obj({ vni: req(int(VNI_MIN, VNI_MAX)), mac: req(mac) }),
  };
}
const schema = () => (schemas ??= makeSchemas());

function notObject(body: unknown): string | undefined {
  if (typeof body === "object" && body !== null && !Array.isArray(body)) return undefined;
  const got = body === null ? "null" : Array.isArray(body) ? "an array" : `a ${typeof body}`;
  return `body must be a JSON object, got ${got}`;
}

/** A (vni, mac) pair from a request (body or path), checked like the config's. */
export function parseVniMac(body: unknown): { vni: number; mac: string } | { errors: string[] } {
  const bad = notObject(body);
  if (bad) return { errors: [bad] };
  const r = new ValueReport(body);
  const raw = schema().del(r.root, r, [], "body", { line: 1, col: 1 });
  if (r.count > 0 || !raw || raw.vni === undefined || raw.mac === undefined) return { errors: r.problems() };
  return { vni: raw.vni, mac: raw.mac };
}

export class StaticMacFeature {
  private entries: StaticMac[];
  /** the config file's static MACs, per VNI (its own strings: no 100k ids made) */
  private configStatic = new Map<number, Set<string>>();

  constructor(
    private config: SwitchConfig,
    private readonly target: Target,
    private readonly log: Logger,
    private readonly opts: StaticMacOptions,
  ) {
    this.entries = this.load();
    this.setConfig(config);
  }

  private isConfigStatic(vni: number, mac: string): boolean {
    return this.configStatic.get(vni)?.has(mac) ?? false;
  }

  /** At boot and on a reload: which entries the config allows. */
  setConfig(config: SwitchConfig): void {
    this.config = config;
    this.configStatic = new Map(config.vnis.map((v) => [v.vni, new Set(v.staticMacs.map((m) => m.mac))]));
    for (const e of this.entries) {
      const why = this.invalid(e);
      if (why) this.log.warn("static MAC added through the API ignored: the config does not allow it", { vni: e.vni, mac: e.mac, error: why });
    }
  }

  /** Every one added through the API; `ignored` says why the config does not allow one now. */
  list(): (StaticMac & { ignored?: string })[] {
    return this.entries.map((e) => {
      const why = this.invalid(e);
      return { ...e, ...(why ? { ignored: why } : {}) };
    });
  }

  /** Those in the forwarding table. */
  active(): StaticMac[] {
    return this.entries.filter((e) => !this.invalid(e)).map((e) => ({ ...e }));
  }

  /** Is (vni, mac) a static MAC added through the API, in the forwarding table? */
  has(vni: number, m: string): boolean {
    return this.entries.some((e) => e.vni === vni && e.mac === m && !this.invalid(e));
  }

  // ------------------------------------------------------------ changes

  /** POST /v1/static-macs. Adding one that exists (through the API) replaces it. */
  add(body: unknown, by: Requester): StaticMacResult<{ mac: StaticMac; replaced: boolean }> {
    const bad = notObject(body);
    if (bad) return { errors: [bad], status: 400 };
    const r = new ValueReport(body);
    const raw = schema().add(r.root, r, [], "body", { line: 1, col: 1 });
    if (r.count > 0 || !raw || raw.vni === undefined || raw.mac === undefined) return { errors: r.problems(), status: 400 };
    const e: StaticMac = { vni: raw.vni, mac: raw.mac, ...(raw.port !== undefined ? { port: raw.port } : {}), ...(raw.remote !== undefined ? { remote: raw.remote } : {}) };
    if (e.port === undefined && e.remote === undefined) return { errors: ["port or remote is required (where the MAC is: a local port or a remote VTEP)"], status: 400 };
    if (e.port !== undefined && e.remote !== undefined) return { errors: ["port and remote: give one of them, not both"], status: 400 };
    const why = this.invalid(e);
    if (why) return { errors: [why], status: this.isConfigStatic(e.vni, e.mac) ? 409 : 400 };

    const fdb = this.target.table("fdb");
    const k = { vni: e.vni, mac: e.mac };
    const before = fdb.get(k);
    const prev = this.entries.find((x) => x.vni === e.vni && x.mac === e.mac);
    const prevActive = prev !== undefined && !this.invalid(prev);
    try {
      fdb.set(k, this.value(e));
    } catch (err) {
      return { errors: [`cannot write the forwarding table: ${(err as Error).message}`], status: 500 };
    }
    const next = [...this.entries.filter((x) => x !== prev), e];
    try {
      saveStateList(this.opts.stateFile, next);
    } catch (err) {
      // not kept across a restart would be a lie: take it back
      if (before) fdb.set(k, before);
      else fdb.delete(k);
      return { errors: [`cannot save the static MACs (${this.opts.stateFile}): ${(err as Error).message}`], status: 500 };
    }
    this.entries = next;
    this.log.info(prev ? "static MAC replaced" : "static MAC added", { by, vni: e.vni, mac: e.mac, ...(e.port ? { port: e.port } : { remote: e.remote }), ...(prev ? { was: prev.port ?? prev.remote } : {}) });
    // the host is not here any more (a static one, or one learned here): stop advertising it
    if (e.remote !== undefined && before?.kind === constants.FDB_LOCAL) this.opts.hooks.localRemoved(e.vni, e.mac);
    if (e.port !== undefined) this.opts.hooks.localAdded(e.vni, e.mac, this.value(e).vlan || undefined);
    if (e.remote !== undefined) this.opts.hooks.vtepSeen(e.remote);
    if (e.remote !== undefined || (prevActive && prev.remote !== undefined)) this.opts.hooks.vnisChanged();
    this.opts.hooks.fdbChanged(e.vni, e.mac);
    return { mac: { ...e }, replaced: prev !== undefined };
  }

  /** DELETE /v1/static-macs/VNI/MAC: only one added through the API. */
  remove(body: unknown, by: Requester): StaticMacResult<{ removed: StaticMac }> {
    const p = parseVniMac(body);
    if ("errors" in p) return { errors: p.errors, status: 400 };
    const { vni, mac: m } = p;
    const i = this.entries.findIndex((x) => x.vni === vni && x.mac === m);
    if (i < 0) {
      if (this.isConfigStatic(vni, m)) return { errors: [`mac ${m} in vni ${vni} is a static MAC of the config file (${this.config.file}): remove it there`], status: 409 };
      return { errors: [`mac ${m} in vni ${vni} is not a static MAC added through the API`], status: 404 };
    }
    const gone = this.entries[i]!;
    const wasActive = !this.invalid(gone);
    const next = this.entries.filter((_, j) => j !== i);
    try {
      saveStateList(this.opts.stateFile, next);
    } catch (err) {
      return { errors: [`cannot save the static MACs (${this.opts.stateFile}): ${(err as Error).message}`], status: 500 };
    }
    this.entries = next;
    this.log.info("static MAC removed", { by, vni, mac: m, ...(gone.port ? { port: gone.port } : { remote: gone.remote }), ...(wasActive ? {} : { wasIgnored: true }) });
    // an ignored one is not in the table (the entry there, if any, is someone else's)
    if (!wasActive) return { removed: gone };
    const fdb = this.target.table("fdb");
    const cur = fdb.get({ vni, mac: m });
    // only our entry: the data path or a route cannot have replaced a static one, but be sure
    if (cur && cur.flags & constants.FDB_STATIC && !(cur.flags & constants.FDB_CONTROL)) fdb.delete({ vni, mac: m });
    if (gone.port !== undefined) this.opts.hooks.localRemoved(vni, m);
    else this.opts.hooks.vnisChanged();
    this.opts.hooks.fdbChanged(vni, m);
    return { removed: gone };
  }

  // ------------------------------------------------------------ desired state

  /** Into the desired state, like the config's static MACs: the reconcile
   * keeps them (it removes static entries nobody wants) and admits their VTEPs. */
  contribute(d: DesiredState): void {
    for (const e of this.entries) {
      if (!d.vnis.has(e.vni) || this.invalid(e)) continue;
      let v: TableValue<"fdb">;
      try {
        v = this.value(e);
      } catch {
        continue; // its port is gone from this namespace: nothing to install
      }
      d.staticFdb.push([{ vni: e.vni, mac: e.mac }, v]);
      if (e.remote === undefined) continue;
      const vt = d.vteps.find(([k]) => k.vni === e.vni && k.remote === e.remote);
      if (vt) vt[1] = { refs: vt[1].refs + 1 };
      else d.vteps.push([{ vni: e.vni, remote: e.remote }, { refs: 1 }]);
    }
  }

  // ------------------------------------------------------------ internals

  /** Why this switch cannot hold `e`, naming the field; undefined when it can. */
  private invalid(e: StaticMac): string | undefined {
    const v = this.config.vnis.find((x) => x.vni === e.vni);
    if (!v) return `vni: ${e.vni} is not a VNI of this switch (configured: ${this.config.vnis.map((x) => x.vni).join(", ") || "none"})`;
    if (this.isConfigStatic(e.vni, e.mac)) return `mac: ${e.mac} in vni ${e.vni} is a static MAC of the config file (${this.config.file}): change it there`;
    if (e.port !== undefined) {
      const port = this.config.ports.find((p) => p.name === e.port);
      if (!port) return `port: ${e.port} is not an access port of this switch (access ports: ${this.config.ports.map((p) => p.name).join(", ") || "none"})`;
      if (portVlanFor(port, e.vni) === undefined) return `port: ${e.port} does not carry vni ${e.vni} (neither untagged nor on a VLAN)`;
    }
    if (e.remote !== undefined && e.remote === this.config.vtep.sourceIp) return `remote: ${e.remote} is this switch's own VTEP address`;
    return undefined;
  }

  private value(e: StaticMac): TableValue<"fdb"> {
    if (e.port !== undefined) {
      const port = this.config.ports.find((p) => p.name === e.port)!;
      return { kind: constants.FDB_LOCAL, flags: constants.FDB_STATIC, vlan: portVlanFor(port, e.vni) ?? 0, ifindex: this.opts.ifindexOf(e.port), remote: "0.0.0.0", seen_ns: 0n, event_ns: 0n };
    }
    return { kind: constants.FDB_REMOTE, flags: constants.FDB_STATIC, vlan: 0, ifindex: 0, remote: e.remote!, seen_ns: 0n, event_ns: 0n };
  }

  private load(): StaticMac[] {
    const valid = (x: unknown): x is StaticMac => {
      const m = x as Partial<StaticMac> | null;
      return typeof m?.vni === "number" && typeof m?.mac === "string" && (typeof m.port === "string" || typeof m.remote === "string");
    };
    return loadStateList(this.opts.stateFile, this.log, "the static MACs added through the API", valid);
  }

}
