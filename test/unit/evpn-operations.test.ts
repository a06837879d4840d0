// What an operator changes in EVPN at run time: `vxgate bgp reset NEIGHBOR`
// (hard: the session ends with Cease / Administrative Reset and comes back;
// soft: our table goes out again, the session stays up) over real loopback
// TCP, and `vxgate evpn clear-duplicate`, which lifts the freeze in the
// speaker and the FDB_FROZEN flag the data path obeys.
import { afterEach, describe, expect, it, vi } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { constants } from "../../src/codegen/tables.ts";
import type { TableKey, TableValue } from "../../src/control/codec.ts";
import { EvpnFeature } from "../../src/control/evpn/feature.ts";
import type { EvpnSpeaker } from "../../src/control/evpn/speaker.ts";
import type { Target } from "../../src/control/targets/target.ts";
import { basePort, bgpConfig, quietLog, speaker, waitFor } from "./evpn-helpers.ts";

const M = "02:00:00:00:00:aa";
const running: EvpnSpeaker[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

async function pair() {
  const port = basePort();
  const a = speaker(bgpConfig({ asn: 65000, routerId: "10.0.0.1", listen: { host: "127.0.0.1", port }, neighbors: [{ address: "127.0.0.2", remoteAsn: 65000, port }] }), "192.0.2.1", [100]);
  const b = speaker(bgpConfig({ asn: 65000, routerId: "10.0.0.2", listen: { host: "127.0.0.2", port }, neighbors: [{ address: "127.0.0.1", remoteAsn: 65000, port }] }), "192.0.2.2", [100]);
  running.push(a.s, b.s);
  await Promise.all([a.s.start(), b.s.start()]);
  await waitFor("Established", () => a.s.summary()[0]!.state === "Established" && b.s.summary()[0]!.state === "Established");
  a.s.localMacLearned(100, M);
  await waitFor("MAC at b", () => b.port.remote.has(`100/${M}`));
  return { a, b };
}

describe("bgp reset", () => {
  it("hard: ends the session with Cease / Administrative Reset, the peer drops our routes, and it comes back", async () => {
    const { a, b } = await pair();
    expect(a.s.resetNeighbor("127.0.0.2")).toBe(true);
    // both sides advertise the graceful-restart N bit: the reset goes out wrapped in a Hard Reset (RFC 8538 §3), so b keeps nothing
    expect(a.s.summary()[0]!.lastError).toBe("sent NOTIFICATION Cease / Hard Reset: administrative reset (hard reset)");
    await waitFor("b saw it go down", () => b.s.summary()[0]!.flaps === 1);
    expect(b.port.calls).toContain(`remove 100 ${M} 192.0.2.1`);
    await waitFor("re-established", () => a.s.summary()[0]!.state === "Established" && b.s.summary()[0]!.state === "Established", 15_000);
    await waitFor("MAC back at b", () => b.port.remote.has(`100/${M}`));
    expect(a.s.summary()[0]!.flaps).toBe(1);
  });

  it("soft: sends our whole table again (then End-of-RIB) and keeps the session", async () => {
    const { a, b } = await pair();
    const before = a.s.summary()[0]!;
    const bIn = b.s.session("127.0.0.1")!.stats.updatesIn;
    b.port.calls.length = 0;
    expect(a.s.resetNeighbor("127.0.0.2", { soft: true })).toBe(true);
    // type-3 + type-2 in one UPDATE each at least, then End-of-RIB
    await waitFor("updates at b", () => b.s.session("127.0.0.1")!.stats.updatesIn >= bIn + 3);
    const after = a.s.summary()[0]!;
    expect(after.state).toBe("Established");
    expect(after.flaps).toBe(before.flaps);
    expect(after.pfxSent).toBe(before.pfxSent);
    expect(after.msgSent).toBeGreaterThanOrEqual(before.msgSent + 3);
    // the same routes: nothing removed at b
    expect(b.port.calls.filter((c) => c.startsWith("remove"))).toEqual([]);
    expect(b.port.remote.has(`100/${M}`)).toBe(true);
  });

  it("refuses an unknown neighbor, and a soft reset of a session that is not Established", async () => {
    const port = basePort();
    const lone = speaker(bgpConfig({ asn: 65000, routerId: "10.0.0.1", listen: { host: "127.0.0.1", port }, neighbors: [{ address: "127.0.0.9", remoteAsn: 65000, port }] }), "192.0.2.1", [100]);
    running.push(lone.s);
    await lone.s.start();
    expect(lone.s.resetNeighbor("127.0.0.3")).toBe(false);
    expect(() => lone.s.resetNeighbor("127.0.0.9", { soft: true })).toThrow(/the session to 127\.0\.0\.9 is (Connect|Active|Idle), not Established: nothing to re-send/);
  });
});

describe("evpn clear-duplicate", () => {
  type FdbKey = TableKey<"fdb">;
  type FdbValue = TableValue<"fdb">;

  function feature() {
    const cfg = parseConfig(readFileSync(join(import.meta.dirname, "../fixtures/config/full.yaml"), "utf8"), "full.yaml");
    const fdb = new Map<string, [FdbKey, FdbValue]>();
    const k = (key: FdbKey) => `${key.vni}/${key.mac}`;
    const handles: Record<string, unknown> = {
      fdb: { get: (key: FdbKey) => fdb.get(k(key))?.[1], set: (key: FdbKey, v: FdbValue) => void fdb.set(k(key), [key, v]), delete: (key: FdbKey) => fdb.delete(k(key)),
        entries: () => [...fdb.values()],
        forEach: (f: (k: FdbKey, v: FdbValue) => void, where: Partial<FdbValue> = {}) => {
          for (const [key, v] of fdb.values()) if (Object.entries(where).every(([n, x]) => v[n as keyof FdbValue] === x)) f(key, v);
        },
      },
      flood: { entries: () => [] },
    };
    const target = { kind: "fake", adopted: false, table: (n: string) => handles[n] } as unknown as Target;
    const f = new EvpnFeature(cfg, target, quietLog, { vnisChanged() {}, vtepSeen() {}, fdbChanged() {}, portUp: () => true });
    return { f, fdb: handles.fdb as { get(k: FdbKey): FdbValue | undefined; set(k: FdbKey, v: FdbValue): void } };
  }

  it("lifts FDB_FROZEN (the data path moves the MAC again) and the speaker's freeze, and answers the reports", () => {
    const { f, fdb } = feature();
    fdb.set({ vni: 100, mac: M }, { kind: constants.FDB_LOCAL, flags: constants.FDB_STATIC, vlan: 0, ifindex: 7, remote: "0.0.0.0", seen_ns: 5n, event_ns: 0n });
    f.port.reportDuplicate(100, M, "frozen: 5 moves in 180 s");
    f.port.reportDuplicate(100, "02:00:00:00:00:bb", "another one");
    expect(fdb.get({ vni: 100, mac: M })!.flags).toBe(constants.FDB_STATIC | constants.FDB_FROZEN);
    const spy = vi.spyOn(f.speaker, "clearDuplicate").mockReturnValue(true);
    expect(f.clearDuplicate(100, M)).toEqual({ speaker: true, fdb: true });
    expect(spy).toHaveBeenCalledWith(100, M);
    expect(fdb.get({ vni: 100, mac: M })).toEqual({ kind: constants.FDB_LOCAL, flags: constants.FDB_STATIC, vlan: 0, ifindex: 7, remote: "0.0.0.0", seen_ns: 5n, event_ns: 0n });
    expect(f.port.duplicates.map((d) => d.mac)).toEqual(["02:00:00:00:00:bb"]);
    spy.mockRestore();
    // nothing frozen any more
    expect(f.clearDuplicate(100, M)).toEqual({ speaker: false, fdb: false });
  });
});
