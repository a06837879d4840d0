// vxgate's EVPN speaker against FRR bgpd (no zebra): two vxgate switches are
// route-reflector clients of FRR. Sessions establish; our type-2/3 routes
// show up in `show bgp l2vpn evpn` with the right RD/RT/VNI/next hop/MAC;
// each switch's routes reach the other through the reflector and program its
// switch port; an aggregated same-MAC route crosses FRR with every entry
// intact; withdrawals remove what they should.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../harness/netns.ts";
import { bgpCfg, type SpeakerProc, startFrr, startSpeaker } from "./evpn-interop.ts";

const VTEP1 = "192.0.2.1";
const VTEP2 = "192.0.2.2";
const MAC1 = "02:00:00:00:11:01";
const MULTI = "02:00:00:00:aa:01";

const FRR_CONF = `hostname rr
router bgp 65000
 bgp router-id 10.20.0.254
 bgp cluster-id 10.20.0.254
 no bgp default ipv4-unicast
 neighbor 10.20.1.1 remote-as 65000
 neighbor 10.20.1.1 timers 3 9
 neighbor 10.20.1.1 timers connect 1
 neighbor 10.20.2.1 remote-as 65000
 neighbor 10.20.2.1 timers 3 9
 neighbor 10.20.2.1 timers connect 1
 address-family l2vpn evpn
  neighbor 10.20.1.1 activate
  neighbor 10.20.1.1 route-reflector-client
  neighbor 10.20.2.1 activate
  neighbor 10.20.2.1 route-reflector-client
 exit-address-family
`;

type FrrPath = {
  valid?: boolean;
  bestpath?: boolean;
  nexthops?: { ip: string }[];
  extendedCommunity?: { string: string };
  originatorId?: string;
  peerId?: string;
};

describe("EVPN interop with FRR (route reflector)", () => {
  let lab: Lab;
  let sw1: SpeakerProc;
  let sw2: SpeakerProc;
  let frr: ReturnType<typeof startFrr>;

  /** Every path in `show bgp l2vpn evpn json`, with its RD and prefix. */
  async function frrRoutes(): Promise<{ rd: string; prefix: string; path: FrrPath }[]> {
    const j = await frr.json<Record<string, unknown>>("show bgp l2vpn evpn json");
    const out: { rd: string; prefix: string; path: FrrPath }[] = [];
    for (const [rd, v] of Object.entries(j)) {
      if (!v || typeof v !== "object" || !("rd" in (v as object))) continue;
      for (const [prefix, e] of Object.entries(v as Record<string, unknown>)) {
        if (!e || typeof e !== "object" || !("paths" in (e as object))) continue;
        for (const p of (e as { paths: (FrrPath | FrrPath[])[] }).paths.flat()) out.push({ rd, prefix, path: p });
      }
    }
    return out;
  }

  beforeAll(async () => {
    lab = new Lab("evpn-frr");
    const rr = lab.ns("rr");
    const n1 = lab.ns("sw1");
    const n2 = lab.ns("sw2");
    lab.veth(rr, "e1", n1, "e0");
    lab.veth(rr, "e2", n2, "e0");
    lab.addr(rr, "e1", "10.20.1.254/24");
    lab.addr(rr, "e2", "10.20.2.254/24");
    lab.addr(n1, "e0", "10.20.1.1/24");
    lab.addr(n2, "e0", "10.20.2.1/24");
    frr = startFrr(lab, rr, FRR_CONF);
    sw1 = startSpeaker(lab, n1, "sw1", bgpCfg({ asn: 65000, routerId: "10.20.1.1", neighbors: [{ address: "10.20.1.254", remoteAsn: 65000 }] }), VTEP1, [100, 200, 300]);
    sw2 = startSpeaker(lab, n2, "sw2", bgpCfg({ asn: 65000, routerId: "10.20.2.1", neighbors: [{ address: "10.20.2.254", remoteAsn: 65000 }] }), VTEP2, [100, 200, 300]);
    await Promise.all([sw1.ready, sw2.ready]);
  });

  afterAll(async () => {
    for (const s of [sw1, sw2]) {
      try {
        await s?.stop();
      } catch {
        /* gone */
      }
    }
    await lab?.dispose();
  });

  it("sessions reach Established (both ends)", async () => {
    await until("FRR sees both Established", async () => {
      const j = await frr.json<{ peers: Record<string, { state: string }> }>("show bgp l2vpn evpn summary json");
      return j.peers["10.20.1.1"]?.state === "Established" && j.peers["10.20.2.1"]?.state === "Established";
    });
    expect((await sw1.summary())[0]!.state).toBe("Established");
    expect((await sw2.summary())[0]!.state).toBe("Established");
  });

  it("our type-3 and type-2 routes appear in FRR with RD, RT, VNI, MAC and next hop", async () => {
    await sw1.learn(100, MAC1);
    const rows = await until("routes in FRR", async () => {
      const r = await frrRoutes();
      const mine = r.filter((x) => x.rd === "10.20.1.1:1");
      return mine.length >= 2 ? mine : undefined;
    });
    const imet = rows.find((x) => x.prefix.startsWith("[3]"))!;
    expect(imet.prefix).toBe(`[3]:[0]:[32]:[${VTEP1}]`);
    expect(imet.path.nexthops?.[0]?.ip).toBe(VTEP1);
    expect(imet.path.extendedCommunity?.string).toContain("RT:65000:100");
    expect(imet.path.extendedCommunity?.string).toContain("ET:8");
    const mac = rows.find((x) => x.prefix.startsWith("[2]"))!;
    expect(mac.prefix).toBe(`[2]:[0]:[48]:[${MAC1}]`);
    expect(mac.path.valid).toBe(true);
    expect(mac.path.nexthops?.[0]?.ip).toBe(VTEP1);
    expect(mac.path.extendedCommunity?.string).toContain("RT:65000:100");
    // the VNI is label1: FRR's detail view prints it
    const detail = await frr.vtysh(`show bgp l2vpn evpn route rd 10.20.1.1:1 mac ${MAC1}`);
    expect(detail).toMatch(/VNI 100\b|Label 100\b|label 100\b/i);
  });

  it("routes reflected by FRR program the other switch (MAC and flood list)", async () => {
    await until("sw2 installed sw1's MAC", async () => sw2.remote.get(`100/${MAC1}`));
    expect(sw2.remote.get(`100/${MAC1}`)).toEqual({ vtep: VTEP1, seq: 0, sticky: false });
    await until("flood lists", async () => [100, 200, 300].every((v) => sw2.flood.get(v)?.has(VTEP1) && sw1.flood.get(v)?.has(VTEP2)));
    const r = (await sw2.routes()).find((x) => x.mac === MAC1)!;
    expect(r.originator).toBe("10.20.1.1");
    expect(r.clusterList).toBe("10.20.0.254");
  });

  it("an aggregated same-MAC route crosses the reflector with every entry intact", async () => {
    for (const v of [100, 200, 300]) await sw1.learn(v, MULTI, { vlan: v / 10 });
    await until("sw2 installed all three VNIs", async () => [100, 200, 300].every((v) => sw2.remote.get(`${v}/${MULTI}`)?.vtep === VTEP1));
    // one route in FRR for that MAC, carrying the attribute
    const inFrr = (await frrRoutes()).filter((x) => x.prefix.includes(MULTI));
    expect(inFrr.map((x) => [x.rd, x.prefix])).toEqual([["10.20.1.1:1", `[2]:[0]:[48]:[${MULTI}]`]]);
    const mine = (await sw1.routes()).find((x) => x.mac === MULTI && x.from === "local")!;
    const theirs = (await sw2.routes()).filter((x) => x.mac === MULTI);
    expect(theirs).toHaveLength(1);
    expect(theirs[0]!.multiVni).toBe(mine.multiVni);
    expect(mine.multiVni).toBe("200(seq 0, rt 65000:200, vlan 20) 300(seq 0, rt 65000:300, vlan 30)");

    // a host leaving removes its entry; the first VNI leaving re-keys the route; the last withdraws it
    await sw1.gone(200, MULTI);
    await until("200 removed on sw2", async () => !sw2.remote.has(`200/${MULTI}`));
    expect(sw2.remote.get(`300/${MULTI}`)?.vtep).toBe(VTEP1);
    await sw1.gone(100, MULTI);
    await until("100 removed on sw2", async () => !sw2.remote.has(`100/${MULTI}`));
    expect(sw2.remote.get(`300/${MULTI}`)?.vtep).toBe(VTEP1);
    await sw1.gone(300, MULTI);
    await until("all removed on sw2", async () => !sw2.remote.has(`300/${MULTI}`));
    await until("withdrawn from FRR", async () => (await frrRoutes()).every((x) => !x.prefix.includes(MULTI)));
  });

  it("MAC mobility across the reflector: higher sequence wins, the old switch removes its entry", async () => {
    const M = "02:00:00:00:33:33";
    await sw1.learn(100, M);
    await until("sw2 has it at sw1", async () => sw2.remote.get(`100/${M}`)?.vtep === VTEP1);
    await sw2.learn(100, M); // the host moved: gratuitous ARP on sw2
    await until("sw1 points at sw2 with seq 1", async () => {
      const e = sw1.remote.get(`100/${M}`);
      return e?.vtep === VTEP2 && e.seq === 1;
    });
    expect(sw1.calls.map((c) => c.slice(0, 3).join(" "))).toContain(`deleteLocalMac 100 ${M}`);
    await until("sw2 no longer points at sw1", async () => !sw2.remote.has(`100/${M}`));
  });

  it("withdrawals: a switch going away removes its routes everywhere", async () => {
    await sw2.stop();
    await until("sw1 dropped sw2's flood entries", async () => [100, 200, 300].every((v) => !sw1.flood.get(v)?.has(VTEP2)));
  });
});

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
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}
