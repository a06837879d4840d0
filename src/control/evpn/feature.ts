// BGP EVPN as a feature of the switch: the speaker (sessions, RIBs, routes)
// and its port into the fast path, booted around the first reconcile so that
// a restarted control plane keeps what routes installed until the peers
// confirm or drop it.
import type { SwitchConfig } from "../../config/types.ts";
import { constants } from "../../codegen/tables.ts";
import type { Logger } from "../log.ts";
import type { Target } from "../targets/target.ts";
import type { RuntimeAdditions } from "../l2/desired.ts";
import { FastPathEvpnPort } from "./port.ts";
import { EvpnSpeaker, type RouteExtensions } from "./speaker.ts";

export interface EvpnFeatureHooks {
  /** flood or admit sets changed: recompute and apply the VNI tables */
  vnisChanged(): void;
  /** a remote VTEP appeared: keep its outer next hop resolved */
  vtepSeen(vtep: string): void;
  /** a route installed, replaced or removed an FDB entry */
  fdbChanged(vni: number, mac: string): void;
  /** is (vni, mac) a static MAC added at run time (management API)? Routes never replace those either */
  staticMac?(vni: number, mac: string): boolean;
  /** does the port have its link (up, with carrier)? */
  portUp(ifindex: number): boolean;
}

const staticMacsOf = (cfg: SwitchConfig) => new Set(cfg.vnis.flatMap((v) => v.staticMacs.map((m) => `${v.vni}/${m.mac}`)));

export class EvpnFeature {
  readonly speaker: EvpnSpeaker;
  /** vni/mac of the config's static MACs, which routes never replace */
  private staticMacs: Set<string>;
  readonly port: FastPathEvpnPort;

  /** The speaker and its port, before the first reconcile: what an earlier
   * control plane installed from routes is adopted (stale until confirmed), so
   * the reconcile keeps those flood lists and admissions and nothing stops. */
  constructor(
    private config: SwitchConfig,
    private readonly target: Target,
    private readonly log: Logger,
    hooks: EvpnFeatureHooks,
    extensions?: RouteExtensions,
  ) {
    this.staticMacs = staticMacsOf(config);
    this.port = new FastPathEvpnPort(
      target,
      {
        vnisChanged: hooks.vnisChanged,
        vtepSeen: hooks.vtepSeen,
        fdbChanged: hooks.fdbChanged,
        portUp: hooks.portUp,
        configStatic: (vni, mac) => (this.staticMacs.size > 0 && this.staticMacs.has(`${vni}/${mac}`)) || !!hooks.staticMac?.(vni, mac),
      },
      log,
    );
    // the fast path went on forwarding through this restart: say so (graceful
    // restart R/F bits), so peers keep our routes until our End-of-RIB
    this.speaker = new EvpnSpeaker(config.bgp!, config.vtep.sourceIp, config.vnis.map((v) => v.vni), this.port, log, {
      forwardingPreserved: target.adopted,
      ...(extensions ? { extensions } : {}),
    });
    const seeded = this.port.seedFromFastPath(new Map(config.vnis.map((v) => [v.vni, v.flood])));
    if (seeded.macs + seeded.flood > 0) log.info("adopted EVPN state from the fast path, stale until routes confirm it", seeded);
  }

  /** What routes add to the VNI tables: flood lists (type 3) and admitted VTEPs. */
  get additions(): RuntimeAdditions {
    return { flood: this.port.flood, admit: this.port.admit };
  }

  async start(isStopped: () => boolean): Promise<void> {
    // hosts already here (static, or learned before a restart) are announced at once
    this.target.table("fdb").forEach(
      (k, v) => this.speaker.localMacLearned(k.vni, k.mac, { vlan: v.vlan || undefined, sticky: (v.flags & constants.FDB_STATIC) !== 0 }),
      { kind: constants.FDB_LOCAL },
    );
    await this.speaker.start();
    void this.purgeStaleWhenSynced(isStopped);
  }

  /** Adopted EVPN entries that no route confirmed go once the peers have sent
   * their full tables (End-of-RIB from each), or when the graceful-restart
   * bound expires: forwarding on stale entries beats no forwarding while a
   * reflector is away. */
  private async purgeStaleWhenSynced(isStopped: () => boolean): Promise<void> {
    const sync = await this.speaker.initialSync;
    if (sync.reason === "stopped" || isStopped()) return;
    const purged = this.port.purgeStale();
    this.log.info("EVPN initial sync done", { ...sync, staleRemoved: purged });
  }

  localLearned(vni: number, mac: string, vlan: number | undefined): void {
    this.speaker.localMacLearned(vni, mac, { vlan });
  }

  localGone(vni: number, mac: string): void {
    this.speaker.localMacGone(vni, mac);
  }

  /** An operator lifts a duplicate-detection freeze (`vxgate evpn
   * clear-duplicate`): in the speaker's MAC table, and the FDB_FROZEN flag that
   * stops the data path from moving the entry. False for each that was not frozen. */
  clearDuplicate(vni: number, mac: string): { speaker: boolean; fdb: boolean } {
    const speaker = this.speaker.clearDuplicate(vni, mac);
    const fdb = this.target.table("fdb");
    const e = fdb.get({ vni, mac });
    const frozen = !!e && (e.flags & constants.FDB_FROZEN) !== 0;
    if (frozen) fdb.set({ vni, mac }, { ...e, flags: e.flags & ~constants.FDB_FROZEN });
    // the reports of it are answered
    for (let i = this.port.duplicates.length - 1; i >= 0; i--) {
      const d = this.port.duplicates[i]!;
      if (d.vni === vni && d.mac === mac) this.port.duplicates.splice(i, 1);
    }
    return { speaker, fdb: frozen };
  }

  /** Static MACs may change on reload (the VNIs and the bgp section may not:
   * the runtime refuses that reload). Local static MACs added are announced,
   * removed ones withdrawn. */
  setConfig(cfg: SwitchConfig): void {
    const local = (c: SwitchConfig) =>
      new Map(c.vnis.flatMap((v) => v.staticMacs.filter((m) => m.port !== undefined).map((m) => [`${v.vni}/${m.mac}`, { vni: v.vni, mac: m.mac }] as const)));
    const before = local(this.config);
    const after = local(cfg);
    this.config = cfg;
    this.staticMacs = staticMacsOf(cfg);
    for (const [k, m] of after) if (!before.has(k)) this.speaker.localMacLearned(m.vni, m.mac, { sticky: true });
    for (const [k, m] of before) if (!after.has(k)) this.speaker.localMacGone(m.vni, m.mac);
  }

  /** graceful: peers keep our routes while the control plane restarts */
  async stop(graceful: boolean): Promise<void> {
    await this.speaker.stop(graceful ? { graceful: true } : {});
  }
}
