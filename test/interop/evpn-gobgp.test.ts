// vxgate's EVPN speaker against GoBGP (gobgpd + the gobgp CLI), iBGP in a
// private pair of namespaces: session, our type-2/3 routes in GoBGP's RIB
// with the right fields, GoBGP-injected routes programming our switch port,
// withdrawals in both directions.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../harness/netns.ts";
import { bgpCfg, type SpeakerProc, startGobgp, startSpeaker } from "./evpn-interop.ts";
import { waitFor } from "../unit/evpn-helpers.ts";

const MAC_OURS = "02:00:00:00:01:01";
const MAC_THEIRS = "02:00:00:00:02:02";
const VTEP = "192.0.2.1";

interface GobgpPath {
  nlri: { type: number; value: { rd: { admin: string; assigned: number }; mac?: string; labels?: number[]; ip?: string; etag: number } };
  attrs: { type: number; nexthop?: string; value?: unknown; label?: number; "tunnel-id"?: string; "tunnel-type"?: number }[];
}

describe("EVPN interop with GoBGP", () => {
  let lab: Lab;
  let sw: string;
  let gb: string;
  let sp: SpeakerProc;
  let cli: (...a: string[]) => Promise<string>;

  async function rib(): Promise<GobgpPath[]> {
    const out = await cli("global", "rib", "-a", "evpn", "-j");
    const j = JSON.parse(out || "{}") as Record<string, GobgpPath[]>;
    return Object.values(j).flat();
  }

  beforeAll(async () => {
    lab = new Lab("evpn-gobgp");
    sw = lab.ns("sw");
    gb = lab.ns("gb");
    lab.veth(sw, "e0", gb, "e0");
    lab.addr(sw, "e0", "10.10.0.1/24");
    lab.addr(gb, "e0", "10.10.0.2/24");
    ({ cli } = startGobgp(lab, gb, { asn: 65000, routerId: "10.10.0.2", neighbors: [{ address: "10.10.0.1", asn: 65000 }] }));
    sp = startSpeaker(
      lab,
      sw,
      "vx",
      bgpCfg({ asn: 65000, routerId: "10.10.0.1", neighbors: [{ address: "10.10.0.2", remoteAsn: 65000, aggregation: false }] }),
      VTEP,
      [100, 200],
    );
    await sp.ready;
  });

  afterAll(async () => {
    try {
      await sp?.stop();
    } catch {
      /* already gone */
    }
    await lab?.dispose();
  });

  it("reaches Established on both sides", async () => {
    await waitForAsync("our session Established", async () => ((await sp.summary())[0]?.state === "Established" ? true : undefined), 30_000);
    const n = JSON.parse(await cli("neighbor", "10.10.0.1", "-j")) as { state: { session_state: number | string } };
    expect(String(n.state.session_state)).toMatch(/^(6|established)$/i);
  });

  it("our type-3 and type-2 routes appear in GoBGP with RD, RT, VNI, next hop and PMSI", async () => {
    await sp.learn(100, MAC_OURS);
    await sp.learn(200, MAC_OURS);
    const paths = await waitForAsync("our routes in GoBGP", async () => {
      const r = await rib();
      return r.filter((p) => p.nlri.value.rd.admin === "10.10.0.1").length === 4 ? r : undefined;
    });
    const ours = paths.filter((p) => p.nlri.value.rd.admin === "10.10.0.1");
    const imet = ours.filter((p) => p.nlri.type === 3).sort((a, b) => a.nlri.value.rd.assigned - b.nlri.value.rd.assigned);
    expect(imet.map((p) => [p.nlri.value.rd.assigned, p.nlri.value.ip])).toEqual([
      [1, VTEP],
      [2, VTEP],
    ]);
    for (const [i, p] of imet.entries()) {
      const pmsi = p.attrs.find((a) => a.type === 22)!;
      expect(pmsi).toMatchObject({ "tunnel-type": 6, label: [100, 200][i], "tunnel-id": VTEP });
      expect(p.attrs.find((a) => a.type === 14)?.nexthop).toBe(VTEP);
      expect(JSON.stringify(p.attrs.find((a) => a.type === 16)?.value)).toContain(`"65000:${[100, 200][i]}"`);
    }
    // aggregation is off for this (non-vxgate) peer: one plain route per VNI
    const mac = ours.filter((p) => p.nlri.type === 2).sort((a, b) => a.nlri.value.rd.assigned - b.nlri.value.rd.assigned);
    expect(mac.map((p) => [p.nlri.value.rd.assigned, p.nlri.value.mac, p.nlri.value.labels])).toEqual([
      [1, MAC_OURS, [100]],
      [2, MAC_OURS, [200]],
    ]);
    for (const [i, p] of mac.entries()) {
      expect(p.attrs.find((a) => a.type === 14)?.nexthop).toBe(VTEP);
      const ext = JSON.stringify(p.attrs.find((a) => a.type === 16)?.value);
      expect(ext).toContain(`"65000:${[100, 200][i]}"`);
      expect(ext).toContain(`"tunnel_type":8`);
      expect(p.attrs.some((a) => a.type === 244)).toBe(false);
    }
  });

  it("routes injected into GoBGP program our switch port; withdrawals remove them", async () => {
    await cli("global", "rib", "-a", "evpn", "add", "macadv", MAC_THEIRS, "0.0.0.0", "etag", "0", "label", "100", "rd", "10.10.0.2:1", "rt", "65000:100", "encap", "vxlan", "nexthop", "10.10.0.2");
    await cli("global", "rib", "-a", "evpn", "add", "multicast", "10.10.0.2", "etag", "0", "rd", "10.10.0.2:1", "rt", "65000:100", "encap", "vxlan", "pmsi", "ingress-repl", "100", "10.10.0.2", "nexthop", "10.10.0.2");
    // a route whose RT we do not import must not be installed
    await cli("global", "rib", "-a", "evpn", "add", "macadv", "02:00:00:00:02:99", "0.0.0.0", "etag", "0", "label", "300", "rd", "10.10.0.2:3", "rt", "65000:300", "encap", "vxlan", "nexthop", "10.10.0.2");
    await waitFor("remote MAC installed", () => sp.remote.get(`100/${MAC_THEIRS}`));
    await waitFor("flood VTEP added", () => sp.flood.get(100)?.has("10.10.0.2"));
    expect(sp.remote.get(`100/${MAC_THEIRS}`)).toEqual({ vtep: "10.10.0.2", seq: 0, sticky: false });
    const routes = await sp.routes();
    expect(routes.filter((r) => r.from === "10.10.0.2").map((r) => r.route)).toHaveLength(3);
    expect([...sp.remote.keys()].some((k) => k.includes("02:99"))).toBe(false);

    await cli("global", "rib", "-a", "evpn", "del", "macadv", MAC_THEIRS, "0.0.0.0", "etag", "0", "label", "100", "rd", "10.10.0.2:1");
    await cli("global", "rib", "-a", "evpn", "del", "multicast", "10.10.0.2", "etag", "0", "rd", "10.10.0.2:1");
    await waitFor("remote MAC removed", () => !sp.remote.has(`100/${MAC_THEIRS}`));
    await waitFor("flood VTEP removed", () => !sp.flood.get(100)?.has("10.10.0.2"));
    expect(sp.calls.map((c) => c.join(" "))).toEqual(
      expect.arrayContaining([
        `installRemoteMac 100 ${MAC_THEIRS} 10.10.0.2 [object Object]`,
        "addFloodVtep 100 10.10.0.2",
        `removeRemoteMac 100 ${MAC_THEIRS} 10.10.0.2`,
        "removeFloodVtep 100 10.10.0.2",
      ]),
    );
  });

  it("a MAC that leaves us is withdrawn from GoBGP", async () => {
    await sp.gone(200, MAC_OURS);
    await waitForAsync("route withdrawn", async () => {
      const mac = (await rib()).filter((p) => p.nlri.type === 2 && p.nlri.value.rd.admin === "10.10.0.1");
      return mac.length === 1 && mac[0]!.nlri.value.labels?.[0] === 100 ? true : undefined;
    });
  });
});

async function waitForAsync<T>(what: string, f: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

describe("EVPN interop with GoBGP over eBGP", () => {
  let lab: Lab;
  let sp: SpeakerProc;
  let cli: (...a: string[]) => Promise<string>;

  beforeAll(async () => {
    lab = new Lab("evpn-gobgp-ebgp");
    const sw = lab.ns("sw");
    const gb = lab.ns("gb");
    lab.veth(sw, "e0", gb, "e0");
    lab.addr(sw, "e0", "10.11.0.1/24");
    lab.addr(gb, "e0", "10.11.0.2/24");
    ({ cli } = startGobgp(lab, gb, { asn: 65002, routerId: "10.11.0.2", neighbors: [{ address: "10.11.0.1", asn: 65001 }] }));
    sp = startSpeaker(lab, sw, "vx", bgpCfg({ asn: 65001, routerId: "10.11.0.1", neighbors: [{ address: "10.11.0.2", remoteAsn: 65002, aggregation: false }] }), VTEP, [100]);
    await sp.ready;
  });

  afterAll(async () => {
    try {
      await sp?.stop();
    } catch {
      /* gone */
    }
    await lab?.dispose();
  });

  it("establishes, sends our routes with our AS in AS_PATH, imports theirs by *:VNI", async () => {
    await waitForAsync("Established", async () => ((await sp.summary())[0]?.state === "Established" ? true : undefined), 30_000);
    await sp.learn(100, MAC_OURS);
    const ours = await waitForAsync("our MAC route in GoBGP", async () => {
      const j = JSON.parse((await cli("global", "rib", "-a", "evpn", "-j")) || "{}") as Record<string, GobgpPath[]>;
      return Object.values(j).flat().find((p) => p.nlri.type === 2 && p.nlri.value.mac === MAC_OURS);
    });
    expect(JSON.stringify(ours.attrs.find((a) => a.type === 2))).toContain("65001");
    // RT 65002:100 is not our auto RT 65001:100, but auto import also takes *:100 (as FRR does)
    await cli("global", "rib", "-a", "evpn", "add", "macadv", MAC_THEIRS, "0.0.0.0", "etag", "0", "label", "100", "rd", "10.11.0.2:1", "rt", "65002:100", "encap", "vxlan", "nexthop", "10.11.0.2");
    await waitFor("installed", () => sp.remote.get(`100/${MAC_THEIRS}`));
    expect(sp.remote.get(`100/${MAC_THEIRS}`)?.vtep).toBe("10.11.0.2");
    const r = (await sp.routes()).find((x) => x.mac === MAC_THEIRS)!;
    expect(r.from).toBe("10.11.0.2");
  });
});
