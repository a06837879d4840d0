// The EVPN speaker: sessions + RIBs + origination + the MAC/flood view that
// programs the switch through EvpnSwitchPort. See README.md in this
// directory for the interface the runtime uses.
//
// Graceful restart (RFC 4724, N bit of RFC 8538), L2VPN EVPN only:
//  - helper (receiving speaker): a peer that advertised GR for EVPN goes down
//    without a NOTIFICATION (or with one other than Hard Reset when both sent
//    the N bit): its routes stay in the RIBs and the switch, marked stale,
//    for its Restart Time. Re-established with the F bit: they wait for its
//    End-of-RIB (at most graceful_restart.stale_time); what it did not
//    re-announce is then removed. Without the F bit (or the capability):
//    removed at once. Stale routes are still reflected / exported.
//  - restarting speaker: SpeakerOptions.forwardingPreserved (the runtime
//    adopted the pinned fast path) -> R and F bits in the first OPEN to each
//    peer; End-of-RIB after the initial table (held until initialSync when we
//    pass routes between peers, RFC 4724 §4.1); `initialSync` resolves once
//    every configured peer sent End-of-RIB (or after a bound), which is when
//    the runtime purges adopted fast-path entries no route confirmed.
//
// max_prefixes (RFC 4486): an UPDATE that would take a peer's accepted EVPN
// routes (its Adj-RIB-In) past the limit is not applied; the session ends
// with Cease / Maximum Number of Prefixes Reached (data: AFI, SAFI, limit;
// wrapped in Hard Reset where the N bit was negotiated, RFC 8538 §5), the
// peer's routes are removed, and the session stays Idle (incoming connections
// refused) for max_prefixes_restart seconds, or until resetNeighbor() when 0.
//
// Multicast carriers (RFC 9251, RFC 9574), only to neighbors with `smet: true`
// ("capable"): one type-6 (SMET) route per (VNI, S or *, G) this switch has
// members for, the Multicast Flags extended community and the RFC 9574 T field
// on our type-3 routes, and the Replicator-AR route of a VNI we replicate for
// (all from RouteExtensions.multicast). Every other neighbor gets what it got
// before (the membership rides on type 3 in attribute 243, mcast/attribute.ts).
// No route of types 6..11 and no type-3 route with a PMSI tunnel type above 7
// goes to a neighbor that is not capable, whoever originated it (FRR drops type
// 6 silently, GoBGP resets the session on it), and routes passed on to one lose
// the Multicast Flags EC and the RFC 9574 PMSI flag bits (GoBGP 3.x treats an
// UPDATE with that EC as withdrawn). Type-6 routes from any neighbor
// are passed to RouteExtensions.received with the local VNIs they import into;
// a type-6 route the codec could frame but not parse is discarded and counted
// (RFC 7606: the session stays up).

import {
  resolveEvpnVnis,
  resolveGracefulRestart,
  importMatches,
  type BgpConfig,
  type BgpNeighborConfig,
  type GracefulRestartConfig,
  type ResolvedEvpnVni,
} from "./config.ts";
import type { Logger } from "../log.ts";
import {
  buildEvpnUpdates,
  buildEvpnWithdrawals,
  encodeEvpnRoute,
  encodePathAttributes,
  ESI_ZERO,
  evpnEndOfRib,
  evpnRouteKey,
  evpnRoutesOf,
  type EvpnRoute,
  type ExtCommunity,
  findAttribute,
  isIpv4,
  isMalformedEvpnRoute,
  PmsiArType,
  type PmsiTunnelAttr,
  withArType,
  formatAdminValue,
  formatEvpnRoute,
  formatRd,
  isKnownEvpnRouteType,
  type PathAttribute,
  TunnelEncapType,
  type UpdateMessage,
  vniFromLabel,
  type AdminAssigned,
  Afi,
  CeaseSubcode,
  encodeGracefulRestart,
  ErrorCode,
  gracefulRestartOf,
  Safi,
} from "./bgp/index.ts";
import { MacTable, type EvpnSwitchPort, type MacRow, type RemoteClaim } from "./macs.ts";
import { decodeMultiVni, encodeMultiVni, MULTI_VNI_ATTR_CODE, type MultiVniEntry } from "./multi-vni.ts";
import { exportAttributes, LocRib, mayAdvertise, needsMulticastCapability, rejectReason, withoutMulticastSignalling, type BestChange, type LocalIdentity, type Path, type PeerRef } from "./rib.ts";
import { BgpListener } from "./session/listener.ts";
import { BgpSession, type DownInfo, type SessionHandler, type SessionState } from "./session/session.ts";

export type { EvpnSwitchPort } from "./macs.ts";

/** What another feature adds to our routes (optional transitive attributes)
 * and learns from received ones. The speaker knows nothing of their meaning. */
export interface RouteExtensions {
  /** extra attributes for our type-3 route of `vni` */
  imet?(vni: number): PathAttribute[];
  /** extra attributes for our type-2 route of `mac` carrying `vnis` */
  mac?(mac: string, vnis: readonly number[]): PathAttribute[];
  /**
   * This switch's multicast in `vni`, for the standard carriers only capable
   * neighbors (`smet: true`) get: one RFC 9251 type-6 route per entry
   * (source "*" = any source), and with `replicator` (its AR-IP, not the
   * VTEP address) the RFC 9574 Replicator-AR route; our type-3 route to them
   * then carries the Multicast Flags extended community and the T field
   * (AR-LEAF, or RNVE on the replicator's own regular route). Undefined: no
   * multicast in `vni` (capable neighbors get the plain type-3 route).
   */
  multicast?(vni: number): { replicator?: string; entries: readonly { source: string; group: string }[] } | undefined;
  /**
   * The best path another speaker sent for a route key changed (undefined:
   * none left). For a type-6 route `vnis` says which local VNIs import it
   * (by route target; absent for other types).
   */
  received?(key: string, route: EvpnRoute, best: { attrs: readonly PathAttribute[]; nextHop: string; vnis?: readonly number[] } | undefined): void;
}

export interface SpeakerOptions {
  /** Attributes other features carry on our routes, and what they learn. */
  extensions?: RouteExtensions;
  /** Reconnect backoff base/max (ms); defaults 1000/60000. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Clock for mobility duplicate detection (tests). */
  now?: () => number;
  /**
   * The runtime adopted the fast path (pinned maps) of an earlier control
   * plane, so forwarding went on through this restart: the first OPEN to each
   * peer carries the Graceful Restart R bit and the F bit for L2VPN EVPN, and
   * peers in helper mode keep our routes until our End-of-RIB.
   */
  forwardingPreserved?: boolean;
  /** Bound for `initialSync` (ms); default graceful_restart.restart_time. */
  initialSyncTimeoutMs?: number;
  /** Outgoing connect timeout (ms), default 10000. */
  connectTimeoutMs?: number;
}

/** How the first exchange with the peers after start() ended. */
export interface InitialSyncResult {
  /** true: End-of-RIB from every configured peer; false: the bound expired (or the speaker stopped) first. */
  complete: boolean;
  /** Why it resolved: "stopped" = stop() came first (the runtime must not purge anything then). */
  reason: "end-of-rib" | "timeout" | "stopped";
  /** Peers whose End-of-RIB had not arrived. */
  pending: string[];
  /** Milliseconds since start(). */
  ms: number;
}

export interface SummaryRow {
  neighbor: string;
  remoteAs: number;
  type: "iBGP" | "eBGP";
  role: string;
  state: SessionState;
  upSeconds?: number;
  peerRouterId?: string;
  pfxRcvd: number;
  pfxAccepted: number;
  pfxSent: number;
  msgRcvd: number;
  msgSent: number;
  updatesRcvd: number;
  updatesSent: number;
  flaps: number;
  aggregation: boolean;
  /** "off" | "helper" (peer restarts only) | "on" | "peer restarting, N stale" | "waiting for End-of-RIB, N stale". */
  gracefulRestart: string;
  description?: string;
  lastError?: string;
  /** Why the session is held down (state Idle): e.g. its max_prefixes was exceeded. */
  idleReason?: string;
  /** Seconds until a held-down session starts again by itself (absent: only a reset starts it). */
  restartInSeconds?: number;
  /** The neighbor's max_prefixes (the limit on pfxAccepted). */
  maxPrefixes?: number;
  /** The neighbor is configured `smet: true` (gets type-6 routes and the RFC 9574 signalling). */
  smet?: true;
}

export interface RouteRow {
  best: boolean;
  type: number;
  rd: string;
  route: string;
  nextHop: string;
  from: string;
  vni?: number;
  mac?: string;
  ip?: string;
  rts: string;
  seq?: number;
  sticky?: boolean;
  /** Extra (VNI) entries of an aggregated route. */
  multiVni?: string;
  originator?: string;
  clusterList?: string;
  /** Kept for a peer in graceful restart, not yet re-announced. */
  stale?: boolean;
  /** Attributes the codec does not interpret, as "code/flags/value hex" (what reflectors must pass unchanged). */
  unknownAttrs?: string[];
}

/** What a peer was last sent for a route key (sig: its encoding, to send only changes). */
interface AdjOutEntry {
  sig: string;
  route: EvpnRoute;
}

interface PeerState {
  cfg: BgpNeighborConfig;
  session: BgpSession;
  ref: PeerRef;
  aggregate: boolean;
  /** `smet: true`: type 6, the Multicast Flags EC and RFC 9574 signalling may go to it. */
  capable: boolean;
  /** Paths of this peer in the Loc-RIB (its Adj-RIB-In: the Loc-RIB holds each path with its peer). */
  received: number;
  adjOut: Map<string, AdjOutEntry>;
  pending: Set<string>;
  rejected: number;
  /** Established at least once since start(). */
  everEstablished: boolean;
  /** Our End-of-RIB is held until initialSync (restarting transit speaker). */
  eorPending: boolean;
  /** Helper-mode state while the peer restarts. */
  gr?: { stale: Set<string>; phase: "restart" | "eor"; timer?: NodeJS.Timeout };
}

/** One (VNI, MAC) a type-2 route claims (multi-VNI routes: several). */
interface MacClaim {
  vni: number;
  mac: string;
  claim: { vtep: string; seq: number; sticky: boolean; ip?: string };
}

/** A received attribute set, as the import into the switch reads it. */
interface AttrInfo {
  rts: AdminAssigned[];
  seq: number;
  sticky: boolean;
  /** local VNI -> do the route targets import into it */
  imports: Map<number, boolean>;
  /** next hop -> the claim of a route without IP (claims are never modified, so one serves all) */
  claims: Map<string, RemoteClaim>;
  multiVni?: ReturnType<typeof decodeMultiVni>;
}

interface Claimant {
  vni: number;
  vtep: string;
}

/** Same route, next hop and attributes (as they would be encoded). */
function samePath(a: Path, b: Path): boolean {
  return a.nextHop === b.nextHop && encodeEvpnRoute(a.route).equals(encodeEvpnRoute(b.route)) && encodePathAttributes(a.attrs).equals(encodePathAttributes(b.attrs));
}

export class EvpnSpeaker {
  private readonly me: LocalIdentity;
  private readonly resolved = new Map<number, ResolvedEvpnVni>();
  private readonly peers = new Map<string, PeerState>();
  private readonly rib = new LocRib();
  /** Locally originated type-2 routes, per view: plain RFC 7432 and aggregated. */
  private readonly localPlain = new Map<string, Path>();
  private readonly localAgg = new Map<string, Path>();
  /** Other local routes (type 3), the same for every peer. */
  private readonly localOther = new Map<string, Path>();
  /**
   * What only capable neighbors get, by route key: our type-3 routes with the
   * Multicast Flags EC and T field (in place of localOther's), our type-6
   * routes and our Replicator-AR routes (in the Loc-RIB too, never sent to
   * anyone else).
   */
  private readonly localCapable = new Map<string, Path>();
  /** vni -> keys of our type-6 and Replicator-AR routes of that VNI (in localCapable). */
  private readonly localMcastKeys = new Map<number, Set<string>>();
  private readonly localKeysByMac = new Map<string, { plain: Set<string>; agg: Set<string> }>();
  private readonly macTimers = new Map<string, NodeJS.Timeout>();
  private readonly flood = new Map<string, Claimant>(); // route key -> (vni, vtep)
  private readonly floodRefs = new Map<string, number>(); // `${vni}/${vtep}` -> count
  readonly macs: MacTable;
  private listener?: BgpListener;
  private flushScheduled = false;
  private running = false;
  private boundPort?: number;
  readonly counters = { unknownRouteTypes: 0, rejected: 0, treatAsWithdraw: 0, multiVniMalformed: 0, staleKept: 0, stalePurged: 0, malformedRoutes: 0, multicastInvalidOwn: 0 };
  private readonly gr: GracefulRestartConfig;
  /** Peers whose End-of-RIB arrived since start(). */
  private readonly synced = new Set<string>();
  private syncDone = false;
  private syncStart = 0;
  private syncTimer?: NodeJS.Timeout;
  private resolveSync!: (r: InitialSyncResult) => void;
  /** End-of-RIB to peers is held until the peers' tables are in (RFC 4724 §4.1). */
  private eorHeld: boolean;
  /**
   * Resolves once End-of-RIB has arrived from every configured peer since
   * start(), or after `initialSyncTimeoutMs` (default restart_time), or at
   * stop(). Then every route the peers still have has been re-announced and
   * passed to the port: fast-path entries adopted from before a restart that
   * the port has not seen confirmed since can go (FastPathEvpnPort.purgeStale).
   */
  readonly initialSync: Promise<InitialSyncResult>;

  constructor(
    readonly cfg: BgpConfig,
    readonly localVtepIp: string,
    readonly vnis: readonly number[],
    private readonly port: EvpnSwitchPort,
    private readonly log: Logger,
    private readonly opts: SpeakerOptions = {},
  ) {
    this.me = { asn: cfg.asn, routerId: cfg.routerId, ...(cfg.routeReflector ? { clusterId: cfg.routeReflector.clusterId } : {}) };
    this.gr = resolveGracefulRestart(cfg);
    this.initialSync = new Promise((r) => (this.resolveSync = r));
    // Only a speaker that passes routes between peers (a reflector, or eBGP)
    // has an incomplete table until its peers' End-of-RIB; a leaf's initial
    // table is its own routes, complete at once.
    const transit = cfg.neighbors.length > 1 && (!!cfg.routeReflector || cfg.neighbors.some((n) => n.remoteAsn !== cfg.asn));
    this.eorHeld = !!opts.forwardingPreserved && this.gr.enabled && transit;
    for (const r of resolveEvpnVnis(cfg, vnis)) this.resolved.set(r.vni, r);
    this.macs = new MacTable(localVtepIp, port, cfg.evpn.mobility, log.child({ part: "macs" }), (vni, mac, urgent) => this.localMacChanged(mac, urgent), opts.now);
    port.bindInstalled?.((vni, mac) => this.macs.installedVtep(vni, mac));
    const specific = cfg.listen.host !== "0.0.0.0" && cfg.listen.host !== "::";
    for (const n of cfg.neighbors) {
      // (set below, once the session exists; the handler runs only after that)
      let peerState: PeerState | undefined;
      const handler: SessionHandler = {
        established: (s) => this.onEstablished(n.address),
        update: (_s, u) => this.onUpdate(n.address, u),
        updateFast: (_s, f) => this.receive(n.address, f.announced, f.announcedKeys, f.withdrawn, f.withdrawnKeys, f.nextHop, f.attrs, peerState),
        // withdrawals by key: the Loc-RIB has the routes
        fastWithdrawnRoutes: false,
        treatAsWithdraw: (_s, routes) => {
          this.counters.treatAsWithdraw++;
          this.withdrawFrom(n.address, routes);
        },
        routeRefresh: () => this.onRouteRefresh(n.address),
        down: (_s, reason, info) => this.onDown(n.address, reason, info),
        endOfRib: (_s, afi, safi) => {
          if (afi === Afi.L2VPN && safi === Safi.EVPN) this.onEndOfRib(n.address);
        },
      };
      const session = new BgpSession(
        {
          localAs: cfg.asn,
          routerId: cfg.routerId,
          peerAddress: n.address,
          peerAs: n.remoteAsn,
          peerPort: n.port,
          holdTime: n.holdTime,
          passive: n.passive,
          ...(specific ? { localAddress: cfg.listen.host } : {}),
          ...(opts.retryBaseMs !== undefined ? { retryBaseMs: opts.retryBaseMs } : {}),
          ...(opts.retryMaxMs !== undefined ? { retryMaxMs: opts.retryMaxMs } : {}),
          ...(opts.connectTimeoutMs !== undefined ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
          ...(n.md5Password !== undefined ? { md5Password: n.md5Password } : {}),
          ...(n.ttlSecurity !== undefined ? { ttlSecurity: n.ttlSecurity } : {}),
          extraCapabilities: () => this.grCapabilities(n.address),
        },
        handler,
        log.child({ peer: n.address }),
      );
      peerState = {
        cfg: n,
        session,
        ref: { id: n.address, routerId: "0.0.0.0", asn: n.remoteAsn, ibgp: n.remoteAsn === cfg.asn, rrClient: n.role === "rr-client" },
        aggregate: n.aggregation ?? cfg.evpn.aggregation.enabled,
        capable: n.smet === true,
        received: 0,
        adjOut: new Map(),
        pending: new Set(),
        rejected: 0,
        everEstablished: false,
        eorPending: false,
      };
      this.peers.set(n.address.toLowerCase(), peerState);
    }
  }

  /** The bound listen port (after start; useful with port 0). */
  get listenPort(): number | undefined {
    return this.boundPort;
  }

  /** Originates the type-3 routes, opens the listener, starts every session. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.syncStart = Date.now();
    if (this.peers.size === 0) this.finishSync(true);
    else if (!this.syncDone) this.syncTimer = setTimeout(() => this.finishSync(false, "timeout"), this.opts.initialSyncTimeoutMs ?? this.gr.restartTime * 1000);
    for (const r of this.resolved.values()) this.originateImet(r);
    this.listener = new BgpListener((remote) => this.peers.get(remote)?.session, this.log.child({ part: "listener" }));
    try {
      this.boundPort = await this.listener.listen(this.cfg.listen.host, this.cfg.listen.port, this.cfg.neighbors);
      this.log.info("BGP listening", { host: this.cfg.listen.host, port: this.boundPort });
    } catch (e) {
      this.log.error("BGP listener failed; only outgoing sessions will work", { error: (e as Error).message });
    }
    for (const p of this.peers.values()) p.session.start();
  }

  /**
   * Ends every session; the port is not called (the fast path is left as it
   * is). Default: Cease / Administrative Shutdown (Hard Reset where the peer
   * negotiated the N bit), so peers drop our routes. `graceful`: for a
   * control-plane restart (upgrade, SIGTERM with the pinned maps kept): peers
   * that negotiated graceful restart keep our routes for restart_time.
   */
  async stop(opts: { graceful?: boolean } = {}): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const t of this.macTimers.values()) clearTimeout(t);
    this.macTimers.clear();
    for (const p of this.peers.values()) {
      clearTimeout(p.gr?.timer);
      p.gr = undefined;
    }
    this.finishSync(false, "stopped");
    for (const p of this.peers.values()) p.session.stop(opts.graceful ? "vxgate restarting" : "vxgate shutting down", { graceful: !!opts.graceful });
    await this.listener?.close();
  }

  // ---------------------------------------------------------- graceful restart

  /** Our Graceful Restart capability for one peer's OPEN. */
  private grCapabilities(id: string) {
    if (!this.gr.enabled) return [];
    const p = this.peers.get(id.toLowerCase());
    const restarted = !!this.opts.forwardingPreserved && !p?.everEstablished;
    // F: our forwarding state is whatever the fast path holds; after a session
    // flap (no restart) it is intact, after a restart only if it was adopted.
    const fwd = !!this.opts.forwardingPreserved || !!p?.everEstablished;
    return [
      encodeGracefulRestart({
        restarting: restarted,
        notification: true,
        restartTime: this.gr.restartTime,
        families: [{ afi: Afi.L2VPN, safi: Safi.EVPN, forwardingPreserved: fwd }],
      }),
    ];
  }

  /** Why a peer's routes are not kept when its session went down (undefined: they are). */
  private helperRefusal(info: DownInfo): string | undefined {
    if (!this.gr.enabled) return "graceful restart disabled here";
    const mine = gracefulRestartOf(info.localOpen.capabilities);
    const theirs = gracefulRestartOf(info.peerOpen.capabilities);
    if (!mine || !theirs) return "graceful restart not negotiated";
    if (!theirs.families.some((f) => f.afi === Afi.L2VPN && f.safi === Safi.EVPN)) return "the peer's graceful restart capability does not list L2VPN EVPN";
    const n = info.notification;
    if (n) {
      if (!mine.notification || !theirs.notification) return "ended by a NOTIFICATION without the N bit negotiated (RFC 4724 §4)";
      if (n.code === ErrorCode.CEASE && n.subcode === CeaseSubcode.HARD_RESET) return "ended by a Hard Reset (RFC 8538 §3)";
    }
    return undefined;
  }

  /** Removes the routes of a peer still marked stale (and ends helper mode for it). */
  private purgeStale(p: PeerState, why: string): void {
    const g = p.gr;
    if (!g) return;
    clearTimeout(g.timer);
    p.gr = undefined;
    let n = 0;
    for (const k of g.stale) if (this.removeFrom(p, k)) n++;
    this.counters.stalePurged += n;
    this.log.info("graceful restart of peer ended", { peer: p.cfg.address, why, staleRemoved: n });
  }

  private onEndOfRib(id: string): void {
    const p = this.peer(id);
    this.log.debug("End-of-RIB from peer", { peer: id });
    if (p.gr?.phase === "eor") this.purgeStale(p, "End-of-RIB received");
    this.synced.add(p.cfg.address);
    this.checkSync();
  }

  private checkSync(): void {
    if (!this.running || this.syncDone) return;
    if ([...this.peers.values()].every((p) => this.synced.has(p.cfg.address))) return this.finishSync(true);
    if (this.eorHeld) {
      // RFC 4724 §4.1: wait for every peer's End-of-RIB except from peers that
      // restarted themselves (R bit: they wait for ours) or lack the capability.
      const ready = [...this.peers.values()].every((p) => {
        if (this.synced.has(p.cfg.address)) return true;
        if (!p.session.established) return false;
        const theirs = gracefulRestartOf(p.session.peerOpen!.capabilities);
        return !theirs || theirs.restarting;
      });
      if (ready) this.releaseEor();
    }
  }

  private releaseEor(): void {
    if (!this.eorHeld) return;
    this.eorHeld = false;
    for (const p of this.peers.values()) {
      if (!p.eorPending) continue;
      p.eorPending = false;
      if (!p.session.established) continue;
      this.flushPeer(p);
      p.session.sendUpdate(evpnEndOfRib());
    }
  }

  private finishSync(complete: boolean, reason: InitialSyncResult["reason"] = "end-of-rib"): void {
    if (this.syncDone) return;
    this.syncDone = true;
    clearTimeout(this.syncTimer);
    this.releaseEor();
    const r: InitialSyncResult = {
      complete,
      reason,
      pending: [...this.peers.values()].filter((p) => !this.synced.has(p.cfg.address)).map((p) => p.cfg.address),
      ms: this.syncStart ? Date.now() - this.syncStart : 0,
    };
    this.log.info("initial sync with the peers done", { ...r });
    this.resolveSync(r);
  }

  // ----------------------------------------------------------------- local MACs

  /** A host MAC was learned (or confirmed) locally in `vni`. */
  localMacLearned(vni: number, mac: string, opts: { ip?: string; vlan?: number; sticky?: boolean } = {}): void {
    if (!this.resolved.has(vni)) {
      this.log.debug("local MAC in a VNI without EVPN ignored", { vni, mac });
      return;
    }
    this.macs.learnLocal(vni, mac.toLowerCase(), opts);
  }

  /** A local host MAC is gone (aged out, port down, moved to another switch). */
  localMacGone(vni: number, mac: string): void {
    this.macs.forgetLocal(vni, mac.toLowerCase());
  }

  /** Re-originates our type-3 routes (an extension's attributes changed). */
  refreshImets(): void {
    if (!this.running) return;
    for (const r of this.resolved.values()) this.originateImet(r);
  }

  /**
   * Re-originates our type-3 route of one VNI only (an extension's attributes
   * for that VNI changed, e.g. its multicast membership): the route goes to
   * each established peer in the next flush, one UPDATE per peer (calls in
   * the same turn of the event loop coalesce); none when its attributes did
   * not change. Ignored for a VNI without EVPN and before start().
   */
  refreshImet(vni: number): void {
    if (!this.running) return;
    const r = this.resolved.get(vni);
    if (r) this.originateImet(r);
  }

  /** Re-originates the type-2 routes of these local MACs now, skipping the
   * aggregation window (an extension's attributes changed). */
  refreshLocalMacs(macs: Iterable<string>): void {
    for (const mac of macs) if (this.localKeysByMac.has(mac.toLowerCase())) this.rebuildLocalMac(mac.toLowerCase());
  }

  /** Lifts a duplicate-detection freeze. */
  clearDuplicate(vni: number, mac: string): boolean {
    return this.macs.clearFrozen(vni, mac.toLowerCase());
  }

  /**
   * An operator resets one neighbor (`vxgate bgp reset`). Hard: the session
   * ends with Cease / Administrative Reset (its routes go, as for any session
   * ended by a NOTIFICATION) and starts again at once. Soft: our whole table
   * goes out again, then End-of-RIB, as for a ROUTE-REFRESH from the peer; the
   * session stays up. False for an unknown neighbor; soft throws when the
   * session is not Established.
   */
  resetNeighbor(address: string, opts: { soft?: boolean } = {}): boolean {
    const p = this.peers.get(address.toLowerCase());
    if (!p) return false;
    if (opts.soft) {
      if (!p.session.established) throw new Error(`the session to ${p.cfg.address} is ${p.session.state}, not Established: nothing to re-send`);
      this.onRouteRefresh(p.cfg.address);
      return true;
    }
    if (!this.running) throw new Error("the BGP speaker is not running");
    p.session.stop("reset by the operator", { reset: true });
    p.session.start();
    return true;
  }

  /**
   * A MAC's local VNI set (or an entry in it) changed. A MAC we do not
   * advertise yet goes out with the next batch (every change made in one turn
   * of the event loop, so a burst of new hosts is a few UPDATEs packed with
   * NLRIs, not one per MAC); so does an urgent change (a MAC taken over from
   * another switch). Any other change to an advertised MAC is held for the
   * aggregation window, so hosts that show up in several VNIs together update
   * their one route once. (A new MAC that appears in a second VNI later
   * updates the same route: it is keyed by its first VNI.)
   */
  private localMacChanged(mac: string, urgent: boolean): void {
    if (!this.cfg.evpn.advertiseLocalMacs) return;
    const w = this.cfg.evpn.aggregation.enabled ? this.cfg.evpn.aggregation.windowSeconds : 0;
    const pending = this.macTimers.get(mac);
    const fresh = !this.localKeysByMac.has(mac);
    // Before start() (hosts already in the fast path at boot): at once, so
    // they are in the initial table that precedes our End-of-RIB.
    if (!this.running) {
      if (pending) {
        clearTimeout(pending);
        this.macTimers.delete(mac);
      }
      this.rebuildLocalMac(mac);
      return;
    }
    if (urgent || fresh || w === 0) {
      if (pending) {
        clearTimeout(pending);
        this.macTimers.delete(mac);
      }
      this.batchMac(mac);
      return;
    }
    if (pending) return; // merged into the open window
    this.macTimers.set(
      mac,
      setTimeout(() => {
        this.macTimers.delete(mac);
        this.rebuildLocalMac(mac);
      }, w * 1000),
    );
  }

  private readonly macBatch = new Set<string>();

  /** Rebuild `mac`'s routes with every other change of this turn of the event loop. */
  private batchMac(mac: string): void {
    if (this.macBatch.size === 0)
      setImmediate(() => {
        const macs = [...this.macBatch];
        this.macBatch.clear();
        if (!this.running) return;
        for (const m of macs) this.rebuildLocalMac(m);
      });
    this.macBatch.add(mac);
  }

  private commonAttrs(ext: ExtCommunity[]): PathAttribute[] {
    return [
      { type: "origin", value: 0 },
      { type: "as-path", segments: [] },
      { type: "ext-communities", communities: ext },
    ];
  }

  private rtComms(rts: AdminAssigned[]): ExtCommunity[] {
    return rts.map((target) => ({ type: "route-target", target }));
  }

  private originateImet(r: ResolvedEvpnVni): void {
    const route: EvpnRoute = { type: "imet", rd: r.rd, ethernetTag: 0, originatorIp: this.localVtepIp };
    const ext: ExtCommunity[] = [...this.rtComms(r.exportRts), { type: "encapsulation", tunnelType: TunnelEncapType.VXLAN }];
    const pmsi: PmsiTunnelAttr = { type: "pmsi-tunnel", leafInfoRequired: false, label: r.vni, tunnel: { type: "ingress-replication", endpoint: this.localVtepIp } };
    const extra = this.opts.extensions?.imet?.(r.vni) ?? [];
    const attrs: PathAttribute[] = [...this.commonAttrs(ext), pmsi, ...extra];
    const key = evpnRouteKey(route);
    const p: Path = { key, route, nextHop: this.localVtepIp, attrs };
    this.localOther.set(key, p);
    // the capable neighbors' variant is in place before the flush this change schedules
    this.originateMulticast(r, p, ext, pmsi, extra);
    this.apply(this.rib.upsert(p));
  }

  /**
   * The routes only capable neighbors get for one VNI: our type-3 route with
   * the Multicast Flags EC (RFC 9251 §9.4: IGMP proxy) and the RFC 9574 T
   * field (AR-LEAF, or RNVE on a replicator's regular route), one type-6
   * route per (S or *, G) (RFC 9251 §9.1), and the Replicator-AR route when
   * we replicate for the VNI (RFC 9574: type 3 from the AR-IP, PMSI tunnel
   * type 0x0A, T = AR-REPLICATOR). Routes that went are withdrawn.
   */
  private originateMulticast(r: ResolvedEvpnVni, imet: Path, ext: ExtCommunity[], pmsi: PmsiTunnelAttr, extra: PathAttribute[]): void {
    const mc = this.opts.extensions?.multicast?.(r.vni);
    const want = new Map<string, Path>();
    if (mc) {
      const replicator = mc.replicator !== undefined && isIpv4(mc.replicator) && mc.replicator !== "0.0.0.0" && mc.replicator !== this.localVtepIp ? mc.replicator : undefined;
      if (mc.replicator !== undefined && replicator === undefined) {
        this.counters.multicastInvalidOwn++;
        this.log.error("replication point address cannot be advertised (needs an IPv4 address other than the VTEP's)", { vni: r.vni, address: mc.replicator });
      }
      const role = replicator !== undefined ? PmsiArType.RNVE : PmsiArType.AR_LEAF;
      this.localCapable.set(imet.key, { ...imet, attrs: [...this.commonAttrs([...ext, { type: "multicast-flags", igmpProxy: true, mldProxy: false }]), withArType(pmsi, role), ...extra] });
      for (const e of mc.entries) {
        const any = e.source === "*" || e.source === "0.0.0.0";
        const route: EvpnRoute = {
          type: "smet",
          rd: r.rd,
          ethernetTag: 0,
          ...(any ? {} : { source: e.source }),
          group: e.group,
          originatorIp: this.localVtepIp,
          // (*,G): IGMPv2 joins and IGMPv3 EXCLUDE({}) reports; (S,G): IGMPv3 INCLUDE
          flags: any ? { igmpV1: false, igmpV2: true, igmpV3: true, exclude: true } : { igmpV1: false, igmpV2: false, igmpV3: true, exclude: false },
        };
        if (!isIpv4(e.group) || (!any && !isIpv4(e.source))) {
          this.counters.multicastInvalidOwn++;
          this.log.error("multicast membership entry cannot be advertised as a type-6 route", { vni: r.vni, source: e.source, group: e.group });
          continue;
        }
        const key = evpnRouteKey(route);
        want.set(key, { key, route, nextHop: this.localVtepIp, attrs: this.commonAttrs(ext) });
      }
      if (replicator !== undefined) {
        const route: EvpnRoute = { type: "imet", rd: r.rd, ethernetTag: 0, originatorIp: replicator };
        const arPmsi = withArType<PmsiTunnelAttr>({ type: "pmsi-tunnel", leafInfoRequired: false, label: r.vni, tunnel: { type: "assisted-replication", endpoint: replicator } }, PmsiArType.AR_REPLICATOR);
        const key = evpnRouteKey(route);
        want.set(key, { key, route, nextHop: replicator, attrs: [...this.commonAttrs(ext), arPmsi] });
      }
    } else {
      this.localCapable.delete(imet.key);
    }
    const old = this.localMcastKeys.get(r.vni) ?? new Set<string>();
    for (const k of old) {
      if (want.has(k)) continue;
      this.localCapable.delete(k);
      this.apply(this.rib.remove(k, undefined));
    }
    for (const [k, p] of want) {
      const cur = this.localCapable.get(k);
      if (cur && samePath(cur, p)) continue;
      this.localCapable.set(k, p);
      this.apply(this.rib.upsert(p));
    }
    if (want.size) this.localMcastKeys.set(r.vni, new Set(want.keys()));
    else this.localMcastKeys.delete(r.vni);
  }

  /** The local VNIs a received type-6 route is for: those whose import RTs match its RTs; when that is
   * several, the one its originator's type-3 route with the same RD is for (if we have it). */
  private smetVnis(p: Path): number[] {
    if (p.route.type !== "smet") return [];
    const { rts } = this.routeTargets(p.attrs);
    const vnis = [...this.resolved.keys()].filter((v) => this.imports(v, rts));
    if (vnis.length <= 1) return vnis;
    const imet = this.rib.best(evpnRouteKey({ type: "imet", rd: p.route.rd, ethernetTag: p.route.ethernetTag, originatorIp: p.route.originatorIp }));
    const pmsi = imet && findAttribute(imet.attrs, "pmsi-tunnel");
    const v = pmsi ? vniFromLabel(pmsi.label) : undefined;
    return v !== undefined && vnis.includes(v) ? [v] : vnis;
  }

  private macPath(vni: number, mac: string, e: { seq: number; sticky: boolean }, extra?: MultiVniEntry[]): Path {
    const r = this.resolved.get(vni)!;
    const route: EvpnRoute = { type: "mac-ip", rd: r.rd, esi: ESI_ZERO, ethernetTag: 0, mac, label1: r.vni };
    const ext: ExtCommunity[] = [...this.rtComms(r.exportRts), { type: "encapsulation", tunnelType: TunnelEncapType.VXLAN }];
    if (e.seq > 0 || e.sticky) ext.push({ type: "mac-mobility", sticky: e.sticky, sequence: e.seq });
    const attrs = this.commonAttrs(ext);
    if (extra && extra.length) attrs.push(encodeMultiVni(extra));
    const ours = this.opts.extensions?.mac?.(mac, [vni, ...(extra ?? []).map((x) => x.vni)]);
    if (ours) attrs.push(...ours);
    return { key: evpnRouteKey(route), route, nextHop: this.localVtepIp, attrs };
  }

  /** Recomputes this switch's type-2 routes for one MAC in both views. */
  private rebuildLocalMac(mac: string): void {
    const entries = this.macs.localVnisOf(mac, this.vnis);
    const plain = new Map<string, Path>();
    for (const { vni, e } of entries) {
      const p = this.macPath(vni, mac, e);
      plain.set(p.key, p);
    }
    const agg = new Map<string, Path>();
    if (entries.length) {
      const [first, ...rest] = entries;
      const extra: MultiVniEntry[] = rest.map(({ vni, e }) => ({
        vni,
        sticky: e.sticky,
        vlan: e.vlan ?? 0,
        seq: e.seq,
        rt: this.resolved.get(vni)!.exportRts[0]!,
        ...(e.ip !== undefined ? { ip: e.ip } : {}),
      }));
      const p = this.macPath(first!.vni, mac, first!.e, extra);
      agg.set(p.key, p);
    }
    const old = this.localKeysByMac.get(mac) ?? { plain: new Set<string>(), agg: new Set<string>() };
    const touched = new Set<string>([...old.plain, ...old.agg, ...plain.keys(), ...agg.keys()]);
    for (const k of old.plain) if (!plain.has(k)) this.localPlain.delete(k);
    for (const k of old.agg) if (!agg.has(k)) this.localAgg.delete(k);
    for (const [k, p] of plain) this.localPlain.set(k, p);
    for (const [k, p] of agg) this.localAgg.set(k, p);
    if (plain.size || agg.size) this.localKeysByMac.set(mac, { plain: new Set(plain.keys()), agg: new Set(agg.keys()) });
    else this.localKeysByMac.delete(mac);
    // The Loc-RIB holds the plain view (and the aggregated route's key, which is
    // its first VNI's plain key); the per-peer views are chosen at export.
    for (const k of touched) {
      const p = this.localPlain.get(k) ?? this.localAgg.get(k);
      this.apply(p ? this.rib.upsert(p) : this.rib.remove(k, undefined));
      this.markDirty(k);
    }
  }

  // ------------------------------------------------------------------ receive

  private peer(id: string): PeerState {
    return this.peers.get(id.toLowerCase())!;
  }

  private onEstablished(id: string): void {
    const p = this.peer(id);
    p.ref = { ...p.ref, routerId: p.session.peerOpen!.bgpId };
    p.everEstablished = true;
    if (p.gr) {
      // RFC 4724 §4.2: stale routes survive only if the peer kept its forwarding state.
      const theirs = gracefulRestartOf(p.session.peerOpen!.capabilities);
      const fam = theirs?.families.find((f) => f.afi === Afi.L2VPN && f.safi === Safi.EVPN);
      if (!this.gr.enabled || !fam || !fam.forwardingPreserved) {
        this.purgeStale(p, !theirs ? "the peer came back without graceful restart" : !fam ? "the peer came back without L2VPN EVPN in its graceful restart capability" : "the peer came back without the F bit (forwarding state lost)");
      } else {
        clearTimeout(p.gr.timer);
        p.gr.phase = "eor";
        p.gr.timer = setTimeout(() => this.purgeStale(p, `stale time (${this.gr.staleTime} s) expired before End-of-RIB`), this.gr.staleTime * 1000);
        this.log.info("restarted peer is back: its stale routes wait for its End-of-RIB", { peer: id, stale: p.gr.stale.size, restarting: theirs!.restarting });
      }
    }
    p.adjOut.clear();
    p.pending.clear();
    for (const k of this.allKeys()) p.pending.add(k);
    this.flushPeer(p);
    if (this.eorHeld) p.eorPending = true;
    else p.session.sendUpdate(evpnEndOfRib());
    this.checkSync();
  }

  private onRouteRefresh(id: string): void {
    const p = this.peer(id);
    p.adjOut.clear();
    for (const k of this.allKeys()) p.pending.add(k);
    this.flushPeer(p);
    p.session.sendUpdate(evpnEndOfRib());
  }

  private onDown(id: string, reason: string, info: DownInfo): void {
    const p = this.peer(id);
    p.adjOut.clear();
    p.pending.clear();
    p.eorPending = false;
    // Stopping: the fast path is left as it is (nothing removed through the port).
    if (!this.running) return;
    const refusal = this.helperRefusal(info);
    if (refusal === undefined) {
      const restartTime = gracefulRestartOf(info.peerOpen.capabilities)!.restartTime;
      const stale = p.gr?.stale ?? new Set<string>();
      for (const path of this.rib.pathsFrom(p.ref.id)) stale.add(path.key);
      clearTimeout(p.gr?.timer);
      const g: NonNullable<PeerState["gr"]> = { stale, phase: "restart" };
      p.gr = g;
      this.counters.staleKept += stale.size;
      this.log.info("peer down: its routes are kept as stale (graceful restart helper)", { peer: id, reason, stale: stale.size, restartTime });
      g.timer = setTimeout(() => this.purgeStale(p, `restart time (${restartTime} s) expired`), restartTime * 1000);
      return;
    }
    if (gracefulRestartOf(info.peerOpen.capabilities)) this.log.info("peer down: routes removed", { peer: id, why: refusal });
    if (p.gr) {
      clearTimeout(p.gr.timer);
      p.gr = undefined;
    }
    const keys = Array.from(this.rib.pathsFrom(p.ref.id), (path) => path.key);
    for (const k of keys) this.removeFrom(p, k);
  }

  private onUpdate(id: string, u: UpdateMessage): void {
    const { announced, withdrawn, nextHop } = evpnRoutesOf(u);
    const attrs = u.attributes.filter((a) => a.type !== "mp-reach" && a.type !== "mp-unreach");
    this.receive(id, announced, undefined, withdrawn, undefined, nextHop, attrs);
  }

  /**
   * One UPDATE's EVPN routes (from onUpdate, or decoded by the session's fast
   * path with their keys): withdrawals first, then the announcements, all
   * with the same next hop and attributes (`attrs` may be shared between
   * UPDATEs: never modified).
   */
  private receive(
    id: string,
    announced: EvpnRoute[],
    announcedKeys: string[] | undefined,
    withdrawn: EvpnRoute[],
    withdrawnKeys: string[] | undefined,
    nextHop: string | undefined,
    attrs: PathAttribute[],
    peer?: PeerState,
  ): void {
    const p = peer ?? this.peer(id);
    if (withdrawn.length || withdrawnKeys?.length) this.withdrawFrom(id, withdrawn, withdrawnKeys);
    if (!announced.length) return;
    if (p.cfg.maxPrefixes !== undefined && this.exceedsMaxPrefixes(p, announced, nextHop!, attrs, announcedKeys)) return;
    let malformed = 0;
    for (const r of announced) if (r.type === "raw" && isMalformedEvpnRoute(r)) malformed++;
    if (malformed) {
      // framed but not parsable (type 6): those routes alone are discarded, the rest stands, the session stays (RFC 7606)
      this.counters.malformedRoutes += malformed;
      this.log.warn("malformed EVPN routes discarded, session kept", { peer: id, count: malformed, first: formatEvpnRoute(announced.find(isMalformedEvpnRoute)!) });
    }
    // the loop and cluster checks look at the attributes and the peer only: once per UPDATE
    // (and the same attribute array again, from one session's fast path: the same answer)
    let why: string | undefined;
    const rc = this.lastReject;
    if (rc.attrs === attrs && rc.ref === p.ref && rc.ibgp === p.ref.ibgp) why = rc.why;
    else {
      why = rejectReason({ key: "", route: announced[0]!, nextHop: nextHop!, attrs, from: p.ref }, this.me);
      rc.attrs = attrs;
      rc.ref = p.ref;
      rc.ibgp = p.ref.ibgp;
      rc.why = why;
    }
    for (let i = 0; i < announced.length; i++) {
      const route = announced[i]!;
      if (route.type === "raw") {
        if (isMalformedEvpnRoute(route)) continue;
        if (!isKnownEvpnRouteType(route.routeType)) {
          // RFC 7606 §5.4: a route of an unrecognized NLRI type is discarded.
          this.counters.unknownRouteTypes++;
          this.log.warn("EVPN route of an unregistered type discarded (RFC 7606 §5.4)", { peer: id, routeType: route.routeType });
          continue;
        }
      }
      const key = announcedKeys ? announcedKeys[i]! : evpnRouteKey(route);
      if (why) {
        p.rejected++;
        this.counters.rejected++;
        this.log.debug("route rejected", { peer: id, route: formatEvpnRoute(route), why });
        p.gr?.stale.delete(key);
        this.removeFrom(p, key);
        continue;
      }
      const path: Path = { key, route, nextHop: nextHop!, attrs, from: p.ref, claimed: undefined };
      p.gr?.stale.delete(key);
      const ch = this.rib.upsert(path);
      if (this.rib.lastUpsertAdded) p.received++;
      this.apply(ch);
    }
  }

  /**
   * Would these announcements take the peer past its max_prefixes? Then the
   * session ends (nothing of this UPDATE is applied; onDown removes the rest)
   * and stays down for max_prefixes_restart seconds (0: until a reset).
   */
  private exceedsMaxPrefixes(p: PeerState, announced: EvpnRoute[], nextHop: string, attrs: PathAttribute[], keys?: string[]): boolean {
    const limit = p.cfg.maxPrefixes!;
    const fresh = new Set<string>();
    for (let i = 0; i < announced.length; i++) {
      const route = announced[i]!;
      if ((route.type === "raw" && !isKnownEvpnRouteType(route.routeType)) || isMalformedEvpnRoute(route)) continue;
      const key = keys ? keys[i]! : evpnRouteKey(route);
      if (fresh.has(key) || this.rib.pathFrom(key, p.ref.id)) continue;
      if (rejectReason({ key, route, nextHop, attrs, from: p.ref }, this.me)) continue;
      fresh.add(key);
    }
    const total = p.received + fresh.size;
    if (total <= limit) return false;
    const restart = p.cfg.maxPrefixesRestart ?? 0;
    const reason = `${total} EVPN routes from the peer, max_prefixes ${limit}`;
    this.log.warn("neighbor exceeded max_prefixes: session ended, routes removed", {
      peer: p.cfg.address,
      routes: total,
      maxPrefixes: limit,
      restart: restart > 0 ? `in ${restart} s` : "only by a reset",
    });
    // RFC 4486 §4: AFI (2) + SAFI (1) + the upper bound (4)
    const data = Buffer.alloc(7);
    data.writeUInt16BE(Afi.L2VPN, 0);
    data.writeUInt8(Safi.EVPN, 2);
    data.writeUInt32BE(limit, 3);
    p.session.cease(CeaseSubcode.MAXIMUM_NUMBER_OF_PREFIXES_REACHED, data, reason, { restartSeconds: restart, hardReset: true, idleReason: `max_prefixes ${limit} exceeded` });
    return true;
  }

  /** Withdrawals, by key where the keys are given (then `routes` may be empty). */
  private withdrawFrom(id: string, routes: EvpnRoute[], keys?: string[]): void {
    const p = this.peer(id);
    const n = keys ? keys.length : routes.length;
    for (let i = 0; i < n; i++) {
      const key = keys ? keys[i]! : evpnRouteKey(routes[i]!);
      p.gr?.stale.delete(key);
      this.removeFrom(p, key);
    }
  }

  /** Removes the peer's path for a key (from its Adj-RIB-In and the Loc-RIB) and applies the change; false: it had none. */
  private removeFrom(p: PeerState, key: string): boolean {
    const ch = this.rib.remove(key, p.ref.id);
    if (!this.rib.lastRemoveFound) return false;
    p.received--;
    this.apply(ch);
    return true;
  }

  // ------------------------------------------------------------ import to switch

  private apply(ch: BestChange | undefined): void {
    if (!ch) return;
    this.markDirty(ch.key, ch.best ?? null);
    const best = ch.best && ch.best.from ? ch.best : undefined; // local bests import nothing
    const route = (ch.best ?? ch.old)!.route;
    // (a Path is what `received` reads: attrs and nextHop; type 6 gets its VNIs too)
    this.opts.extensions?.received?.(ch.key, route, best ? (route.type === "smet" ? { attrs: best.attrs, nextHop: best.nextHop, vnis: this.smetVnis(best) } : best) : undefined);
    if (route.type === "mac-ip") this.importMac(ch.key, ch.old, ch.best, best);
    else if (route.type === "imet") this.setFlood(ch.key, best ? this.floodOf(best) : undefined);
  }

  private routeTargets(attrs: readonly PathAttribute[]): { rts: AdminAssigned[]; mm?: { seq: number; sticky: boolean } } {
    const out: { rts: AdminAssigned[]; mm?: { seq: number; sticky: boolean } } = { rts: [] };
    for (const c of findAttribute(attrs, "ext-communities")?.communities ?? []) {
      if (c.type === "route-target") out.rts.push(c.target);
      if (c.type === "mac-mobility" && !out.mm) out.mm = { seq: c.sequence, sticky: c.sticky };
    }
    return out;
  }

  /** imports() for the route targets of one attribute set, asked once per VNI. */
  private importsOnce(info: AttrInfo, vni: number): boolean {
    let imp = info.imports.get(vni);
    if (imp === undefined) info.imports.set(vni, (imp = this.imports(vni, info.rts)));
    return imp;
  }

  private imports(vni: number, rts: readonly AdminAssigned[]): boolean {
    const r = this.resolved.get(vni);
    return !!r && rts.some((rt) => r.importRts.some((rule) => importMatches(rule, rt)));
  }

  /**
   * What expandMac needs from a path's attributes, worked out once per
   * attribute array: received routes with the same attribute octets share one
   * array (the session's fast path), so this is once per distinct set, not per route.
   */
  private readonly attrInfo = new WeakMap<readonly PathAttribute[], AttrInfo>();
  /** rejectReason of the last (attribute array, peer) seen by receive() */
  private readonly lastReject: { attrs?: readonly PathAttribute[]; ref?: PeerRef; ibgp?: boolean; why?: string } = {};

  private infoOf(attrs: readonly PathAttribute[]): AttrInfo {
    let i = this.attrInfo.get(attrs);
    if (!i) {
      const { rts, mm } = this.routeTargets(attrs);
      const mv = attrs.find((a) => a.type === "unknown" && a.code === MULTI_VNI_ATTR_CODE);
      i = { rts, seq: mm?.seq ?? 0, sticky: mm?.sticky ?? false, imports: new Map(), claims: new Map() };
      if (mv && mv.type === "unknown") i.multiVni = decodeMultiVni(mv.value);
      this.attrInfo.set(attrs, i);
    }
    return i;
  }

  /**
   * The remote MAC claim(s) of a type-2 route's best path (none: the route is
   * gone, or its best is our own). What the route claims is held by its best
   * path: handed from the old best to the new.
   */
  private importMac(key: string, oldBest: Path | undefined, newBest: Path | undefined, best: Path | undefined): void {
    const route = best?.route;
    if (!best || route?.type !== "mac-ip") {
      this.macs.setClaim(key, oldBest, newBest, 0, "", undefined);
      return;
    }
    const info = this.infoOf(best.attrs);
    if (info.multiVni) {
      this.macs.setClaims(key, oldBest, newBest, this.expandMac(best));
      return;
    }
    // one VNI: the claim itself, shared by every route with these attributes and next hop when it has no IP
    const vni = vniFromLabel(route.label1);
    const imp = this.importsOnce(info, vni);
    if (!imp) {
      this.macs.setClaim(key, oldBest, newBest, 0, "", undefined);
      return;
    }
    let claim: RemoteClaim | undefined;
    if (route.ip === undefined) {
      claim = info.claims.get(best.nextHop);
      if (!claim) info.claims.set(best.nextHop, (claim = { vtep: best.nextHop, seq: info.seq, sticky: info.sticky }));
    } else claim = { vtep: best.nextHop, seq: info.seq, sticky: info.sticky, ip: route.ip };
    this.macs.setClaim(key, oldBest, newBest, vni, route.mac, claim);
  }

  private expandMac(p: Path): MacClaim[] {
    const route = p.route;
    if (route.type !== "mac-ip") return [];
    const info = this.infoOf(p.attrs);
    const out: MacClaim[] = [];
    const vni = vniFromLabel(route.label1);
    const imp = this.importsOnce(info, vni);
    if (imp) {
      const claim: MacClaim["claim"] = { vtep: p.nextHop, seq: info.seq, sticky: info.sticky };
      if (route.ip !== undefined) claim.ip = route.ip;
      out.push({ vni, mac: route.mac, claim });
    }
    const d = info.multiVni;
    if (d) {
      if (!d.ok) {
        this.counters.multiVniMalformed++;
        this.log.warn("malformed multi-VNI attribute ignored", { route: formatEvpnRoute(route), reason: d.reason });
      } else {
        for (const e of d.entries) {
          if (e.vni === vni || !this.imports(e.vni, [e.rt])) continue;
          out.push({ vni: e.vni, mac: route.mac, claim: { vtep: p.nextHop, seq: e.seq, sticky: e.sticky, ...(e.ip ? { ip: e.ip } : {}) } });
        }
      }
    }
    return out;
  }

  private floodOf(p: Path): Claimant | undefined {
    if (p.route.type !== "imet") return undefined;
    const pmsi = findAttribute(p.attrs, "pmsi-tunnel");
    if (!pmsi || pmsi.tunnel.type !== "ingress-replication") return undefined;
    const vni = vniFromLabel(pmsi.label);
    if (!this.imports(vni, this.routeTargets(p.attrs).rts)) return undefined;
    const vtep = pmsi.tunnel.endpoint;
    if (vtep === this.localVtepIp) return undefined;
    return { vni, vtep };
  }

  private setFlood(key: string, c: Claimant | undefined): void {
    const old = this.flood.get(key);
    if (old && c && old.vni === c.vni && old.vtep === c.vtep) return;
    if (old) {
      this.flood.delete(key);
      const k = `${old.vni}/${old.vtep}`;
      const n = (this.floodRefs.get(k) ?? 1) - 1;
      if (n <= 0) {
        this.floodRefs.delete(k);
        this.port.removeFloodVtep(old.vni, old.vtep);
      } else this.floodRefs.set(k, n);
    }
    if (c) {
      this.flood.set(key, c);
      const k = `${c.vni}/${c.vtep}`;
      const n = this.floodRefs.get(k) ?? 0;
      this.floodRefs.set(k, n + 1);
      if (n === 0) this.port.addFloodVtep(c.vni, c.vtep);
    }
  }

  // ------------------------------------------------------------------- export

  private *allKeys(): IterableIterator<string> {
    const seen = new Set<string>();
    for (const m of [this.localAgg, this.localPlain, this.localOther, this.localCapable]) for (const k of m.keys()) if (!seen.has(k)) (seen.add(k), yield k);
    for (const k of this.rib.keys()) if (!seen.has(k)) (seen.add(k), yield k);
  }

  /**
   * `key` may have to be sent again (best: its best path now, null: none;
   * undefined: not known here, every established peer looks at it).
   * A peer is skipped when nothing can change for it: the key is not ours,
   * the peer was not sent it, and the best path (if any) is one that
   * mayAdvertise never gives it (iBGP to iBGP without route reflection):
   * flushPeer would find nothing to send. On a leaf that receives 100k
   * routes from its reflectors this keeps every route out of every peer's
   * pending set.
   */
  private markDirty(key: string, best?: Path | null): void {
    const quiet = best !== undefined && this.me.clusterId === undefined && (best === null || (best.from !== undefined && best.from.ibgp)) && !this.isLocalKey(key);
    for (const p of this.peers.values()) {
      if (!p.session.established) continue;
      if (quiet && p.ref.ibgp && !p.adjOut.has(key)) continue;
      p.pending.add(key);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        for (const p of this.peers.values()) this.flushPeer(p);
      });
    }
  }

  private isLocalKey(key: string): boolean {
    return this.localOther.has(key) || this.localPlain.has(key) || this.localAgg.has(key) || this.localCapable.has(key);
  }

  private desired(key: string, p: PeerState): { route: EvpnRoute; nextHop: string; attrs: PathAttribute[] } | undefined {
    // capable neighbors: our multicast variants and routes; the rest never see them
    let path: Path | undefined = (p.capable ? this.localCapable.get(key) : undefined) ?? this.localOther.get(key);
    if (!path && (this.localPlain.has(key) || this.localAgg.has(key))) {
      path = (p.aggregate ? this.localAgg : this.localPlain).get(key);
      if (!path) return undefined;
    }
    if (!path) {
      const best = this.rib.best(key);
      if (!best || !best.from || !mayAdvertise(best, p.ref, this.me)) return undefined;
      // reflected / passed on: type 6..11 and AR type-3 routes only to capable neighbors
      if (!p.capable && needsMulticastCapability(best)) return undefined;
      path = best;
    }
    const attrs = exportAttributes(path, p.ref, this.me);
    return { route: path.route, nextHop: path.nextHop, attrs: p.capable ? attrs : withoutMulticastSignalling(attrs) };
  }

  private flushPeer(p: PeerState): void {
    if (!p.session.established || p.pending.size === 0) {
      if (!p.session.established) p.pending.clear();
      return;
    }
    const groups = new Map<string, { nextHop: string; attrs: PathAttribute[]; routes: EvpnRoute[]; prev: [string, AdjOutEntry | undefined][] }>();
    const withdraw: EvpnRoute[] = [];
    for (const key of p.pending) {
      const d = this.desired(key, p);
      const cur = p.adjOut.get(key);
      if (!d) {
        if (cur) {
          withdraw.push(cur.route);
          p.adjOut.delete(key);
        }
        continue;
      }
      const attrSig = `${d.nextHop}|${encodePathAttributes(d.attrs).toString("hex")}`;
      const sig = `${attrSig}|${encodeEvpnRoute(d.route).toString("hex")}`;
      if (cur?.sig === sig) continue;
      p.adjOut.set(key, { sig, route: d.route });
      let g = groups.get(attrSig);
      if (!g) groups.set(attrSig, (g = { nextHop: d.nextHop, attrs: d.attrs, routes: [], prev: [] }));
      g.routes.push(d.route);
      g.prev.push([key, cur]);
    }
    p.pending.clear();
    // Announcements first: a re-keyed aggregated route replaces the old one
    // before the old one is withdrawn, so receivers never lose the MAC. A
    // group that cannot be encoded (an UPDATE over 4096 octets) costs only
    // its own routes: the peer keeps what it had of them, and the rest of the
    // flush goes out.
    for (const g of groups.values()) {
      let updates: ReturnType<typeof buildEvpnUpdates>;
      try {
        updates = buildEvpnUpdates({ nextHop: g.nextHop, routes: g.routes, attributes: g.attrs });
      } catch (e) {
        for (const [key, prev] of g.prev) {
          if (prev) p.adjOut.set(key, prev);
          else p.adjOut.delete(key);
        }
        this.log.error("cannot encode an UPDATE: these routes are not sent", { peer: p.cfg.address, routes: g.routes.length, error: (e as Error).message });
        continue;
      }
      for (const u of updates) p.session.sendUpdate(u);
    }
    try {
      if (withdraw.length) for (const u of buildEvpnWithdrawals(withdraw)) p.session.sendUpdate(u);
    } catch (e) {
      this.log.error("cannot encode a withdrawal", { peer: p.cfg.address, error: (e as Error).message });
    }
  }

  // --------------------------------------------------------------------- show

  summary(): SummaryRow[] {
    return [...this.peers.values()].map((p) => {
      const st = p.session.stats;
      const row: SummaryRow = {
        neighbor: p.cfg.address,
        remoteAs: p.cfg.remoteAsn,
        type: p.ref.ibgp ? "iBGP" : "eBGP",
        role: p.cfg.role,
        state: st.state,
        pfxRcvd: p.received + p.rejected,
        pfxAccepted: p.received,
        pfxSent: p.adjOut.size,
        msgRcvd: st.messagesIn,
        msgSent: st.messagesOut,
        updatesRcvd: st.updatesIn,
        updatesSent: st.updatesOut,
        flaps: st.flaps,
        aggregation: p.aggregate,
        gracefulRestart: this.grState(p),
      };
      if (st.establishedAt !== undefined) row.upSeconds = Math.floor((Date.now() - st.establishedAt) / 1000);
      if (st.peerRouterId) row.peerRouterId = st.peerRouterId;
      if (p.cfg.description) row.description = p.cfg.description;
      if (st.lastError) row.lastError = st.lastError;
      if (st.idleReason && st.state === "Idle") {
        row.idleReason = st.idleReason;
        if (st.restartAt !== undefined) row.restartInSeconds = Math.max(0, Math.ceil((st.restartAt - Date.now()) / 1000));
      }
      if (p.cfg.maxPrefixes !== undefined) row.maxPrefixes = p.cfg.maxPrefixes;
      if (p.capable) row.smet = true;
      return row;
    });
  }

  private grState(p: PeerState): string {
    if (p.gr) return `${p.gr.phase === "restart" ? "peer restarting" : "waiting for End-of-RIB"}, ${p.gr.stale.size} stale`;
    if (!this.gr.enabled) return "off";
    const open = p.session.peerOpen;
    if (!open) return "-";
    const theirs = gracefulRestartOf(open.capabilities);
    if (!theirs) return "off";
    return theirs.families.some((f) => f.afi === Afi.L2VPN && f.safi === Safi.EVPN) ? "on" : "helper";
  }

  routes(): RouteRow[] {
    const rows: RouteRow[] = [];
    const add = (path: Path, best: boolean, agg?: Path) => {
      const r = path.route;
      const { rts, mm } = this.routeTargets(path.attrs);
      const row: RouteRow = {
        best,
        type: r.type === "mac-ip" ? 2 : r.type === "imet" ? 3 : r.type === "smet" ? 6 : r.routeType,
        rd: r.type === "raw" ? "-" : formatRd(r.rd),
        route: formatEvpnRoute(r),
        nextHop: path.nextHop,
        from: path.from ? path.from.id : "local",
        rts: rts.map(formatAdminValue).join(","),
      };
      if (r.type === "mac-ip") {
        row.vni = vniFromLabel(r.label1);
        row.mac = r.mac;
        if (r.ip) row.ip = r.ip;
        row.seq = mm?.seq ?? 0;
        row.sticky = mm?.sticky ?? false;
      }
      if (r.type === "imet") {
        const pmsi = findAttribute(path.attrs, "pmsi-tunnel");
        if (pmsi) row.vni = vniFromLabel(pmsi.label);
      }
      if (r.type === "smet") {
        // ours: the VNI of its RD; others': the VNI(s) it imports into
        const mine = path.from ? undefined : [...this.resolved.values()].find((x) => formatRd(x.rd) === formatRd(r.rd))?.vni;
        const v = mine ?? this.smetVnis(path)[0];
        if (v !== undefined) row.vni = v;
      }
      const mvAttr = (agg ?? path).attrs.find((a) => a.type === "unknown" && a.code === MULTI_VNI_ATTR_CODE);
      if (mvAttr && mvAttr.type === "unknown") {
        const d = decodeMultiVni(mvAttr.value);
        row.multiVni = d.ok ? d.entries.map((e) => `${e.vni}(seq ${e.seq}${e.sticky ? ",sticky" : ""}, rt ${formatAdminValue(e.rt)}${e.vlan ? `, vlan ${e.vlan}` : ""})`).join(" ") : `malformed: ${d.reason}`;
      }
      const o = findAttribute(path.attrs, "originator-id");
      if (o) row.originator = o.id;
      const cl = findAttribute(path.attrs, "cluster-list");
      if (cl) row.clusterList = cl.ids.join(" ");
      if (path.from && this.peers.get(path.from.id.toLowerCase())?.gr?.stale.has(path.key)) row.stale = true;
      const unknown = (agg ?? path).attrs.flatMap((a) => (a.type === "unknown" ? [`${a.code}/${a.flags.toString(16)}/${a.value.toString("hex")}`] : []));
      if (unknown.length) row.unknownAttrs = unknown;
      rows.push(row);
    };
    for (const k of this.rib.keys()) {
      const best = this.rib.best(k);
      for (const p of this.rib.paths(k)) add(p, p === best, p.from ? undefined : this.localAgg.get(k));
    }
    return rows.sort((a, b) => a.type - b.type || (a.route < b.route ? -1 : a.route > b.route ? 1 : 0) || (a.from < b.from ? -1 : 1));
  }

  macTable(): MacRow[] {
    return this.macs.rows();
  }

  /** Per-peer Adj-RIB-In sizes and the Loc-RIB size (for tests and status). */
  ribStats(): { locRib: number; adjIn: Record<string, number>; adjOut: Record<string, number> } {
    const adjIn: Record<string, number> = {};
    const adjOut: Record<string, number> = {};
    for (const p of this.peers.values()) {
      adjIn[p.cfg.address] = p.received;
      adjOut[p.cfg.address] = p.adjOut.size;
    }
    return { locRib: this.rib.size, adjIn, adjOut };
  }

  /** Internal consistency: every Loc-RIB path belongs to a configured peer, under its own key, and each peer's count of paths is right. */
  checkConsistency(): string[] {
    const problems: string[] = [];
    const counted = new Map<PeerState, number>();
    for (const k of this.rib.keys()) {
      const paths = this.rib.paths(k);
      const from = new Set<string | undefined>();
      for (const path of paths) {
        if (path.key !== k) problems.push(`${k}: holds a path for ${path.key}`);
        if (from.has(path.from?.id)) problems.push(`${k}: two paths from ${path.from?.id ?? "this switch"}`);
        from.add(path.from?.id);
        if (!path.from) continue;
        const p = this.peers.get(path.from.id.toLowerCase());
        if (!p) problems.push(`${k} from ${path.from.id}: not a neighbor`);
        else counted.set(p, (counted.get(p) ?? 0) + 1);
      }
    }
    for (const p of this.peers.values()) {
      const n = counted.get(p) ?? 0;
      if (n !== p.received) problems.push(`${p.cfg.address}: ${n} paths in the Loc-RIB, counted ${p.received}`);
    }
    return problems;
  }

  /** The session of a neighbor (tests, CLI). */
  session(address: string): BgpSession | undefined {
    return this.peers.get(address.toLowerCase())?.session;
  }
}
