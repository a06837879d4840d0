// Routes into the FDB in batches: FastPathEvpnPort queues every install and
// removal of one turn of the event loop and writes them together (one
// trySetMany, one compare-and-delete), and the end state is the one the calls
// made one by one would have left. Over real loopback TCP: many UPDATEs in
// one socket write, announcements and withdrawals of the same MACs among them.
import { createServer, type Socket } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  Afi,
  type BgpMessage,
  buildEvpnUpdates,
  buildEvpnWithdrawals,
  decodeMessage,
  encodeMessage,
  ESI_ZERO,
  type EvpnRoute,
  type OpenMessage,
  readFrame,
  Safi,
  type UpdateMessage,
} from "../../src/control/evpn/bgp/index.ts";
import { constants } from "../../src/codegen/tables.ts";
import type { TableKey, TableValue } from "../../src/control/codec.ts";
import { FastPathEvpnPort } from "../../src/control/evpn/port.ts";
import { EvpnSpeaker } from "../../src/control/evpn/speaker.ts";
import type { Target } from "../../src/control/targets/target.ts";
import { bgpConfig, evpnPathAttrs, quietLog, waitFor } from "./evpn-helpers.ts";

type K = TableKey<"fdb">;
type V = TableValue<"fdb">;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** An FDB in a Map, counting the calls that write it. */
function fakeTarget(batched: boolean) {
  const fdb = new Map<string, [K, V]>();
  const id = (k: K) => `${k.vni}/${k.mac}`;
  const calls = { set: 0, trySetMany: 0, deleteManyIf: 0, delete: 0, get: 0 };
  const handle = {
    get: (k: K) => (calls.get++, fdb.get(id(k))?.[1]),
    set: (k: K, v: V) => (calls.set++, void fdb.set(id(k), [k, v])),
    delete: (k: K) => (calls.delete++, fdb.delete(id(k))),
    entries: () => [...fdb.values()],
    forEach: (f: (k: K, v: V) => void, where: Partial<V> = {}) =>
      fdb.forEach(([k, v]) => {
        if (Object.entries(where).every(([n, x]) => v[n as keyof V] === x)) f(k, v);
      }),
    setMany: (es: readonly (readonly [K, V])[]) => es.forEach(([k, v]) => fdb.set(id(k), [k, v])),
    deleteMany: (ks: readonly K[]) => ks.filter((k) => fdb.delete(id(k))).length,
    ...(batched
      ? {
          trySetMany(es: readonly (readonly [K, V])[]) {
            calls.trySetMany++;
            for (const [k, v] of es) fdb.set(id(k), [k, v]);
            return { failed: [] };
          },
          deleteManyIf(es: readonly (readonly [K, V])[], mask: V) {
            calls.deleteManyIf++;
            let n = 0;
            for (const [k, want] of es) {
              const cur = fdb.get(id(k))?.[1];
              if (!cur) continue;
              if ((cur.kind & mask.kind) !== (want.kind & mask.kind) || (cur.flags & mask.flags) !== (want.flags & mask.flags) || cur.remote !== want.remote) continue;
              fdb.delete(id(k));
              n++;
            }
            return n;
          },
        }
      : {}),
  };
  const target = { kind: "fake", adopted: false, table: (n: string) => (n === "fdb" ? handle : { entries: () => [] }) } as unknown as Target;
  return { target, fdb, calls, at: (mac: string) => fdb.get(`100/${mac}`)?.[1] };
}

class RawPeer {
  readonly msgs: BgpMessage[] = [];
  private buf = Buffer.alloc(0);
  constructor(readonly sock: Socket) {
    sock.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const f = readFrame(this.buf);
        if (f.status !== "frame") break;
        const m = decodeMessage(Buffer.from(f.message));
        if (m.ok) this.msgs.push(m.message);
        this.buf = this.buf.subarray(f.next);
      }
    });
    sock.on("error", () => {});
  }
  get open() {
    return this.msgs.find((m) => m.type === "open");
  }
}

const rd = { format: "ipv4" as const, ip: "10.0.0.2", value: 1 };
const mac = (i: number) => `02:00:00:00:0b:${i.toString(16).padStart(2, "0")}`;
const route = (i: number): EvpnRoute => ({ type: "mac-ip", rd, esi: ESI_ZERO, ethernetTag: 0, mac: mac(i), label1: 100 });
const attrs = evpnPathAttrs;
const announce = (nextHop: string, ids: number[], seq = 0) => buildEvpnUpdates({ nextHop, routes: ids.map(route), attributes: attrs(seq) });
const one = (nextHop: string, ids: number[], seq = 0) => ids.flatMap((i) => announce(nextHop, [i], seq));
const withdraw = (ids: number[]) => buildEvpnWithdrawals(ids.map(route));
const wire = (us: UpdateMessage[]) => Buffer.concat(us.map((u) => encodeMessage(u)));

async function fixture(batched: boolean) {
  const peers: RawPeer[] = [];
  const srv = createServer((s) => peers.push(new RawPeer(s)));
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  cleanups.push(() => {
    for (const p of peers) p.sock.destroy();
    srv.close();
  });
  const t = fakeTarget(batched);
  const port = new FastPathEvpnPort(t.target, { vnisChanged() {}, vtepSeen() {}, configStatic: (_v, m) => m === mac(99), fdbChanged() {}, portUp: () => true }, quietLog);
  const cfg = bgpConfig({ asn: 65000, routerId: "10.0.0.1", listen: { host: "127.0.0.1", port: 0 }, neighbors: [{ address: "127.0.0.1", remoteAsn: 65000, port: (srv.address() as { port: number }).port }] });
  const sp = new EvpnSpeaker(cfg, "192.0.2.1", [100], port, quietLog, { retryBaseMs: 50, retryMaxMs: 100 });
  cleanups.push(() => sp.stop());
  await sp.start();
  const p = await waitFor("connection", () => peers[0], 5000);
  await waitFor("our OPEN", () => p.open);
  const open: OpenMessage = {
    type: "open",
    version: 4,
    myAs: 65000,
    holdTime: 9,
    bgpId: "10.0.0.2",
    capabilities: [{ type: "multiprotocol", afi: Afi.L2VPN, safi: Safi.EVPN }, { type: "four-octet-as", asn: 65000 }],
  };
  p.sock.write(encodeMessage(open));
  p.sock.write(encodeMessage({ type: "keepalive" }));
  await waitFor("Established", () => sp.summary()[0]!.state === "Established");
  return { sp, port, p, ...t };
}

/** The speaker with two iBGP peers (two route reflectors), 127.0.0.2 (router id 10.0.0.2) and 127.0.0.3 (10.0.0.3). */
async function twoPeers() {
  const peers = new Map<string, RawPeer>();
  const ports: number[] = [];
  for (const host of ["127.0.0.2", "127.0.0.3"]) {
    const srv = createServer((s) => peers.set(host, new RawPeer(s)));
    await new Promise<void>((r) => srv.listen(0, host, r));
    ports.push((srv.address() as { port: number }).port);
    cleanups.push(() => {
      peers.get(host)?.sock.destroy();
      srv.close();
    });
  }
  const t = fakeTarget(true);
  const port = new FastPathEvpnPort(t.target, { vnisChanged() {}, vtepSeen() {}, configStatic: () => false, fdbChanged() {}, portUp: () => true }, quietLog);
  const cfg = bgpConfig({
    asn: 65000,
    routerId: "10.0.0.1",
    listen: { host: "127.0.0.1", port: 0 },
    neighbors: [
      { address: "127.0.0.2", remoteAsn: 65000, port: ports[0]! },
      { address: "127.0.0.3", remoteAsn: 65000, port: ports[1]! },
    ],
  });
  const sp = new EvpnSpeaker(cfg, "192.0.2.1", [100], port, quietLog, { retryBaseMs: 50, retryMaxMs: 100 });
  cleanups.push(() => sp.stop());
  await sp.start();
  for (const [host, id] of [["127.0.0.2", "10.0.0.2"], ["127.0.0.3", "10.0.0.3"]] as const) {
    const p = await waitFor(`connection to ${host}`, () => peers.get(host), 5000);
    await waitFor("our OPEN", () => p.open);
    p.sock.write(encodeMessage({ type: "open", version: 4, myAs: 65000, holdTime: 9, bgpId: id, capabilities: [{ type: "multiprotocol", afi: Afi.L2VPN, safi: Safi.EVPN }, { type: "four-octet-as", asn: 65000 }] }));
    p.sock.write(encodeMessage({ type: "keepalive" }));
  }
  await waitFor("Established", () => sp.summary().every((r) => r.state === "Established"));
  return { sp, a: peers.get("127.0.0.2")!, b: peers.get("127.0.0.3")!, ...t };
}

describe("is a local host still there (the mobility check)", () => {
  it("only behind a port with its link, as the link watcher saw it last, and only if it spoke lately (static: always)", () => {
    const t = fakeTarget(true);
    const up = new Set([3]);
    const port = new FastPathEvpnPort(t.target, { vnisChanged() {}, vtepSeen() {}, configStatic: () => false, fdbChanged() {}, portUp: (i) => up.has(i) }, quietLog);
    const local = (m: string, ifindex: number, flags: number, seen: bigint): void =>
      void t.fdb.set(`100/${m}`, [{ vni: 100, mac: m }, { kind: constants.FDB_LOCAL, flags, vlan: 0, ifindex, remote: "0.0.0.0", seen_ns: seen, event_ns: 0n }]);
    local(mac(1), 3, 0, process.hrtime.bigint());
    local(mac(2), 3, 0, 0n); // silent for ages
    local(mac(3), 3, constants.FDB_STATIC, 0n);
    local(mac(4), 4, 0, process.hrtime.bigint()); // its port has no link
    t.fdb.set(`100/${mac(5)}`, [{ vni: 100, mac: mac(5) }, { kind: constants.FDB_REMOTE, flags: 0, vlan: 0, ifindex: 0, remote: "10.0.0.2", seen_ns: process.hrtime.bigint(), event_ns: 0n }]);
    expect([1, 2, 3, 4, 5, 6].map((i) => port.localMacPresent(100, mac(i)))).toEqual([true, false, true, false, false, false]);
    up.delete(3); // the link goes: nobody behind it is there any more, static or not
    expect([1, 3].map((i) => port.localMacPresent(100, mac(i)))).toEqual([false, false]);
  });

  it("a host flushed from a port whose link went down: a route for it within a minute is its move from that port", () => {
    const t = fakeTarget(true);
    const port = new FastPathEvpnPort(t.target, { vnisChanged() {}, vtepSeen() {}, configStatic: () => false, fdbChanged() {}, portUp: () => false }, quietLog);
    const moves: unknown[] = [];
    port.onMove((_vni, m, from, to) => moves.push([m, from, to]));
    port.hostLeftPort(100, mac(1), 3);
    port.hostLeftPort(100, mac(2), 3);
    port.installRemoteMac(100, mac(1), "10.0.0.2", { seq: 1, sticky: false });
    port.installRemoteMac(100, mac(3), "10.0.0.2", { seq: 1, sticky: false }); // never here
    vi.useFakeTimers({ now: Date.now() + 61_000, toFake: ["Date"] });
    try {
      port.installRemoteMac(100, mac(2), "10.0.0.2", { seq: 1, sticky: false }); // too late to be that host's move
    } finally {
      vi.useRealTimers();
    }
    port.installRemoteMac(100, mac(1), "10.0.0.3", { seq: 2, sticky: false }, "10.0.0.2"); // and only once: now a move between VTEPs
    expect(moves).toEqual([
      [mac(1), { ifindex: 3 }, "10.0.0.2"],
      [mac(1), { vtep: "10.0.0.2" }, "10.0.0.3"],
    ]);
  });
});

describe("one route from two peers (two route reflectors)", () => {
  it("a restart adopts the EVPN entries as stale; routes confirm or move some, purgeStale removes the rest before it returns", () => {
    const t = fakeTarget(true);
    const entry = (kind: number, flags: number, remote: string, ifindex = 0): V => ({ kind, flags, vlan: 0, ifindex, remote, seen_ns: 0n, event_ns: 0n });
    for (const i of [1, 2, 3, 4]) t.fdb.set(`100/${mac(i)}`, [{ vni: 100, mac: mac(i) }, entry(constants.FDB_REMOTE, constants.FDB_CONTROL, "10.0.0.2")]);
    // not EVPN's: a local host, and a remote entry the data path learned
    t.fdb.set(`100/${mac(5)}`, [{ vni: 100, mac: mac(5) }, entry(constants.FDB_LOCAL, constants.FDB_CONTROL, "0.0.0.0", 3)]);
    t.fdb.set(`100/${mac(6)}`, [{ vni: 100, mac: mac(6) }, entry(constants.FDB_REMOTE, 0, "10.0.0.9")]);
    const port = new FastPathEvpnPort(t.target, { vnisChanged() {}, vtepSeen() {}, configStatic: () => false, fdbChanged() {}, portUp: () => true }, quietLog);
    expect(port.seedFromFastPath(new Map())).toEqual({ macs: 4, flood: 0 });
    expect(port.installedVtep(100, mac(3))).toBe("10.0.0.2");
    expect(port.installedVtep(100, mac(5))).toBeUndefined();
    port.installRemoteMac(100, mac(1), "10.0.0.2", { seq: 0, sticky: false });
    port.installRemoteMac(100, mac(2), "10.0.0.3", { seq: 1, sticky: false });
    port.flush();
    // no microtask run in between: the log line that follows purgeStale is true when written
    expect(port.purgeStale()).toEqual({ macs: 2, flood: 0 });
    expect([1, 2, 3, 4, 5, 6].map((i) => t.at(mac(i))?.remote)).toEqual(["10.0.0.2", "10.0.0.3", undefined, undefined, "0.0.0.0", "10.0.0.9"]);
    expect(port.installedVtep(100, mac(3))).toBeUndefined();
    expect(port.purgeStale()).toEqual({ macs: 0, flood: 0 });
  });

  it("the best path's withdrawal hands the MAC to the other path; the last withdrawal removes it", async () => {
    const f = await twoPeers();
    // the same routes through both; mac(3) with another next hop through b
    f.a.sock.write(wire(one("198.18.0.2", [1, 2, 3])));
    f.b.sock.write(wire([...one("198.18.0.2", [1, 2]), ...one("198.18.0.3", [3])]));
    await waitFor("both paths in", () => f.sp.ribStats().adjIn["127.0.0.2"] === 3 && f.sp.ribStats().adjIn["127.0.0.3"] === 3);
    await new Promise((r) => setTimeout(r, 20));
    // a (router id 10.0.0.2) is best for all three
    expect(f.at(mac(3))?.remote).toBe("198.18.0.2");
    // the best path withdrawn: the other path keeps the entry (mac 3: now to b's next hop)
    f.a.sock.write(wire(withdraw([1, 3])));
    await waitFor("mac 3 to b's next hop", () => f.at(mac(3))?.remote === "198.18.0.3");
    expect(f.at(mac(1))?.remote).toBe("198.18.0.2");
    // the path that is not best withdrawn: nothing changes
    f.b.sock.write(wire(withdraw([2])));
    await waitFor("b's mac 2 gone from its adj-RIB-in", () => f.sp.ribStats().adjIn["127.0.0.3"] === 2);
    expect(f.at(mac(2))?.remote).toBe("198.18.0.2");
    // the last path of each withdrawn: every entry and every MAC table row gone
    f.b.sock.write(wire(withdraw([1, 3])));
    f.a.sock.write(wire(withdraw([2])));
    await waitFor("all gone", () => f.fdb.size === 0);
    expect(f.sp.macTable()).toEqual([]);
    // announced again through b only: installed again (nothing left over claims it)
    f.b.sock.write(wire(one("198.18.0.3", [1])));
    await waitFor("mac 1 back", () => f.at(mac(1))?.remote === "198.18.0.3");
    expect(f.sp.macTable().map((r) => `${r.mac} ${r.vtep} ${r.claims}`)).toEqual([`${mac(1)} 198.18.0.3 1`]);
  });
});

describe.each([true, false])("routes into the FDB in batches (target with batch calls: %s)", (batched) => {
  it("installs and withdrawals of the same MACs in one read end in the state the UPDATEs leave, in one batch", async () => {
    const f = await fixture(batched);
    // a local host the data path knows; a route for it that loses (seq 0 vs our 0, our VTEP lower) would not be installed
    f.fdb.set("100/" + mac(7), [{ vni: 100, mac: mac(7) }, { kind: constants.FDB_LOCAL, flags: 0, vlan: 0, ifindex: 3, remote: "0.0.0.0", seen_ns: 0n, event_ns: 0n }]);
    const stream = wire([
      ...one("198.18.0.2", [1, 2, 3, 4, 5]), // five MACs, one UPDATE each
      ...withdraw([2]), // 2: announced and withdrawn
      ...one("198.18.0.3", [3], 1), // 3: moves to another VTEP (higher sequence)
      ...withdraw([4]),
      ...one("198.18.0.2", [4]), // 4: withdrawn and announced again
      ...announce("198.18.0.2", [10, 11, 12]), // three in one UPDATE
      ...withdraw([11, 5]),
      ...one("198.18.0.2", [99]), // a static MAC here: never installed
    ]);
    const before = { ...f.calls };
    f.p.sock.write(stream);
    await waitFor("all routes in", () => f.sp.ribStats().adjIn["127.0.0.1"] === 6 && f.at(mac(12)));
    await new Promise((r) => setTimeout(r, 50));
    expect(f.at(mac(1))?.remote).toBe("198.18.0.2");
    expect(f.at(mac(2))).toBeUndefined();
    expect(f.at(mac(3))?.remote).toBe("198.18.0.3");
    expect(f.at(mac(4))?.remote).toBe("198.18.0.2");
    expect(f.at(mac(5))).toBeUndefined();
    expect(f.at(mac(10))?.remote).toBe("198.18.0.2");
    expect(f.at(mac(11))).toBeUndefined();
    expect(f.at(mac(12))?.remote).toBe("198.18.0.2");
    expect(f.at(mac(99))).toBeUndefined();
    for (const m of [1, 3, 4, 10, 12]) expect(f.at(mac(m))).toMatchObject({ kind: constants.FDB_REMOTE, flags: constants.FDB_CONTROL });
    expect(f.port.installedVtep(100, mac(3))).toBe("198.18.0.3");
    expect(f.port.installedVtep(100, mac(2))).toBeUndefined();
    expect(f.sp.macTable().map((r) => `${r.mac} ${r.vtep} ${r.seq}`)).toEqual([
      `${mac(1)} 198.18.0.2 0`,
      `${mac(3)} 198.18.0.3 1`,
      `${mac(4)} 198.18.0.2 0`,
      `${mac(10)} 198.18.0.2 0`,
      `${mac(12)} 198.18.0.2 0`,
      // mac(99): its route is refused (static here), so the table lists no remote entry for it
    ]);
    if (batched) {
      // one socket read may split the stream; never one write per route
      expect(f.calls.trySetMany - before.trySetMany).toBeLessThanOrEqual(3);
      expect(f.calls.set - before.set).toBe(0);
    }
  });

  it("loop checks per attribute set: every route of a looping set rejected, the good set's routes in between installed", async () => {
    const f = await fixture(batched);
    const looped = (ids: number[]) =>
      ids.flatMap((i) => buildEvpnUpdates({ nextHop: "198.18.0.2", routes: [route(i)], attributes: [...attrs(), { type: "originator-id", id: "10.0.0.1" }] }));
    f.p.sock.write(wire([...looped([1, 2]), ...one("198.18.0.2", [3, 4]), ...looped([5, 6, 7]), ...one("198.18.0.2", [8])]));
    await waitFor("good routes in", () => f.at(mac(8)));
    await new Promise((r) => setTimeout(r, 50));
    expect(f.sp.counters.rejected).toBe(5);
    for (const m of [3, 4, 8]) expect(f.at(mac(m))?.remote).toBe("198.18.0.2");
    for (const m of [1, 2, 5, 6, 7]) expect(f.at(mac(m))).toBeUndefined();
    expect(f.sp.ribStats().adjIn["127.0.0.1"]).toBe(3);
  });

  it("a removal keeps an entry that is no longer ours (the host showed up locally), and session loss empties the rest", async () => {
    const f = await fixture(batched);
    f.p.sock.write(wire(one("198.18.0.2", [1, 2, 3])));
    await waitFor("installed", () => f.at(mac(3)));
    // the data path moved MAC 2 to a local port meanwhile
    f.fdb.set("100/" + mac(2), [{ vni: 100, mac: mac(2) }, { kind: constants.FDB_LOCAL, flags: 0, vlan: 0, ifindex: 3, remote: "0.0.0.0", seen_ns: 0n, event_ns: 0n }]);
    f.p.sock.write(wire(withdraw([1, 2])));
    await waitFor("1 gone", () => !f.at(mac(1)));
    await new Promise((r) => setTimeout(r, 20));
    expect(f.at(mac(2))?.kind).toBe(constants.FDB_LOCAL);
    expect(f.at(mac(3))?.remote).toBe("198.18.0.2");
    // session loss: every remaining route's entry goes
    f.p.sock.destroy();
    await waitFor("flushed", () => !f.at(mac(3)));
    expect(f.at(mac(2))?.kind).toBe(constants.FDB_LOCAL);
    expect([...f.fdb.keys()]).toEqual([`100/${mac(2)}`]);
  });

  it("an UPDATE treated as withdrawn (RFC 7606) removes what the fast path installed from the same attributes", async () => {
    const f = await fixture(batched);
    f.p.sock.write(wire(one("198.18.0.2", [1, 2])));
    await waitFor("installed", () => f.at(mac(2)));
    // the same route again, ORIGIN malformed (value 7): treat-as-withdraw
    const bad = encodeMessage(one("198.18.0.2", [1])[0]!);
    const at = bad.indexOf(Buffer.from([0x40, 0x01, 0x01, 0x00]));
    bad[at + 3] = 7;
    f.p.sock.write(bad);
    await waitFor("1 withdrawn", () => !f.at(mac(1)));
    expect(f.sp.counters.treatAsWithdraw).toBe(1);
    expect(f.at(mac(2))?.remote).toBe("198.18.0.2");
    expect(f.sp.summary()[0]!.state).toBe("Established");
  });
});
