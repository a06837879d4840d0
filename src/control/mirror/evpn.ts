// Mirror sessions over BGP EVPN (attribute 245, README.md "The session
// attribute"). A session belongs to the switch where it was defined (config
// or API): that switch, its owner, lists it on its own type-3 route, which is
// authoritative for the session's existence. The switch where the monitored
// host lives attaches the session to the host's own type-2 route; when the
// host moves, its new switch re-originates that route with it. A switch never
// re-originates a session it only learned from someone else's type-2 route,
// so removing a session at its owner removes it everywhere.
import type { EvpnRoute, PathAttribute } from "../evpn/bgp/index.ts";
import type { RouteExtensions } from "../evpn/speaker.ts";
import type { Logger } from "../log.ts";
import { decodeMirrorSessions, encodeMirrorSessions, findMirrorAttribute, type MirrorSessionWire } from "./attribute.ts";
import type { MirrorSession } from "./config.ts";

/** A BGP UPDATE is at most 4096 octets: the attribute must leave room for the rest. */
const ATTR_BUDGET = 3000;

export interface LearnedSession {
  session: MirrorSession;
  owner: string;
}

export function toWire(s: MirrorSession, owner: string): MirrorSessionWire {
  return {
    name: s.name,
    owner,
    hostMac: s.host.mac,
    hostVni: s.host.vni,
    ...(s.host.ip !== undefined ? { hostIp: s.host.ip } : {}),
    serverMac: s.server.mac,
    serverVni: s.server.vni,
    ...(s.server.ip !== undefined ? { serverIp: s.server.ip } : {}),
    hostId: s.hostId,
    direction: s.direction,
    match: s.match,
  };
}

export function fromWire(w: MirrorSessionWire): MirrorSession {
  return {
    name: w.name,
    host: { mac: w.hostMac, vni: w.hostVni, ...(w.hostIp !== undefined ? { ip: w.hostIp } : {}) },
    server: { mac: w.serverMac, vni: w.serverVni, ...(w.serverIp !== undefined ? { ip: w.serverIp } : {}) },
    hostId: w.hostId,
    direction: w.direction,
    match: w.match,
  };
}

const sameWire = (a: readonly MirrorSessionWire[] | undefined, b: readonly MirrorSessionWire[]) => JSON.stringify(a ?? []) === JSON.stringify(b);

export interface MirrorEvpnHooks {
  /** sessions this switch owns (config file and API) */
  own(): readonly MirrorSession[];
  /** what other switches advertise changed */
  learnedChanged(): void;
}

export class MirrorEvpn implements RouteExtensions {
  /** route key -> sessions on that type-3 route (their owners' word) */
  private readonly fromImet = new Map<string, MirrorSessionWire[]>();
  /** route key -> sessions on that type-2 route (where the host lives) */
  private readonly fromMac = new Map<string, MirrorSessionWire[]>();
  readonly counters = { malformed: 0, truncated: 0 };

  constructor(
    private readonly owner: string,
    /** the VNI whose type-3 route carries our own sessions */
    private readonly carrierVni: number,
    private readonly hooks: MirrorEvpnHooks,
    private readonly log: Logger,
  ) {}

  /** Encoded within the UPDATE's room; what does not fit is left out, loudly. */
  private attribute(list: MirrorSessionWire[], where: string): PathAttribute[] {
    if (list.length === 0) return [];
    let n = list.length;
    let attr = encodeMirrorSessions(list);
    while (n > 0 && attr.type === "unknown" && attr.value.length > ATTR_BUDGET) attr = encodeMirrorSessions(list.slice(0, --n));
    if (n < list.length) {
      this.counters.truncated++;
      this.log.error("mirror sessions do not fit in one route: some are not advertised", { route: where, sessions: list.length, advertised: n });
    }
    return n > 0 ? [attr] : [];
  }

  imet(vni: number): PathAttribute[] {
    if (vni !== this.carrierVni) return [];
    return this.attribute(
      this.hooks.own().map((s) => toWire(s, this.owner)),
      `type-3 vni ${vni}`,
    );
  }

  mac(mac: string, vnis: readonly number[]): PathAttribute[] {
    const seen = new Set<string>();
    const out: MirrorSessionWire[] = [];
    const add = (w: MirrorSessionWire) => {
      if (w.hostMac !== mac || !vnis.includes(w.hostVni) || seen.has(w.name)) return;
      seen.add(w.name);
      out.push(w);
    };
    for (const s of this.hooks.own()) add(toWire(s, this.owner));
    // sessions other switches own, never ones only seen on someone's type-2 route
    for (const list of this.fromImet.values()) for (const w of list) add(w);
    return this.attribute(out, `type-2 ${mac}`);
  }

  /**
   * The mirror attribute of an attribute array, decoded once per array
   * (received routes with the same attribute octets share one array, never
   * modified): null when it has none.
   */
  private readonly decoded = new WeakMap<readonly PathAttribute[], ReturnType<typeof decodeMirrorSessions> | null>();

  private sessionsOf(attrs: readonly PathAttribute[]): ReturnType<typeof decodeMirrorSessions> | null {
    let d = this.decoded.get(attrs);
    if (d === undefined) {
      const raw = findMirrorAttribute(attrs);
      d = raw ? decodeMirrorSessions(raw) : null;
      this.decoded.set(attrs, d);
    }
    return d;
  }

  received(key: string, route: EvpnRoute, best: { attrs: readonly PathAttribute[]; nextHop: string } | undefined): void {
    const map = route.type === "imet" ? this.fromImet : route.type === "mac-ip" ? this.fromMac : undefined;
    // the common case, cheaply: a route that carries no sessions and never did
    if (!map || (!best && !map.has(key))) return;
    let next: MirrorSessionWire[] = [];
    const d = best ? this.sessionsOf(best.attrs) : null;
    if (d) {
      if (d.ok) next = d.sessions;
      else {
        // the route itself stands; only the sessions are ignored
        this.counters.malformed++;
        this.log.warn("malformed mirror session attribute ignored", { route: key, from: best!.nextHop, reason: d.reason });
      }
    }
    // no sessions now and none before: nothing to compare
    if (next.length === 0 && !map.has(key)) return;
    if (sameWire(map.get(key), next)) return;
    if (next.length) map.set(key, next);
    else map.delete(key);
    this.hooks.learnedChanged();
  }

  /** Sessions other switches advertise: owners' word first, then hosts' routes; one per name. */
  learned(): LearnedSession[] {
    const seen = new Set<string>();
    const out: LearnedSession[] = [];
    for (const map of [this.fromImet, this.fromMac])
      for (const list of map.values())
        for (const w of list) {
          if (w.owner === this.owner || seen.has(w.name)) continue;
          seen.add(w.name);
          out.push({ session: fromWire(w), owner: w.owner });
        }
    return out;
  }
}
