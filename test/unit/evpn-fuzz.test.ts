// Random and mutated UPDATEs thrown at a live EvpnSpeaker session over TCP.
// After every run: the process is up, the Adj-RIB-In and Loc-RIB agree, the
// switch port holds exactly what the MAC table says, and once the peer goes
// away nothing it announced is left anywhere.
import { connect, type Socket } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Afi,
  encodeMessage,
  type EvpnRoute,
  type ExtCommunity,
  type PathAttribute,
  readFrame,
  Safi,
  type UpdateMessage,
} from "../../src/control/evpn/bgp/index.ts";
import { encodeMultiVni } from "../../src/control/evpn/multi-vni.ts";
import type { EvpnSpeaker } from "../../src/control/evpn/speaker.ts";
import { basePort, bgpConfig, type RecordingPort, speaker, waitFor } from "./evpn-helpers.ts";

const RD = fc.integer({ min: 1, max: 3 }).map((v) => ({ format: "ipv4" as const, ip: "10.0.0.9", value: v }));
const MAC = fc.constantFrom("02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03");
const VNI = fc.constantFrom(100, 200, 999);
const VTEP = fc.constantFrom("192.0.2.7", "192.0.2.8", "192.0.2.1" /* the speaker's own */);

const routeArb: fc.Arbitrary<EvpnRoute> = fc.oneof(
  fc.record({ rd: RD, mac: MAC, label1: VNI }).map((r) => ({ type: "mac-ip" as const, esi: "00:00:00:00:00:00:00:00:00:00", ethernetTag: 0, ...r })),
  fc.record({ rd: RD, originatorIp: VTEP }).map((r) => ({ type: "imet" as const, ethernetTag: 0, ...r })),
  fc.record({ routeType: fc.constantFrom(1, 4, 5, 77), value: fc.uint8Array({ minLength: 0, maxLength: 40 }) }).map((r) => ({ type: "raw" as const, routeType: r.routeType, value: Buffer.from(r.value) })),
);

const extArb: fc.Arbitrary<ExtCommunity[]> = fc.array(
  fc.oneof(
    fc.constantFrom(100, 200, 999).map((v): ExtCommunity => ({ type: "route-target", target: { format: "as2", asn: 65000, value: v } })),
    fc.record({ sticky: fc.boolean(), sequence: fc.integer({ min: 0, max: 4 }) }).map((m): ExtCommunity => ({ type: "mac-mobility", ...m })),
    fc.constant<ExtCommunity>({ type: "encapsulation", tunnelType: 8 }),
  ),
  { minLength: 1, maxLength: 4 },
);

const attrsArb: fc.Arbitrary<PathAttribute[]> = fc
  .record({
    ext: extArb,
    pmsi: fc.option(fc.record({ label: VNI, endpoint: VTEP }), { nil: undefined }),
    multi: fc.option(fc.array(fc.record({ vni: VNI, seq: fc.integer({ min: 0, max: 4 }), sticky: fc.boolean(), vlan: fc.integer({ min: 0, max: 4094 }), rtv: VNI }), { maxLength: 3 }), { nil: undefined }),
    originator: fc.option(fc.constantFrom("10.0.0.2" /* ours */, "10.0.0.9"), { nil: undefined }),
  })
  .map(({ ext, pmsi, multi, originator }) => {
    const a: PathAttribute[] = [{ type: "origin", value: 0 }, { type: "as-path", segments: [] }, { type: "ext-communities", communities: ext }];
    if (originator) a.push({ type: "originator-id", id: originator });
    if (pmsi) a.push({ type: "pmsi-tunnel", leafInfoRequired: false, label: pmsi.label, tunnel: { type: "ingress-replication", endpoint: pmsi.endpoint } });
    if (multi) a.push(encodeMultiVni(multi.map((m) => ({ vni: m.vni, seq: m.seq, sticky: m.sticky, vlan: m.vlan, rt: { format: "as2", asn: 65000, value: m.rtv } }))));
    return a;
  });

const updateArb: fc.Arbitrary<UpdateMessage> = fc
  .record({ nh: VTEP, routes: fc.array(routeArb, { minLength: 0, maxLength: 4 }), withdrawn: fc.array(routeArb, { maxLength: 3 }), attrs: attrsArb })
  .map(({ nh, routes, withdrawn, attrs }) => ({
    type: "update",
    withdrawnRoutes: [],
    attributes: [
      ...(routes.length ? [{ type: "mp-reach" as const, family: "evpn" as const, nextHop: nh, routes }] : []),
      ...(withdrawn.length ? [{ type: "mp-unreach" as const, family: "evpn" as const, routes: withdrawn }] : []),
      ...(routes.length ? attrs : []),
    ],
    nlri: [],
  }));

/** A wire message: a valid UPDATE, or one with a flipped byte, truncated (length fixed up), or random body. */
const wireArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 3, arbitrary: updateArb.map((u) => encodeMessage(u)) },
  {
    weight: 3,
    arbitrary: fc.record({ u: updateArb, at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }).map(({ u, at, v }) => {
      const b = Buffer.from(encodeMessage(u));
      if (b.length > 19) b[19 + (at % (b.length - 19))] = v;
      return b;
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ u: updateArb, cut: fc.nat() }).map(({ u, cut }) => {
      const b = encodeMessage(u);
      const n = 23 + (cut % Math.max(1, b.length - 23));
      const t = Buffer.from(b.subarray(0, Math.min(n, b.length)));
      t.writeUInt16BE(t.length, 16);
      return t;
    }),
  },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ minLength: 4, maxLength: 200 }).map((body) => {
      const h = Buffer.alloc(19, 0xff);
      h.writeUInt16BE(19 + body.length, 16);
      h[18] = 2;
      return Buffer.concat([h, Buffer.from(body)]);
    }),
  },
);

describe("fuzz: UPDATEs at a live session", () => {
  let sp: EvpnSpeaker;
  let port: RecordingPort;
  let listenPort: number;

  beforeAll(async () => {
    listenPort = basePort();
    const s = speaker(
      bgpConfig({ asn: 65000, routerId: "10.0.0.2", listen: { host: "127.0.0.2", port: listenPort }, neighbors: [{ address: "127.0.0.1", remoteAsn: 65000, passive: true, holdTime: 90 }] }),
      "192.0.2.1",
      [100, 200],
    );
    sp = s.s;
    port = s.port;
    await sp.start();
  });
  afterAll(async () => {
    await sp.stop();
  });

  /** Opens a session as 10.0.0.9 and returns the socket once Established, plus what it received. */
  async function rawSession(): Promise<{ sock: Socket; got: Buffer[] }> {
    const got: Buffer[] = [];
    const sock = connect({ host: "127.0.0.2", port: listenPort, localAddress: "127.0.0.1" });
    sock.on("error", () => {});
    let buf = Buffer.alloc(0);
    sock.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const f = readFrame(buf);
        if (f.status !== "frame") break;
        got.push(Buffer.from(f.message));
        buf = buf.subarray(f.next);
      }
    });
    await new Promise<void>((r) => sock.once("connect", () => r()));
    sock.write(
      encodeMessage({
        type: "open",
        version: 4,
        myAs: 65000,
        holdTime: 90,
        bgpId: "10.0.0.9",
        capabilities: [{ type: "multiprotocol", afi: Afi.L2VPN, safi: Safi.EVPN }, { type: "four-octet-as", asn: 65000 }],
      }),
    );
    sock.write(encodeMessage({ type: "keepalive" }));
    await waitFor("Established", () => sp.summary()[0]!.state === "Established");
    return { sock, got };
  }

  function consistent(): void {
    expect(sp.checkConsistency()).toEqual([]);
    const installed = new Map(sp.macs.installed().map((e) => [`${e.vni}/${e.mac}`, e.vtep]));
    expect(new Map([...port.remote].map(([k, v]) => [k, v.vtep]))).toEqual(installed);
    for (const vtep of installed.values()) expect(vtep).not.toBe("192.0.2.1");
    for (const set of port.flood.values()) expect(set.has("192.0.2.1")).toBe(false);
  }

  it("stays up and consistent; a closed session leaves nothing behind", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(wireArb, { minLength: 1, maxLength: 25 }), async (msgs) => {
        const { sock, got } = await rawSession();
        for (const m of msgs) sock.write(m);
        // Barrier: a ROUTE-REFRESH is answered after everything before it was processed
        // (or the session was reset by one of the messages).
        const before = got.length;
        sock.write(encodeMessage({ type: "route-refresh", afi: 25, safi: 70 }));
        await waitFor("processed", () => sock.destroyed || sock.readableEnded || got.slice(before).some((b) => b[18] === 2 && b.length === 29) || got.some((b) => b[18] === 3), 5000).catch(() => undefined);
        consistent();
        sock.destroy();
        await waitFor("session down", () => sp.summary()[0]!.state !== "Established", 5000);
        consistent();
        expect(sp.ribStats().adjIn["127.0.0.1"]).toBe(0);
        expect(port.remote.size).toBe(0);
        expect([...port.flood.values()].every((s) => s.size === 0)).toBe(true);
        expect(sp.routes().every((r) => r.from === "local")).toBe(true);
      }),
      { numRuns: 100 },
    );
    // the speaker still works after all that
    const { sock } = await rawSession();
    sock.destroy();
  }, 120_000);
});
