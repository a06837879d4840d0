// The per-(VNI, MAC) view that programs the fast path, with MAC mobility
// (RFC 7432 §15).
//
// Each (vni, mac) slot holds the local entry (if this switch has the host)
// and every remote claim imported from the Loc-RIB (one per best route and
// expanded multi-VNI entry, keyed by the route key). The winner:
//   - a sticky (static) claim beats a non-sticky one; static MACs never move
//   - else the higher MAC Mobility sequence number
//   - equal sequence: the lower VTEP (originator) IP
// When a remote claim beats the local entry, the host is checked with the
// switch (localMacPresent): gone -> the local entry is deleted
// (deleteLocalMac), our route withdrawn and the remote installed; still
// present -> reportDuplicate, and the local entry re-claims with
// sequence = remote + 1 (a move that counts towards duplicate detection).
// A local learn of a MAC that a remote route holds advertises sequence
// = highest remote + 1 (§15.1).
//
// Duplicate detection: N moves of one (vni, mac) within M seconds freezes it
// (no more sequence bumps or deletions; the current forwarding state stays)
// and reports it once; clearFrozen() lifts it.

import type { Logger } from "../log.ts";
import { compareIp } from "./rib.ts";

export interface EvpnSwitchPort {
  /**
   * Program (vni, mac) -> remote VTEP; replaces any previous remote entry for
   * (vni, mac). `installed`: the VTEP this table installed it to before, if
   * any. False: not installed (e.g. a MAC the config makes static here).
   */
  installRemoteMac(vni: number, mac: string, vtep: string, info: { seq: number; sticky: boolean }, installed?: string): boolean | void;
  /** Remove the entry installRemoteMac installed for (vni, mac) to `vtep`. */
  removeRemoteMac(vni: number, mac: string, vtep: string): void;
  addFloodVtep(vni: number, vtep: string): void;
  removeFloodVtep(vni: number, vtep: string): void;
  /** Is the MAC still really present locally (for the mobility check)? */
  localMacPresent(vni: number, mac: string): boolean;
  /** Remove the switch's local entry (the host moved away). */
  deleteLocalMac(vni: number, mac: string): void;
  reportDuplicate(vni: number, mac: string, detail: string): void;
  /** Where to ask which VTEP the table installed (vni, mac) to. */
  bindInstalled?(lookup: (vni: number, mac: string) => string | undefined): void;
}

export interface RemoteClaim {
  vtep: string;
  seq: number;
  sticky: boolean;
  ip?: string;
  vlan?: number;
}

export interface LocalEntry {
  seq: number;
  sticky: boolean;
  ip?: string;
  vlan?: number;
  /** Learn order (the aggregated route's first VNI is the oldest). */
  since: number;
}

interface Slot {
  vni: number;
  mac: string;
  local?: LocalEntry;
  /**
   * The remote claims by route key: one (the common case) held in src1/c1,
   * two or more in `more` (then src1/c1 are unused). No Map per MAC: a
   * million remote MACs would carry a million of them.
   */
  src1?: string;
  c1?: RemoteClaim;
  more?: Map<string, RemoteClaim>;
  /** The claim installed (the object itself: claims are never modified). */
  installed?: RemoteClaim;
  /** Times of recent moves (absent until the first). */
  moves?: number[];
  frozen?: string;
  /** Last reported conflict, to report a standing conflict once. */
  reported?: string;
}

/**
 * Where the slot(s) a route claims are kept: on the route's best path (the
 * caller moves it with the best path), so no map from route key to slots is
 * needed (a million routes would carry a million entries). Opaque outside.
 */
export interface ClaimHolder {
  claimed?: unknown;
}

export interface MobilityConfig {
  dupDetectMoves: number;
  dupDetectSeconds: number;
}

export interface MacRow {
  vni: number;
  mac: string;
  type: "local" | "remote" | "local (frozen)" | "remote (frozen)";
  vtep: string;
  seq: number;
  sticky: boolean;
  ip?: string;
  claims: number;
  moves: number;
  frozen?: string;
}

let learnCounter = 0;

export class MacTable {
  /** vni -> mac -> slot */
  private readonly slots = new Map<number, Map<string, Slot>>();

  constructor(
    private readonly localVtep: string,
    private readonly port: EvpnSwitchPort,
    private readonly mob: MobilityConfig,
    private readonly log: Logger,
    /** Our advertisement for (vni, mac) must change (seq bump, deletion); `urgent` = a move. */
    private readonly localChanged: (vni: number, mac: string, urgent: boolean) => void,
    private readonly now: () => number = Date.now,
  ) {}

  private slot(vni: number, mac: string, create: true): Slot;
  private slot(vni: number, mac: string, create?: false): Slot | undefined;
  private slot(vni: number, mac: string, create = false): Slot | undefined {
    let m = this.slots.get(vni);
    if (!m) {
      if (!create) return undefined;
      this.slots.set(vni, (m = new Map()));
    }
    let s = m.get(mac);
    if (!s && create) {
      // every field from the start: one shape for all slots, no property store added later
      s = { vni, mac, local: undefined, src1: undefined, c1: undefined, more: undefined, installed: undefined, moves: undefined, frozen: undefined, reported: undefined };
      m.set(mac, s);
    }
    return s;
  }

  private gc(s: Slot): void {
    if (!s.local && claimCount(s) === 0 && !s.installed && !s.frozen) this.slots.get(s.vni)?.delete(s.mac);
  }

  private *allSlots(): IterableIterator<Slot> {
    for (const m of this.slots.values()) yield* m.values();
  }

  local(vni: number, mac: string): LocalEntry | undefined {
    return this.slot(vni, mac)?.local;
  }

  /** Local VNIs of a MAC (oldest first). */
  localVnisOf(mac: string, vnis: readonly number[]): { vni: number; e: LocalEntry }[] {
    const out: { vni: number; e: LocalEntry }[] = [];
    for (const vni of vnis) {
      const e = this.slot(vni, mac)?.local;
      if (e) out.push({ vni, e });
    }
    return out.sort((a, b) => a.e.since - b.e.since);
  }

  isFrozen(vni: number, mac: string): boolean {
    return !!this.slot(vni, mac)?.frozen;
  }

  // --------------------------------------------------------------- remote side

  /**
   * Replaces everything route `source` claims (empty list = the route is
   * gone). `from` holds what it claimed until now (its previous best path),
   * `to` will hold what it claims from now (its best path); either may be the
   * other, or absent.
   */
  setClaims(source: string, from: ClaimHolder | undefined, to: ClaimHolder | undefined, claims: { vni: number; mac: string; claim: RemoteClaim }[]): void {
    const prev = from?.claimed as Slot | Slot[] | undefined;
    if (claims.length <= 1 && !Array.isArray(prev)) {
      const c = claims[0];
      this.setOneClaim(source, from, to, prev, c?.vni ?? 0, c?.mac ?? "", c?.claim);
      return;
    }
    const before: Slot[] = prev === undefined ? [] : Array.isArray(prev) ? prev : [prev];
    const after: Slot[] = [];
    const touched = new Set<Slot>();
    for (const c of claims) {
      if (c.claim.vtep === this.localVtep) continue; // our own route coming back
      const s = this.slot(c.vni, c.mac, true);
      if (!after.includes(s)) after.push(s);
      setClaim(s, source, c.claim);
      touched.add(s);
    }
    for (const s of before) {
      if (after.includes(s)) continue;
      deleteClaim(s, source);
      touched.add(s);
    }
    if (from) from.claimed = undefined;
    if (to) to.claimed = after.length > 1 ? after : after[0];
    for (const s of touched) this.recompute(s);
  }

  /**
   * setClaims for a route that claims one (vni, mac), or nothing (claim
   * undefined: the route is gone or imports nowhere): the common case, once
   * per route received, without building lists.
   */
  setClaim(source: string, from: ClaimHolder | undefined, to: ClaimHolder | undefined, vni: number, mac: string, claim: RemoteClaim | undefined): void {
    const prev = from?.claimed as Slot | Slot[] | undefined;
    if (Array.isArray(prev)) {
      this.setClaims(source, from, to, claim ? [{ vni, mac, claim }] : []);
      return;
    }
    this.setOneClaim(source, from, to, prev, vni, mac, claim);
  }

  private setOneClaim(source: string, from: ClaimHolder | undefined, to: ClaimHolder | undefined, prev: Slot | undefined, vni: number, mac: string, claim: RemoteClaim | undefined): void {
    let s: Slot | undefined;
    if (claim && claim.vtep !== this.localVtep) {
      s = this.slot(vni, mac, true);
      setClaim(s, source, claim);
    }
    if (from) from.claimed = undefined;
    if (to) to.claimed = s;
    if (prev && prev !== s) deleteClaim(prev, source);
    if (s) this.recompute(s);
    if (prev && prev !== s) this.recompute(prev);
  }

  // ---------------------------------------------------------------- local side

  /** The switch learned (or re-confirmed) a local host. */
  learnLocal(vni: number, mac: string, opts: { ip?: string; vlan?: number; sticky?: boolean } = {}): void {
    const s = this.slot(vni, mac, true);
    const sticky = opts.sticky ?? false;
    if (s.local) {
      const changed = s.local.sticky !== sticky || s.local.ip !== opts.ip || s.local.vlan !== opts.vlan;
      s.local.sticky = sticky;
      if (opts.ip !== undefined) s.local.ip = opts.ip;
      if (opts.vlan !== undefined) s.local.vlan = opts.vlan;
      if (changed) this.localChanged(vni, mac, false);
      this.recompute(s);
      return;
    }
    const best = this.bestRemote(s);
    if (best && best.sticky && !sticky) {
      this.report(s, `learned locally but static (sticky) at VTEP ${best.vtep}: not advertised`);
      return;
    }
    const seq = best ? best.seq + 1 : 0;
    s.local = { seq, sticky, since: ++learnCounter, ...(opts.ip !== undefined ? { ip: opts.ip } : {}), ...(opts.vlan !== undefined ? { vlan: opts.vlan } : {}) };
    if (best) {
      this.log.info("MAC moved here", { vni, mac, from: best.vtep, seq });
      this.countMove(s, `from ${best.vtep} to local`);
    }
    this.recompute(s);
    this.localChanged(vni, mac, !!best);
  }

  /** The local host is gone (aged out, port down, ...). */
  forgetLocal(vni: number, mac: string): void {
    const s = this.slot(vni, mac);
    if (!s?.local) return;
    s.local = undefined;
    s.reported = undefined;
    this.recompute(s);
    this.localChanged(vni, mac, false);
    this.gc(s);
  }

  clearFrozen(vni: number, mac: string): boolean {
    const s = this.slot(vni, mac);
    if (!s?.frozen) return false;
    s.frozen = undefined;
    s.moves = undefined;
    s.reported = undefined;
    this.recompute(s);
    this.gc(s);
    return true;
  }

  // ------------------------------------------------------------------- logic

  private bestRemote(s: Slot): RemoteClaim | undefined {
    let best: RemoteClaim | undefined;
    if (!s.more) return s.c1;
    for (const r of s.more.values()) if (!best || beats(r, best)) best = r;
    return best;
  }

  private report(s: Slot, detail: string): void {
    if (s.reported === detail) return;
    s.reported = detail;
    this.log.warn("duplicate MAC", { vni: s.vni, mac: s.mac, detail });
    this.port.reportDuplicate(s.vni, s.mac, detail);
  }

  private countMove(s: Slot, what: string): void {
    const t = this.now();
    s.moves ??= [];
    s.moves.push(t);
    const from = t - this.mob.dupDetectSeconds * 1000;
    while (s.moves.length && s.moves[0]! < from) s.moves.shift();
    if (!s.frozen && s.moves.length >= this.mob.dupDetectMoves) {
      s.frozen = `${s.moves.length} moves in ${this.mob.dupDetectSeconds} s (last: ${what})`;
      this.log.warn("MAC frozen by duplicate detection", { vni: s.vni, mac: s.mac, detail: s.frozen });
      this.port.reportDuplicate(s.vni, s.mac, `frozen: ${s.frozen}`);
    }
  }

  private recompute(s: Slot): void {
    let remote = this.bestRemote(s);
    if (s.local && remote) {
      const local = s.local;
      const localClaim: RemoteClaim = { vtep: this.localVtep, seq: local.seq, sticky: local.sticky };
      if (beats(remote, localClaim)) {
        if (s.frozen) {
          // Frozen: forwarding stays local, nothing is advertised or deleted.
          remote = undefined;
        } else if (local.sticky && remote.sticky) {
          this.report(s, `static here and static at VTEP ${remote.vtep}`);
          remote = undefined;
        } else if (this.port.localMacPresent(s.vni, s.mac)) {
          this.report(s, `still present locally while VTEP ${remote.vtep} claims it with sequence ${remote.seq}`);
          this.countMove(s, `claimed by ${remote.vtep} while present locally`);
          if (!s.frozen && !local.sticky && !remote.sticky) {
            local.seq = remote.seq + 1;
            this.localChanged(s.vni, s.mac, true);
          }
          remote = undefined;
        } else {
          this.log.info("MAC moved away", { vni: s.vni, mac: s.mac, to: remote.vtep, seq: remote.seq });
          this.port.deleteLocalMac(s.vni, s.mac);
          s.local = undefined;
          s.reported = undefined;
          this.countMove(s, `from local to ${remote.vtep}`);
          this.localChanged(s.vni, s.mac, false);
        }
      } else {
        if (local.sticky && remote.seq > local.seq) this.report(s, `static here, VTEP ${remote.vtep} advertises it with sequence ${remote.seq}`);
        remote = undefined;
      }
    } else if (s.local) {
      remote = undefined;
    }
    const inst = s.installed;
    if (remote) {
      if (!inst || inst.vtep !== remote.vtep || inst.seq !== remote.seq || inst.sticky !== remote.sticky) {
        if (inst && inst.vtep !== remote.vtep && remote.seq > inst.seq) this.countMove(s, `from ${inst.vtep} to ${remote.vtep}`);
        // refused (a MAC static here): what was installed before stays, and is what a removal removes
        if (this.port.installRemoteMac(s.vni, s.mac, remote.vtep, remote, inst?.vtep) !== false) s.installed = remote;
      }
    } else if (inst) {
      this.port.removeRemoteMac(s.vni, s.mac, inst.vtep);
      s.installed = undefined;
    }
    this.gc(s);
  }

  rows(): MacRow[] {
    const out: MacRow[] = [];
    for (const s of this.allSlots()) {
      const base = { vni: s.vni, mac: s.mac, claims: claimCount(s), moves: s.moves?.length ?? 0, ...(s.frozen ? { frozen: s.frozen } : {}) };
      if (s.local) {
        out.push({ ...base, type: s.frozen ? "local (frozen)" : "local", vtep: this.localVtep, seq: s.local.seq, sticky: s.local.sticky, ...(s.local.ip ? { ip: s.local.ip } : {}) });
      } else if (s.installed) {
        out.push({ ...base, type: s.frozen ? "remote (frozen)" : "remote", vtep: s.installed.vtep, seq: s.installed.seq, sticky: s.installed.sticky, ...(s.installed.ip ? { ip: s.installed.ip } : {}) });
      }
    }
    return out.sort((a, b) => a.vni - b.vni || (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
  }

  /** The VTEP of the remote entry installed for (vni, mac), if any. */
  installedVtep(vni: number, mac: string): string | undefined {
    return this.slot(vni, mac)?.installed?.vtep;
  }

  /** Installed remote entries, for consistency checks. */
  installed(): { vni: number; mac: string; vtep: string; seq: number }[] {
    const out = [];
    for (const s of this.allSlots()) if (s.installed) out.push({ vni: s.vni, mac: s.mac, vtep: s.installed.vtep, seq: s.installed.seq });
    return out;
  }
}

function setClaim(s: Slot, source: string, c: RemoteClaim): void {
  if (s.more) s.more.set(source, c);
  else if (s.src1 === undefined || s.src1 === source) {
    s.src1 = source;
    s.c1 = c;
  } else {
    // a second claimant: from now on a Map (in the order they came, as before)
    s.more = new Map([
      [s.src1, s.c1!],
      [source, c],
    ]);
    s.src1 = undefined;
    s.c1 = undefined;
  }
}

function deleteClaim(s: Slot, source: string): void {
  if (s.more) s.more.delete(source);
  else if (s.src1 === source) {
    s.src1 = undefined;
    s.c1 = undefined;
  }
}

function claimCount(s: Slot): number {
  return s.more ? s.more.size : s.src1 !== undefined ? 1 : 0;
}

/** Does claim a beat claim b? (sticky, then higher sequence, then lower VTEP IP) */
export function beats(a: RemoteClaim, b: RemoteClaim): boolean {
  if (a.sticky !== b.sticky) return a.sticky;
  if (a.seq !== b.seq) return a.seq > b.seq;
  return compareIp(a.vtep, b.vtep) < 0;
}
