// Shared helpers for the EVPN speaker tests: a recording EvpnSwitchPort and
// speaker construction on 127.0.0.x.
import type { BgpConfig, BgpNeighborConfig } from "../../src/control/evpn/config.ts";
import { TunnelEncapType, type PathAttribute } from "../../src/control/evpn/bgp/index.ts";
import { createLogger } from "../../src/control/log.ts";
import { EvpnSpeaker, type EvpnSwitchPort } from "../../src/control/evpn/speaker.ts";

export class RecordingPort implements EvpnSwitchPort {
  readonly calls: string[] = [];
  readonly remote = new Map<string, { vtep: string; seq: number; sticky: boolean }>();
  readonly flood = new Map<number, Set<string>>();
  readonly present = new Set<string>();
  readonly deleted: string[] = [];
  readonly duplicates: string[] = [];
  installRemoteMac(vni: number, mac: string, vtep: string, info: { seq: number; sticky: boolean }): void {
    this.calls.push(`install ${vni} ${mac} ${vtep} seq=${info.seq}${info.sticky ? " sticky" : ""}`);
    this.remote.set(`${vni}/${mac}`, { vtep, ...info });
  }
  removeRemoteMac(vni: number, mac: string, vtep: string): void {
    this.calls.push(`remove ${vni} ${mac} ${vtep}`);
    const cur = this.remote.get(`${vni}/${mac}`);
    if (cur?.vtep === vtep) this.remote.delete(`${vni}/${mac}`);
  }
  addFloodVtep(vni: number, vtep: string): void {
    this.calls.push(`flood+ ${vni} ${vtep}`);
    let s = this.flood.get(vni);
    if (!s) this.flood.set(vni, (s = new Set()));
    s.add(vtep);
  }
  removeFloodVtep(vni: number, vtep: string): void {
    this.calls.push(`flood- ${vni} ${vtep}`);
    this.flood.get(vni)?.delete(vtep);
  }
  localMacPresent(vni: number, mac: string): boolean {
    return this.present.has(`${vni}/${mac}`);
  }
  deleteLocalMac(vni: number, mac: string): void {
    this.calls.push(`delete-local ${vni} ${mac}`);
    this.deleted.push(`${vni}/${mac}`);
  }
  reportDuplicate(vni: number, mac: string, detail: string): void {
    this.calls.push(`duplicate ${vni} ${mac}: ${detail}`);
    this.duplicates.push(`${vni}/${mac}`);
  }
}

export const quietLog = createLogger({ level: (process.env.VXGATE_TEST_LOG as "debug") ?? "error", json: false });

export function bgpConfig(p: {
  asn: number;
  routerId: string;
  listen: { host: string; port: number };
  neighbors: (Partial<BgpNeighborConfig> & { address: string; remoteAsn: number })[];
  window?: number;
  aggregation?: boolean;
  rr?: boolean;
  moves?: number;
  seconds?: number;
}): BgpConfig {
  return {
    asn: p.asn,
    routerId: p.routerId,
    listen: p.listen,
    neighbors: p.neighbors.map((n) => ({ role: "peer", holdTime: 9, passive: false, port: 179, ...n })),
    ...(p.rr ? { routeReflector: { clusterId: p.routerId } } : {}),
    evpn: {
      advertiseLocalMacs: true,
      aggregation: { enabled: p.aggregation ?? true, windowSeconds: p.window ?? 0 },
      mobility: { dupDetectMoves: p.moves ?? 5, dupDetectSeconds: p.seconds ?? 180 },
      vnis: [],
    },
  };
}

export function speaker(cfg: BgpConfig, vtep: string, vnis: number[], port = new RecordingPort()): { s: EvpnSpeaker; port: RecordingPort } {
  return { s: new EvpnSpeaker(cfg, vtep, vnis, port, quietLog.child({ sw: cfg.routerId }), { retryBaseMs: 100, retryMaxMs: 500 }), port };
}

export async function waitFor<T>(what: string, f: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

/** A port base unlikely to collide between runs. */
export function basePort(): number {
  return 20000 + Math.floor(Math.random() * 20000);
}

/** The path attributes of a type-2 route as an iBGP EVPN peer sends them
 * (route target 65000:100, VXLAN encapsulation), with a MAC mobility
 * sequence number when `seq` is given and not 0. */
export function evpnPathAttrs(seq?: number): PathAttribute[] {
  return [
    { type: "origin", value: 0 },
    { type: "as-path", segments: [] },
    { type: "local-pref", value: 100 },
    {
      type: "ext-communities",
      communities: [
        { type: "route-target", target: { format: "as2", asn: 65000, value: 100 } },
        { type: "encapsulation", tunnelType: TunnelEncapType.VXLAN },
        ...(seq ? [{ type: "mac-mobility" as const, sticky: false, sequence: seq }] : []),
      ],
    },
  ];
}
