// EvpnSpeaker end to end over real loopback TCP (127.0.0.x): origination,
// import into the switch port, the aggregation window and per-peer switch,
// a vxgate route reflector, and the show rows.
import { afterEach, describe, expect, it } from "vitest";
import { decodeMultiVni } from "../../src/control/evpn/multi-vni.ts";
import { encodeMultiVni } from "../../src/control/evpn/multi-vni.ts";
import { renderBgpSummary, renderEvpnMacs, renderEvpnRoutes } from "../../src/control/evpn/show.ts";
import type { EvpnSpeaker } from "../../src/control/evpn/speaker.ts";
import { basePort, bgpConfig, speaker, waitFor } from "./evpn-helpers.ts";

const M = "02:00:00:00:00:aa";
const running: EvpnSpeaker[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

async function pair(p: { window?: number; aggA?: boolean; aggToB?: boolean; vnis?: number[] } = {}) {
  const port = basePort();
  const vnis = p.vnis ?? [100, 200, 300];
  const a = speaker(
    bgpConfig({
      asn: 65000,
      routerId: "10.0.0.1",
      listen: { host: "127.0.0.1", port },
      neighbors: [{ address: "127.0.0.2", remoteAsn: 65000, port, ...(p.aggToB !== undefined ? { aggregation: p.aggToB } : {}) }],
      window: p.window ?? 0,
      aggregation: p.aggA ?? true,
    }),
    "192.0.2.1",
    vnis,
  );
  const b = speaker(bgpConfig({ asn: 65000, routerId: "10.0.0.2", listen: { host: "127.0.0.2", port }, neighbors: [{ address: "127.0.0.1", remoteAsn: 65000, port }] }), "192.0.2.2", vnis);
  running.push(a.s, b.s);
  await Promise.all([a.s.start(), b.s.start()]);
  await waitFor("Established", () => a.s.summary()[0]!.state === "Established" && b.s.summary()[0]!.state === "Established");
  return { a, b };
}

describe("EvpnSpeaker", () => {
  it("type-3 routes build the peer's flood lists; type-2 routes its MAC table", async () => {
    const { a, b } = await pair();
    await waitFor("flood", () => [100, 200, 300].every((v) => b.port.flood.get(v)?.has("192.0.2.1")));
    a.s.localMacLearned(100, M);
    await waitFor("installed", () => b.port.remote.get(`100/${M}`));
    expect(b.port.remote.get(`100/${M}`)).toEqual({ vtep: "192.0.2.1", seq: 0, sticky: false });
    a.s.localMacGone(100, M);
    await waitFor("removed", () => !b.port.remote.has(`100/${M}`));
  });

  it("a new MAC goes out at once, its VNIs of that moment in ONE route; later VNIs within the window update it once", async () => {
    const { a, b } = await pair({ window: 0.3 });
    a.s.localMacLearned(100, M, { vlan: 10 });
    a.s.localMacLearned(200, M, { vlan: 20 });
    // no window for a MAC we do not advertise yet: the next turn of the event loop
    await waitFor("100 and 200", () => [100, 200].every((v) => b.port.remote.has(`${v}/${M}`)));
    expect(b.s.routes().filter((r) => r.mac === M).map((r) => [r.vni, r.multiVni])).toEqual([[100, "200(seq 0, rt 65000:200, vlan 20)"]]);
    a.s.localMacLearned(300, M, { vlan: 30, sticky: true });
    a.s.localMacGone(200, M);
    await new Promise((r) => setTimeout(r, 100));
    expect(b.port.remote.has(`300/${M}`)).toBe(false); // a change to an advertised MAC is held for the window
    await waitFor("300", () => b.port.remote.has(`300/${M}`));
    const routes = b.s.routes().filter((r) => r.mac === M);
    expect(routes).toHaveLength(1);
    expect(routes[0]).toMatchObject({ vni: 100, rd: "10.0.0.1:1", multiVni: "300(seq 0,sticky, rt 65000:300, vlan 30)" });
    expect(b.port.remote.has(`200/${M}`)).toBe(false);
    expect(b.port.remote.get(`300/${M}`)).toEqual({ vtep: "192.0.2.1", seq: 0, sticky: true });
    // one route for the MAC beside the 3 type-3 routes
    expect(a.s.summary()[0]!.pfxSent).toBe(4);
  });

  it("later additions update the route, removals remove entries, the last removal withdraws", async () => {
    const { a, b } = await pair();
    a.s.localMacLearned(200, M);
    await waitFor("200", () => b.port.remote.has(`200/${M}`));
    a.s.localMacLearned(100, M);
    await waitFor("100", () => b.port.remote.has(`100/${M}`));
    expect(b.s.routes().filter((r) => r.mac === M).map((r) => [r.vni, r.multiVni])).toEqual([[200, "100(seq 0, rt 65000:100)"]]);
    a.s.localMacGone(200, M); // the first VNI leaves: the route is re-keyed on VNI 100
    await waitFor("200 gone", () => !b.port.remote.has(`200/${M}`));
    expect(b.port.remote.has(`100/${M}`)).toBe(true);
    expect(b.s.routes().filter((r) => r.mac === M).map((r) => [r.vni, r.multiVni])).toEqual([[100, undefined]]);
    a.s.localMacGone(100, M);
    await waitFor("withdrawn", () => b.s.routes().every((r) => r.mac !== M));
    expect(b.port.remote.size).toBe(0);
  });

  it("aggregation off for a peer: plain RFC 7432 routes, one per VNI", async () => {
    const { a, b } = await pair({ aggToB: false });
    for (const v of [100, 200, 300]) a.s.localMacLearned(v, M);
    await waitFor("all three", () => [100, 200, 300].every((v) => b.port.remote.has(`${v}/${M}`)));
    const routes = b.s.routes().filter((r) => r.mac === M);
    expect(routes.map((r) => [r.rd, r.vni, r.multiVni])).toEqual([
      ["10.0.0.1:1", 100, undefined],
      ["10.0.0.1:2", 200, undefined],
      ["10.0.0.1:3", 300, undefined],
    ]);
  });

  it("receivers import only entries whose RT they import", async () => {
    const port = basePort();
    const a = speaker(bgpConfig({ asn: 65000, routerId: "10.0.0.1", listen: { host: "127.0.0.1", port }, neighbors: [{ address: "127.0.0.2", remoteAsn: 65000, port }] }), "192.0.2.1", [100, 200, 300]);
    // b has VNIs 100 and 300 only
    const b = speaker(bgpConfig({ asn: 65000, routerId: "10.0.0.2", listen: { host: "127.0.0.2", port }, neighbors: [{ address: "127.0.0.1", remoteAsn: 65000, port }] }), "192.0.2.2", [100, 300]);
    running.push(a.s, b.s);
    await Promise.all([a.s.start(), b.s.start()]);
    for (const v of [200, 100, 300]) a.s.localMacLearned(v, M);
    await waitFor("100 and 300", () => b.port.remote.has(`100/${M}`) && b.port.remote.has(`300/${M}`));
    expect([...b.port.remote.keys()].sort()).toEqual([`100/${M}`, `300/${M}`]);
  });

  it("mobility between two speakers: the later learn wins with seq + 1, the old owner deletes its entry", async () => {
    const { a, b } = await pair();
    a.s.localMacLearned(100, M);
    await waitFor("b has it", () => b.port.remote.has(`100/${M}`));
    b.s.localMacLearned(100, M);
    await waitFor("a points at b", () => a.port.remote.get(`100/${M}`)?.seq === 1);
    expect(a.port.deleted).toEqual([`100/${M}`]);
    expect(b.port.remote.has(`100/${M}`)).toBe(false);
    expect(b.s.macTable().find((r) => r.mac === M)).toMatchObject({ type: "local", seq: 1 });
    expect(a.s.macTable().find((r) => r.mac === M)).toMatchObject({ type: "remote", vtep: "192.0.2.2", seq: 1 });
  });

  it("a vxgate route reflector: a client's route reaches the other client with ORIGINATOR_ID and CLUSTER_LIST", async () => {
    const port = basePort();
    const rr = speaker(
      bgpConfig({
        asn: 65000,
        routerId: "10.0.0.100",
        listen: { host: "127.0.0.100", port },
        rr: true,
        neighbors: [
          { address: "127.0.0.1", remoteAsn: 65000, port, role: "rr-client" },
          { address: "127.0.0.2", remoteAsn: 65000, port, role: "rr-client" },
        ],
      }),
      "192.0.2.100",
      [],
    );
    const c1 = speaker(bgpConfig({ asn: 65000, routerId: "10.0.0.1", listen: { host: "127.0.0.1", port }, neighbors: [{ address: "127.0.0.100", remoteAsn: 65000, port }] }), "192.0.2.1", [100, 200]);
    const c2 = speaker(bgpConfig({ asn: 65000, routerId: "10.0.0.2", listen: { host: "127.0.0.2", port }, neighbors: [{ address: "127.0.0.100", remoteAsn: 65000, port }] }), "192.0.2.2", [100, 200]);
    running.push(rr.s, c1.s, c2.s);
    await Promise.all([rr.s.start(), c1.s.start(), c2.s.start()]);
    c1.s.localMacLearned(100, M);
    c1.s.localMacLearned(200, M);
    await waitFor("c2 installed both", () => c2.port.remote.has(`100/${M}`) && c2.port.remote.has(`200/${M}`));
    const r = c2.s.routes().find((x) => x.mac === M)!;
    expect(r).toMatchObject({ originator: "10.0.0.1", clusterList: "10.0.0.100", nextHop: "192.0.2.1", multiVni: "200(seq 0, rt 65000:200)" });
    expect(c2.port.flood.get(100)).toEqual(new Set(["192.0.2.1"]));
    // c1 does not get its own routes back (RFC 4456 loop prevention)
    expect(c1.s.routes().filter((x) => x.from !== "local" && x.nextHop === "192.0.2.1")).toEqual([]);
    expect(rr.port.calls).toEqual([]); // the reflector has no VNIs: nothing to program
    expect(rr.s.checkConsistency()).toEqual([]);
  });

  it("show rows render as tables", async () => {
    const { a, b } = await pair();
    a.s.localMacLearned(100, M);
    await waitFor("installed", () => b.port.remote.has(`100/${M}`));
    const sum = renderBgpSummary(b.s.summary());
    expect(sum.split("\n")[0]).toMatch(/^NEIGHBOR\s+AS\s+TYPE\s+STATE\s+UP\s+PFXRCVD\s+PFXSENT/);
    expect(sum).toContain("127.0.0.1");
    expect(sum).toContain("Established");
    expect(renderEvpnRoutes(b.s.routes())).toContain(`[2]:[0]:[48]:[${M}]`);
    expect(renderEvpnMacs(b.s.macTable())).toMatch(new RegExp(`100\\s+${M}\\s+remote\\s+192.0.2.1\\s+0`));
  });
});

describe("multi-VNI attribute", () => {
  it("round-trips entries with and without IPs and refuses malformed values", () => {
    const entries = [
      { vni: 200, sticky: false, vlan: 20, seq: 3, rt: { format: "as2" as const, asn: 65000, value: 200 } },
      { vni: 16777215, sticky: true, vlan: 0, seq: 0xffffffff, rt: { format: "ipv4" as const, ip: "10.0.0.1", value: 7 }, ip: "10.1.1.1" },
      { vni: 5, sticky: false, vlan: 4094, seq: 1, rt: { format: "as4" as const, asn: 4200000000, value: 5 }, ip: "fd00::1" },
    ];
    const a = encodeMultiVni(entries);
    expect(a).toMatchObject({ type: "unknown", code: 244, flags: 0xc0 });
    expect(decodeMultiVni(a.value)).toEqual({ ok: true, entries });
    expect(a.value.length).toBe(1 + 21 + 25 + 37);
    expect(decodeMultiVni(Buffer.from([2]))).toMatchObject({ ok: false });
    expect(decodeMultiVni(Buffer.concat([Buffer.from([1, 19]), Buffer.alloc(19)]))).toMatchObject({ ok: false });
    expect(decodeMultiVni(a.value.subarray(0, 30))).toMatchObject({ ok: false });
    const notRt = Buffer.from(a.value);
    notRt[1 + 1 + 12] = 0x06; // RT field type -> EVPN (MAC mobility)
    notRt[1 + 1 + 13] = 0x00;
    expect(decodeMultiVni(notRt)).toMatchObject({ ok: false, reason: expect.stringMatching(/not a route target/) });
  });
});
