// BGP graceful restart (RFC 4724) for L2VPN EVPN through route reflectors
// that act as helpers for it: GoBGP (gobgpd, graceful-restart +
// mp-graceful-restart for l2vpn-evpn) and a vxgate speaker. Two vxgate
// switches (evpn-gr-driver.ts processes, short restart_time) are clients:
//  1. sessions negotiate graceful restart; routes flow between the switches
//  2. sw1's control plane is killed (SIGKILL): the reflector keeps its routes,
//     sw2's port sees no removal within the restart time
//  3. sw1 comes back with forwardingPreserved (R/F bits) and the hosts it
//     already had: routes re-announced, End-of-RIB, initialSync complete,
//     nothing removed on sw2, even past the original restart time
//  4. the reflector restarts (SIGKILL, then again: gobgpd -r / a vxgate with
//     forwardingPreserved): both switches keep its routes as stale, nothing
//     is removed from either port once it is back
//  5. sw1 is killed for good: after its restart time the reflector withdraws
//     its routes and sw2 removes them (not before)
// (FRR 8.4 is no GR helper for EVPN: see evpn-gr-frr.test.ts.)
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BgpConfig } from "../../src/control/evpn/config.ts";
import type { SummaryRow } from "../../src/control/evpn/speaker.ts";
import { Lab } from "../harness/netns.ts";
import { killTree } from "../harness/proc.ts";
import { bgpCfg, startSpeaker, type SpeakerProc } from "./evpn-interop.ts";

const VTEP1 = "192.0.2.1";
const VTEP2 = "192.0.2.2";
const MAC1 = "02:00:00:00:11:01";
const MAC2 = "02:00:00:00:22:02";
const VNIS = [100, 200, 300];
/** The switches' restart_time per reflector: gobgpd 3.10 refuses a neighbor's
 * connections for about 10 s after its session drops (its FSM idles), so the
 * switch needs longer than that to get back in time. */
const RESTART_S = { GoBGP: 15, vxgate: 5 } as const;
const RR_ID = "10.20.0.254";
const CLIENTS = ["10.20.1.1", "10.20.2.1"];

interface Reflector {
  start(restarting: boolean): void;
  kill(): Promise<void>;
}

function gobgpConf(): string {
  const lines = [`[global.config]`, `  as = 65000`, `  router-id = "${RR_ID}"`, ``];
  for (const c of CLIENTS) {
    lines.push(
      `[[neighbors]]`,
      `  [neighbors.config]`,
      `    neighbor-address = "${c}"`,
      `    peer-as = 65000`,
      `  [neighbors.timers.config]`,
      `    connect-retry = 1`,
      `    hold-time = 9`,
      `    keepalive-interval = 3`,
      `  [neighbors.route-reflector.config]`,
      `    route-reflector-client = true`,
      `    route-reflector-cluster-id = "${RR_ID}"`,
      `  [neighbors.graceful-restart.config]`,
      `    enabled = true`,
      `    restart-time = 20`,
      `  [[neighbors.afi-safis]]`,
      `    [neighbors.afi-safis.config]`,
      `      afi-safi-name = "l2vpn-evpn"`,
      `    [neighbors.afi-safis.mp-graceful-restart.config]`,
      `      enabled = true`,
      ``,
    );
  }
  return lines.join("\n");
}

describe.each(["GoBGP", "vxgate"] as const)("EVPN graceful restart through a %s route reflector", (kind) => {
  const restartS = RESTART_S[kind];
  let lab: Lab;
  let n1: string;
  let n2: string;
  let rrNs: string;
  let sw1: SpeakerProc;
  let sw2: SpeakerProc;
  let rr: Reflector;
  const syncs = new Map<SpeakerProc, unknown>();
  const rrLog: string[] = [];

  const gr = (c: BgpConfig): BgpConfig => ((c.gracefulRestart = { enabled: true, restartTime: restartS, staleTime: 30 }), c);
  const cfg1 = () => gr(bgpCfg({ asn: 65000, routerId: "10.20.1.1", neighbors: [{ address: "10.20.1.254", remoteAsn: 65000 }] }));
  const cfg2 = () => gr(bgpCfg({ asn: 65000, routerId: "10.20.2.1", neighbors: [{ address: "10.20.2.254", remoteAsn: 65000 }] }));

  function speaker(ns: string, name: string, bgp: BgpConfig, vtep: string, vnis: number[], extra: { forwardingPreserved?: boolean; localMacs?: { vni: number; mac: string }[] } = {}): SpeakerProc {
    const sp = startSpeaker(lab, ns, name, bgp, vtep, vnis, { ...extra, presenceFollowsLearning: true, retryMaxMs: 1000 });
    sp.child.stdout!.on("data", (d: Buffer) => {
      for (const l of String(d).split("\n")) if (l.includes('"ev":"sync"')) syncs.set(sp, JSON.parse(l).result);
    });
    return sp;
  }

  async function killProc(c: ChildProcess): Promise<void> {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once("exit", () => r()));
    killTree(c, "SIGKILL");
    await exited;
  }

  function gobgpReflector(): Reflector {
    const conf = join(lab.tmpdir, "gobgpd.toml");
    writeFileSync(conf, gobgpConf());
    let child: ChildProcess | undefined;
    return {
      start(restarting) {
        child = lab.spawn(rrNs, "gobgpd", ["-f", conf, "--log-level", "info", "--api-hosts", "127.0.0.1:50051", "--pprof-disable", ...(restarting ? ["-r"] : [])]);
        child.stdout?.on("data", (d) => rrLog.push(String(d)));
        child.stderr?.on("data", (d) => rrLog.push(String(d)));
      },
      kill: () => killProc(child!),
    };
  }

  function vxgateReflector(): Reflector {
    let sp: SpeakerProc | undefined;
    const cfg = gr(bgpCfg({ asn: 65000, routerId: RR_ID, neighbors: CLIENTS.map((c) => ({ address: c, remoteAsn: 65000, role: "rr-client" as const })) }));
    cfg.routeReflector = { clusterId: RR_ID };
    return {
      start(restarting) {
        sp = speaker(rrNs, "rr", cfg, "192.0.2.254", [], { forwardingPreserved: restarting });
        sp.child.stderr?.on("data", (d) => rrLog.push(String(d)));
      },
      kill: () => killProc(sp!.child),
    };
  }

  const summary = (sp: SpeakerProc) => sp.request<SummaryRow[]>("summary");
  const removalsSince = (sp: SpeakerProc, from: number) => sp.calls.slice(from).filter((c) => c[0] === "removeRemoteMac" || c[0] === "removeFloodVtep");
  const established = (sp: SpeakerProc) => until(`${sp.name} Established`, async () => (await summary(sp))[0]!.state === "Established");

  beforeAll(async () => {
    lab = new Lab(`evpn-gr-${kind.toLowerCase()}`);
    rrNs = lab.ns("rr");
    n1 = lab.ns("sw1");
    n2 = lab.ns("sw2");
    lab.veth(rrNs, "e1", n1, "e0");
    lab.veth(rrNs, "e2", n2, "e0");
    lab.addr(rrNs, "e1", "10.20.1.254/24");
    lab.addr(rrNs, "e2", "10.20.2.254/24");
    lab.addr(n1, "e0", "10.20.1.1/24");
    lab.addr(n2, "e0", "10.20.2.1/24");
    lab.up(rrNs, "lo");
    rr = kind === "GoBGP" ? gobgpReflector() : vxgateReflector();
    rr.start(false);
    sw1 = speaker(n1, "sw1", cfg1(), VTEP1, VNIS);
    sw2 = speaker(n2, "sw2", cfg2(), VTEP2, VNIS);
    await Promise.all([sw1.ready, sw2.ready]);
  });

  afterAll(async () => {
    for (const s of [sw1, sw2]) {
      try {
        if (s && s.child.exitCode === null && s.child.signalCode === null) await s.stop();
      } catch {
        /* gone */
      }
    }
    if (process.env.VXGATE_TEST_LOG) process.stderr.write(rrLog.join(""));
    await lab?.dispose();
  });

  it("sessions negotiate graceful restart; routes flow between the switches", async () => {
    await established(sw1);
    await established(sw2);
    await sw1.learn(100, MAC1);
    await sw2.learn(100, MAC2);
    await until("sw2 has sw1's MAC and flood entries", async () => sw2.remote.get(`100/${MAC1}`)?.vtep === VTEP1 && VNIS.every((v) => sw2.flood.get(v)?.has(VTEP1)));
    await until("sw1 has sw2's MAC", async () => sw1.remote.get(`100/${MAC2}`)?.vtep === VTEP2);
    const grs = await sw1.request<Record<string, { families: { afi: number; safi: number }[] } | null>>("gr");
    expect(grs["10.20.1.254"]?.families).toContainEqual(expect.objectContaining({ afi: 25, safi: 70 }));
    expect((await summary(sw1))[0]!.gracefulRestart).toBe("on");
    expect(await sw1.request("sync")).toMatchObject({ complete: true });
  });

  it("sw1's control plane is killed: the reflector keeps its routes, sw2 removes nothing within the restart time", async () => {
    const mark = sw2.calls.length;
    const killedAt = Date.now();
    await killProc(sw1.child);
    await sleep((restartS - 2) * 1000);
    expect(removalsSince(sw2, mark)).toEqual([]);
    expect(sw2.remote.get(`100/${MAC1}`)?.vtep).toBe(VTEP1);

    // back with the fast path adopted and the hosts it had
    sw1 = speaker(n1, "sw1", cfg1(), VTEP1, VNIS, { forwardingPreserved: true, localMacs: [{ vni: 100, mac: MAC1 }] });
    await sw1.ready;
    await established(sw1);
    const sync = await until("sw1 initialSync", async () => syncs.get(sw1));
    expect(sync).toMatchObject({ complete: true, pending: [] });
    await until("sw1 relearned sw2's MAC and flood entries", async () => sw1.remote.get(`100/${MAC2}`)?.vtep === VTEP2 && VNIS.every((v) => sw1.flood.get(v)?.has(VTEP2)));
    // past the original restart time too
    await sleep(Math.max(0, restartS * 1000 + 2000 - (Date.now() - killedAt)));
    expect(removalsSince(sw2, mark)).toEqual([]);
    expect(sw2.remote.get(`100/${MAC1}`)?.vtep).toBe(VTEP1);
    expect(VNIS.every((v) => sw2.flood.get(v)?.has(VTEP1))).toBe(true);
  });

  it("the reflector restarts: both switches keep its routes and remove nothing", async () => {
    const m1 = sw1.calls.length;
    const m2 = sw2.calls.length;
    await rr.kill();
    await until("both see the reflector gone", async () => (await summary(sw1))[0]!.state !== "Established" && (await summary(sw2))[0]!.state !== "Established");
    expect((await summary(sw2))[0]!.gracefulRestart).toMatch(/^peer restarting, \d+ stale$/);
    const stale = (await sw2.routes()).filter((r) => r.from !== "local");
    expect(stale.length).toBeGreaterThan(0);
    expect(stale.every((r) => r.stale)).toBe(true);
    await sleep(1000);
    rr.start(true);
    await established(sw1);
    await established(sw2);
    await until("helper mode ended by End-of-RIB on both", async () => (await summary(sw1))[0]!.gracefulRestart === "on" && (await summary(sw2))[0]!.gracefulRestart === "on");
    expect((await sw2.routes()).some((r) => r.stale)).toBe(false);
    expect(removalsSince(sw1, m1)).toEqual([]);
    expect(removalsSince(sw2, m2)).toEqual([]);
    expect(sw2.remote.get(`100/${MAC1}`)?.vtep).toBe(VTEP1);
    expect(sw1.remote.get(`100/${MAC2}`)?.vtep).toBe(VTEP2);
  });

  it("sw1 killed for good: its routes go once its restart time has passed, not before", async () => {
    const mark = sw2.calls.length;
    await killProc(sw1.child);
    const t0 = Date.now();
    await sleep((restartS - 1.5) * 1000);
    expect(removalsSince(sw2, mark)).toEqual([]);
    await until("sw2 removed sw1's MAC and flood entries", async () => !sw2.remote.has(`100/${MAC1}`) && VNIS.every((v) => !sw2.flood.get(v)?.has(VTEP1)), 20_000);
    expect(Date.now() - t0).toBeLessThan((restartS + 5) * 1000);
    expect(removalsSince(sw2, mark).map((c) => c.slice(0, 3).join(" ")).sort()).toEqual(
      [`removeRemoteMac 100 ${MAC1}`, ...VNIS.map((v) => `removeFloodVtep ${v} ${VTEP1}`)].sort(),
    );
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}
