// BGP session security against FRR and GoBGP, in network namespaces:
//  - TCP-MD5 (RFC 2385): with the right password the session establishes
//    whichever side connects; with a wrong one it does not, and the reason is
//    in `show bgp summary`'s lastError where we can tell (our connect times
//    out; their SYNs are counted in our namespace's TcpExt counters)
//  - GTSM (RFC 5082): FRR two routed hops away (its packets arrive with TTL
//    254) establishes with ttl_security 2 and not with 1; GoBGP without
//    ttl-security (TTL 64) is not accepted, with ttl-min 255 it is
//  - max_prefixes: GoBGP sending more EVPN routes than the limit gets Cease /
//    Maximum Number of Prefixes Reached, its routes go, the session stays Idle
//    until max_prefixes_restart, then comes back once GoBGP is within it
//  - two vxgate speakers started at the same moment, each connecting to the
//    other: the collision is resolved without a flap, an error or a warning
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../harness/netns.ts";
import { stopChild } from "../harness/proc.ts";
import type { BgpNeighborConfig } from "../../src/control/evpn/config.ts";
import { type DropCounters, parseDropCounters } from "../../src/control/evpn/session/tcp.ts";
import { bgpCfg, type GobgpNeighbor, type SpeakerProc, startFrr, startGobgp, startSpeaker } from "./evpn-interop.ts";

type Row = { neighbor: string; state: string; lastError?: string; flaps: number; idleReason?: string; restartInSeconds?: number; pfxAccepted: number };

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function counters(lab: Lab, ns: string): DropCounters {
  return parseDropCounters(lab.exec(ns, "cat", ["/proc/net/netstat"]))!;
}

async function rows(sp: SpeakerProc): Promise<Record<string, Row>> {
  return Object.fromEntries(((await sp.summary()) as Row[]).map((r) => [r.neighbor, r]));
}

const VTEP = "192.0.2.1";
/** Short connect timeout: a silent drop shows up in lastError within seconds. */
const EXTRA = { connectTimeoutMs: 2000, retryMaxMs: 1000 };

// ---------------------------------------------------------------------------

describe("TCP-MD5 and GTSM with FRR", () => {
  // sw e0 10.30.1.1 --- 10.30.1.2 frr1                  (1 hop)
  // sw e1 10.30.2.1 --- 10.30.2.254 r 10.30.3.254 --- 10.30.3.2 frr2   (2 routed hops)
  let lab: Lab;
  let sw: string;
  let f1ns: string;
  let f2ns: string;
  let frrs: ReturnType<typeof startFrr>[] = [];
  let sp: SpeakerProc | undefined;

  beforeAll(() => {
    lab = new Lab("evpn-sec-frr");
    sw = lab.ns("sw");
    f1ns = lab.ns("frr1");
    f2ns = lab.ns("frr2");
    const r = lab.ns("r", { forwarding: true });
    lab.veth(sw, "e0", f1ns, "e0");
    lab.veth(sw, "e1", r, "e1");
    lab.veth(r, "e2", f2ns, "e0");
    lab.addr(sw, "e0", "10.30.1.1/24");
    lab.addr(f1ns, "e0", "10.30.1.2/24");
    lab.addr(sw, "e1", "10.30.2.1/24");
    lab.addr(r, "e1", "10.30.2.254/24");
    lab.addr(r, "e2", "10.30.3.254/24");
    lab.addr(f2ns, "e0", "10.30.3.2/24");
    lab.route(sw, "10.30.3.0/24", { via: "10.30.2.254" });
    lab.route(f2ns, "10.30.2.0/24", { via: "10.30.3.254" });
  });

  afterAll(async () => {
    await stopAll();
    await lab?.dispose();
  });

  async function stopAll(): Promise<void> {
    try {
      await sp?.stop();
    } catch {
      /* gone */
    }
    sp = undefined;
    await Promise.all(frrs.map((f) => stopChild(f.child, { graceMs: 1000 })));
    frrs = [];
  }

  function frrConf(p: { id: string; peer: string; password?: string; hops?: number; passive: boolean }): string {
    return [
      "frr defaults datacenter",
      `hostname frr-${p.id}`,
      "router bgp 65000",
      ` bgp router-id ${p.id}`,
      " no bgp default ipv4-unicast",
      ` neighbor ${p.peer} remote-as 65000`,
      ` neighbor ${p.peer} timers 3 9`,
      ` neighbor ${p.peer} timers connect 1`,
      ...(p.password ? [` neighbor ${p.peer} password ${p.password}`] : []),
      ...(p.hops ? [` neighbor ${p.peer} ttl-security hops ${p.hops}`] : []),
      ...(p.passive ? [` neighbor ${p.peer} passive`] : []),
      " address-family l2vpn evpn",
      `  neighbor ${p.peer} activate`,
      " exit-address-family",
      "",
    ].join("\n");
  }

  async function frrState(i: 0 | 1, peer: string): Promise<string | undefined> {
    const j = await frrs[i]!.json<{ peers: Record<string, { state: string }> }>("show bgp l2vpn evpn summary json");
    return j.peers?.[peer]?.state;
  }

  /** One round: FRR on both ends as given, our speaker with these neighbor settings. */
  async function round(p: {
    weConnect: boolean;
    frr1: { password?: string; hops?: number };
    frr2: { password?: string; hops?: number };
    us1: Partial<BgpNeighborConfig>;
    us2: Partial<BgpNeighborConfig>;
  }) {
    await stopAll();
    frrs = [
      startFrr(lab, f1ns, frrConf({ id: "10.30.1.2", peer: "10.30.1.1", passive: p.weConnect, ...p.frr1 })),
      startFrr(lab, f2ns, frrConf({ id: "10.30.3.2", peer: "10.30.2.1", passive: p.weConnect, ...p.frr2 })),
    ];
    const cfg = bgpCfg({
      asn: 65000,
      routerId: "10.30.2.1",
      neighbors: [
        { address: "10.30.1.2", remoteAsn: 65000, passive: !p.weConnect, ...p.us1 },
        { address: "10.30.3.2", remoteAsn: 65000, passive: !p.weConnect, ...p.us2 },
      ],
    });
    sp = startSpeaker(lab, sw, "vx", cfg, VTEP, [100], EXTRA);
    await sp.ready;
    return sp;
  }

  it("right passwords, GTSM 1 hop and 2 routed hops: both sessions establish when we connect", async () => {
    const s = await round({
      weConnect: true,
      frr1: { password: "frr1-md5", hops: 1 },
      frr2: { password: "frr2-md5", hops: 2 },
      us1: { md5Password: "frr1-md5", ttlSecurity: 1 },
      us2: { md5Password: "frr2-md5", ttlSecurity: 2 },
    });
    await until("both Established", async () => Object.values(await rows(s)).every((r) => r.state === "Established"), 30_000);
    await until("FRR sees them Established", async () => (await frrState(0, "10.30.1.1")) === "Established" && (await frrState(1, "10.30.2.1")) === "Established");
  });

  it("... and when they connect", async () => {
    const s = await round({
      weConnect: false,
      frr1: { password: "frr1-md5", hops: 1 },
      frr2: { password: "frr2-md5", hops: 2 },
      us1: { md5Password: "frr1-md5", ttlSecurity: 1 },
      us2: { md5Password: "frr2-md5", ttlSecurity: 2 },
    });
    await until("both Established", async () => Object.values(await rows(s)).every((r) => r.state === "Established"), 30_000);
  });

  it("we connect: a wrong password, or ttl_security 1 to a peer 2 hops away, does not establish; lastError says why", async () => {
    const s = await round({
      weConnect: true,
      frr1: { password: "frr1-md5", hops: 1 },
      frr2: { hops: 2 },
      us1: { md5Password: "not-frr1-md5", ttlSecurity: 1 },
      us2: { ttlSecurity: 1 },
    });
    const r = await until("both connects timed out", async () => {
      const x = await rows(s);
      return Object.values(x).every((y) => y.lastError?.startsWith("connect: no answer")) ? x : undefined;
    });
    // FRR dropped our SYNs (in its namespace): we can only say what TCP-MD5 does
    expect(r["10.30.1.2"]!.lastError).toMatch(/^connect: no answer from 10\.30\.1\.2:179 in 2 s; .*TCP-MD5: a peer with another password, or none, drops our SYN without an answer/);
    // frr2's SYN-ACKs reached us with TTL 254 < 255: our kernel dropped and counted them
    expect(r["10.30.3.2"]!.lastError).toMatch(/^connect: no answer from 10\.30\.3\.2:179 in 2 s; the kernel dropped meanwhile: \d+ segments? below a GTSM minimum TTL .*\(TcpExt TCPMinTTLDrop\)/);
    await sleep(3000);
    expect(Object.values(await rows(s)).map((x) => x.state)).not.toContain("Established");
    expect([await frrState(0, "10.30.1.1"), await frrState(1, "10.30.2.1")]).not.toContain("Established");
  });

  it("they connect: a wrong password is dropped by our kernel (counted); a peer too far away is refused with the SYN's TTL in lastError", async () => {
    const before = counters(lab, sw);
    // frr1 has no GTSM here, so our listener cannot drop by TTL: it checks each connection
    const s = await round({
      weConnect: false,
      frr1: { password: "frr1-md5" },
      frr2: { hops: 2 },
      us1: { md5Password: "wrong" },
      us2: { ttlSecurity: 1 },
    });
    const r = await until("frr2 refused", async () => {
      const x = await rows(s);
      return x["10.30.3.2"]!.lastError ? x : undefined;
    });
    expect(r["10.30.3.2"]!.lastError).toBe("GTSM: connection from 10.30.3.2 refused: its SYN arrived with TTL 254, ttl_security 1 needs >= 255");
    await until("wrong signatures counted in our namespace", async () => counters(lab, sw).TCPMD5Failure > before.TCPMD5Failure);
    await sleep(3000);
    const x = await rows(s);
    expect([x["10.30.1.2"]!.state, x["10.30.3.2"]!.state]).toEqual(["Active", "Active"]);
    expect(x["10.30.1.2"]!.lastError).toBeUndefined(); // a passive session never sees the dropped SYNs
  });
});

// ---------------------------------------------------------------------------

describe("TCP-MD5, GTSM and max_prefixes with GoBGP", () => {
  let lab: Lab;
  let sw: string;
  let gb: string;
  let gobgp: ReturnType<typeof startGobgp> | undefined;
  let sp: SpeakerProc | undefined;

  beforeAll(() => {
    lab = new Lab("evpn-sec-gobgp");
    sw = lab.ns("sw");
    gb = lab.ns("gb");
    lab.veth(sw, "e0", gb, "e0");
    lab.addr(sw, "e0", "10.40.0.1/24");
    lab.addr(gb, "e0", "10.40.0.2/24");
  });

  afterAll(async () => {
    await stopAll();
    await lab?.dispose();
  });

  async function stopAll(): Promise<void> {
    try {
      await sp?.stop();
    } catch {
      /* gone */
    }
    sp = undefined;
    if (gobgp) await stopChild(gobgp.child, { graceMs: 1000 });
    gobgp = undefined;
  }

  /** `ebgp`: GoBGP in AS 65001 (its eBGP TTL is 1 without ttl-security; for iBGP it already sends 255). */
  async function round(them: Omit<GobgpNeighbor, "address" | "asn">, us: Partial<BgpNeighborConfig>, ebgp = false) {
    await stopAll();
    const theirAs = ebgp ? 65001 : 65000;
    gobgp = startGobgp(lab, gb, { asn: theirAs, routerId: "10.40.0.2", neighbors: [{ address: "10.40.0.1", asn: 65000, ...them }] });
    sp = startSpeaker(lab, sw, "vx", bgpCfg({ asn: 65000, routerId: "10.40.0.1", neighbors: [{ address: "10.40.0.2", remoteAsn: theirAs, aggregation: false, ...us }] }), VTEP, [100], EXTRA);
    await sp.ready;
    return { sp, cli: gobgp.cli, log: gobgp.log };
  }
  const row = async (s: SpeakerProc) => ((await s.summary()) as Row[])[0]!;
  async function gobgpState(cli: (...a: string[]) => Promise<string>): Promise<string> {
    const n = JSON.parse(await cli("neighbor", "10.40.0.1", "-j")) as { state: { session_state: number | string } };
    return String(n.state.session_state);
  }
  const established = /^(6|established)$/i;

  it("the right password establishes both ways (GoBGP connects / we connect)", async () => {
    const a = await round({ authPassword: "gobgp-md5" }, { md5Password: "gobgp-md5", passive: true });
    await until("Established (they connect)", async () => (await row(a.sp)).state === "Established");
    expect(await gobgpState(a.cli)).toMatch(established);
    const b = await round({ authPassword: "gobgp-md5", passive: true }, { md5Password: "gobgp-md5" });
    await until("Established (we connect)", async () => (await row(b.sp)).state === "Established");
    expect(await gobgpState(b.cli)).toMatch(established);
  });

  it("a wrong password does not establish either way", async () => {
    const a = await round({ authPassword: "gobgp-md5", passive: true }, { md5Password: "gobgp-MD5" });
    const r = await until("connect timed out", async () => {
      const x = await row(a.sp);
      return x.lastError?.startsWith("connect: no answer") ? x : undefined;
    });
    expect(r.lastError).toMatch(/TCP-MD5: a peer with another password, or none, drops our SYN without an answer/);
    const before = counters(lab, sw);
    const b = await round({ authPassword: "gobgp-md5" }, { md5Password: "gobgp-MD5", passive: true });
    await until("their SYNs dropped for a wrong signature", async () => counters(lab, sw).TCPMD5Failure > before.TCPMD5Failure);
    await sleep(2000);
    expect((await row(b.sp)).state).toBe("Active");
    expect(await gobgpState(b.cli)).not.toMatch(established);
  });

  it("GTSM (eBGP): GoBGP without ttl-security (it sends with TTL 1) is not accepted; with ttl-min 255 it is, both ways", async () => {
    // we connect: GoBGP's listener answers the SYN with TTL 255, then its OPEN comes with TTL 1
    const a = await round({ passive: true }, { ttlSecurity: 1 }, true);
    const r = await until("the reason in lastError", async () => {
      const x = await row(a.sp);
      return x.lastError ? x : undefined;
    });
    expect(r.lastError).toMatch(/^connected, but no OPEN from the peer in 2 s; the kernel dropped meanwhile: \d+ segments? below a GTSM minimum TTL .*\(TcpExt TCPMinTTLDrop\)$/);
    expect(r.state).not.toBe("Established");
    // they connect: GoBGP's SYN already has TTL 1 -- dropped by our listener (every neighbor has GTSM)
    const before = counters(lab, sw);
    const t = await round({}, { ttlSecurity: 1, passive: true }, true);
    await until("their SYNs dropped below the minimum TTL", async () => counters(lab, sw).TCPMinTTLDrop > before.TCPMinTTLDrop);
    await sleep(2000);
    expect((await row(t.sp)).state).toBe("Active");
    const b = await round({ ttlMin: 255, authPassword: "both" }, { ttlSecurity: 1, md5Password: "both", passive: true }, true);
    await until("Established (they connect)", async () => (await row(b.sp)).state === "Established");
    const c = await round({ ttlMin: 255, passive: true }, { ttlSecurity: 1 }, true);
    await until("Established (we connect)", async () => (await row(c.sp)).state === "Established");
  });

  it("max_prefixes: more routes than the limit -> Cease / Maximum Number of Prefixes Reached, routes removed, Idle until the restart delay", async () => {
    const a = await round({}, { maxPrefixes: 3, maxPrefixesRestart: 8 });
    await until("Established", async () => (await row(a.sp)).state === "Established");
    const macs = [1, 2, 3, 4, 5].map((i) => `02:00:00:00:0b:0${i}`);
    const add = (m: string) => a.cli("global", "rib", "-a", "evpn", "add", "macadv", m, "0.0.0.0", "etag", "0", "label", "100", "rd", "10.40.0.2:1", "rt", "65000:100", "encap", "vxlan", "nexthop", "10.40.0.2");
    for (const m of macs.slice(0, 3)) await add(m);
    await until("3 MACs installed", async () => macs.slice(0, 3).every((m) => a.sp.remote.has(`100/${m}`)));
    expect((await row(a.sp)).pfxAccepted).toBe(3);
    for (const m of macs.slice(3)) await add(m);
    const r = await until("Idle", async () => {
      const x = await row(a.sp);
      return x.state === "Idle" ? x : undefined;
    });
    expect(r).toMatchObject({ idleReason: "max_prefixes 3 exceeded", pfxAccepted: 0 });
    expect(r.lastError).toMatch(/^sent NOTIFICATION Cease \/ Maximum Number of Prefixes Reached: 4 EVPN routes from the peer, max_prefixes 3$/);
    expect(r.restartInSeconds).toBeGreaterThan(5);
    await until("its routes removed", async () => macs.every((m) => !a.sp.remote.has(`100/${m}`)));
    await until("GoBGP got the NOTIFICATION", async () => /maximum number of prefixes/i.test(a.log.join("")));
    // held down: GoBGP keeps trying (connect-retry 1 s) and is refused
    await sleep(3000);
    expect((await row(a.sp)).state).toBe("Idle");
    expect(await gobgpState(a.cli)).not.toMatch(established);
    // GoBGP gets back within the limit; after the delay the session comes back and stays
    for (const m of macs.slice(2)) await a.cli("global", "rib", "-a", "evpn", "del", "macadv", m, "0.0.0.0", "etag", "0", "label", "100", "rd", "10.40.0.2:1");
    await until("Established again", async () => (await row(a.sp)).state === "Established", 15_000);
    await until("2 MACs installed", async () => macs.slice(0, 2).every((m) => a.sp.remote.has(`100/${m}`)));
    await sleep(1500);
    expect(await row(a.sp)).toMatchObject({ state: "Established", pfxAccepted: 2, flaps: 1 });
  });
});

// ---------------------------------------------------------------------------

describe("two vxgate speakers connecting to each other at the same moment", () => {
  let lab: Lab;
  let a: string;
  let b: string;
  const procs: SpeakerProc[] = [];

  beforeAll(() => {
    lab = new Lab("evpn-sec-collide");
    a = lab.ns("a");
    b = lab.ns("b");
    lab.veth(a, "e0", b, "e0");
    lab.addr(a, "e0", "10.50.0.1/24");
    lab.addr(b, "e0", "10.50.0.2/24");
  });

  afterAll(async () => {
    for (const p of procs) {
      try {
        await p.stop();
      } catch {
        /* gone */
      }
    }
    await lab?.dispose();
  });

  it("the collision is resolved: no flap, no lastError, nothing logged at warn or error (several rounds)", async () => {
    for (const [round, skew] of [0, 0, 1, 2, 3, 5].entries()) {
      const at = Date.now() + 2500; // both are up (tsx) by then
      const x = startSpeaker(lab, a, `a${round}`, bgpCfg({ asn: 65000, routerId: "10.50.0.1", neighbors: [{ address: "10.50.0.2", remoteAsn: 65000 }] }), "192.0.2.1", [100], { startAt: at });
      const y = startSpeaker(lab, b, `b${round}`, bgpCfg({ asn: 65000, routerId: "10.50.0.2", neighbors: [{ address: "10.50.0.1", remoteAsn: 65000 }] }), "192.0.2.2", [100], { startAt: at + skew });
      procs.push(x, y);
      await Promise.all([x.ready, y.ready]);
      await until("both Established", async () => (await x.summary())[0]!.state === "Established" && (await y.summary())[0]!.state === "Established");
      await sleep(1500); // a late collision NOTIFICATION or a replaced session would show by now
      for (const p of [x, y]) {
        const r = ((await p.summary()) as Row[])[0]!;
        expect({ round, who: p.name, state: r.state, flaps: r.flaps, lastError: r.lastError ?? "" }).toMatchObject({ state: "Established", flaps: 0, lastError: expect.not.stringMatching(/ollision|ECONNRESET|restarted/) });
        // (a connect refused before the other side listened is fine: that is not the collision)
        const loud = p.stderr.filter((l) => /"level":"(warn|error)"/.test(l));
        expect({ round, who: p.name, loud }).toEqual({ round, who: p.name, loud: [] });
      }
      await Promise.all([x.stop(), y.stop()]);
      procs.length = 0;
    }
  });
});
