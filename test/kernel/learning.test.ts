// Data-path learning and the runtime around it, observed through the
// management API (/v1/fdb, /v1/moves, /v1/counters) and through where frames
// are then forwarded: local and remote learning, MAC moves (local -> local,
// local -> remote), static entries that frames cannot overwrite, ageing, and
// per-VNI independence of the FDB.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arpRequest, type Capture, type DecodedPacket, sleep, udpFrame, vxlanEncap } from "../harness/index.ts";
import { bootSwitch, REMOTE_A, REMOTE_B, VTEP, vxlanOnly, type SwitchUnderTest } from "./switch-fixture.ts";
import type { FdbRow } from "../../src/control/runtime.ts";

const S_LOCAL = "02:00:00:00:5a:01"; // static on h1 (VNI 100)
const S_REMOTE = "02:00:00:00:5a:02"; // static behind REMOTE_A (VNI 100)
const S_AGE = "02:00:00:00:5a:03"; // static on h4 (VNI 300, ageing 2 s)
const NOBODY_IP = "198.51.100.250";
const UNKNOWN_DST = "02:00:00:00:ee:ee";

let sw: SwitchUnderTest;

beforeAll(async () => {
  sw = await bootSwitch(
    "learn",
    `ports:
  - { name: h1, vni: 100 }
  - { name: h2, vni: 100 }
  - { name: h3, vni: 200 }
  - { name: h4, vni: 300 }
vnis:
  - vni: 100
    flood: [${REMOTE_A}, ${REMOTE_B}]
    static_macs:
      - { mac: "${S_LOCAL}", port: h1 }
      - { mac: "${S_REMOTE}", remote: ${REMOTE_A} }
  - vni: 200
    flood: [${REMOTE_A}]
  - vni: 300
    ageing: 2
    flood: [${REMOTE_B}]
    static_macs:
      - { mac: "${S_AGE}", port: h4 }
`,
    [
      { name: "p1", port: "h1", mac: "02:00:00:00:04:01", cidr: "198.51.100.1/24" },
      { name: "p2", port: "h2", mac: "02:00:00:00:04:02", cidr: "198.51.100.2/24" },
      { name: "p3", port: "h3", mac: "02:00:00:00:04:03", cidr: "203.0.113.3/24" },
      { name: "p4", port: "h4", mac: "02:00:00:00:04:04", cidr: "203.0.113.44/24" },
    ],
  );
});

afterAll(async () => {
  await sw?.dispose();
});

interface MoveRow {
  vni: number;
  mac: string;
  from?: string;
  to: string;
  cause: "data-path" | "evpn";
  at: string;
}

const fdb = () => sw.api<FdbRow[]>("fdb");
const row = async (vni: number, mac: string) => (await fdb()).find((r) => r.vni === vni && r.mac === mac);
const moves = () => sw.api<MoveRow[]>("moves");
const delta = (before: Record<string, bigint>, after: Record<string, bigint>, name: string) => after[name]! - before[name]!;

/** A unicast frame from `src` to `dst` (addresses nobody owns, so no host answers it). */
const frame = (src: string, dst = UNKNOWN_DST, text = "x") =>
  udpFrame({ dstMac: dst, srcMac: src, srcIp: "198.51.100.99", dstIp: NOBODY_IP, srcPort: 7, dstPort: 9, payload: Buffer.from(text) });

const fromVtep = (inner: Buffer, vni: number, src: string) =>
  vxlanEncap({ outer: { dstMac: sw.uplinkMac, srcMac: sw.spineMac, srcIp: src, dstIp: VTEP }, vni, inner });

/**
 * The data path reports a MAC at most once per LEARN_REFRESH_NS (1 s): wait,
 * bounded, until the entry's last event is older than that so a move is reported.
 */
async function waitPastEventRateLimit(vni: number, mac: string): Promise<void> {
  await expect.poll(async () => (await row(vni, mac))?.ageSeconds ?? 0, { timeout: 5000, interval: 100 }).toBeGreaterThan(1.1);
}

/** Sends `frames` from host and captures (inbound, frames to `dstMac` only) on `hosts` and the spine's VXLAN. */
async function sendAndCapture(
  send: () => Promise<unknown>,
  dstMac: string,
  hosts: string[],
  want: Record<string, number>,
): Promise<Record<string, DecodedPacket[]>> {
  const caps: Record<string, Capture> = {};
  await Promise.all(hosts.map(async (h) => (caps[h] = await sw.captureHost(h, `ether dst ${dstMac}`))));
  caps.spine = await sw.captureSpine("udp port 4789");
  await send();
  await Promise.all(Object.entries(want).map(([k, n]) => caps[k]!.waitFor(n, 5000)));
  await sleep(300); // room for copies that should not exist
  const out: Record<string, DecodedPacket[]> = {};
  for (const [k, c] of Object.entries(caps)) out[k] = await c.stop();
  out.spine = vxlanOnly(out.spine!);
  return out;
}

describe("local learning", () => {
  it("learns a source MAC on its access port, and then forwards to it as known unicast", async () => {
    const m = "02:00:00:00:d0:01";
    expect(await row(100, m)).toBeUndefined();
    const before = await sw.counters();
    const statusBefore = await sw.api<{ learnEvents: number }>("status");
    await sw.sendFromHost("p1", [frame(m)]);
    await expect.poll(() => row(100, m)).toMatchObject({ type: "local", port: "h1", vlan: 0, static: false });
    const after = await sw.counters();
    expect(delta(before, after, "learn_new")).toBe(1n);
    // the runtime got the data path's learning event
    await expect.poll(async () => (await sw.api<{ learnEvents: number }>("status")).learnEvents).toBe(statusBefore.learnEvents + 1);

    const got = await sendAndCapture(() => sw.sendFromHost("p2", [frame("02:00:00:00:d0:02", m, "to m")]), m, ["p1", "p3", "p4"], { p1: 1 });
    expect(got.p1).toHaveLength(1);
    expect(got.p3).toHaveLength(0);
    expect(got.spine).toHaveLength(0); // known unicast: not flooded to the VTEPs
  });
});

describe("remote learning (flood-and-learn)", () => {
  it("learns an inner source MAC against the outer source IP, and encapsulates replies to that VTEP only", async () => {
    const r = "02:00:00:00:d1:01";
    await sw.sendFromSpine([fromVtep(arpRequest({ srcMac: r, srcIp: "198.51.100.201", targetIp: NOBODY_IP }), 100, REMOTE_B)]);
    await expect.poll(() => row(100, r)).toMatchObject({ type: "remote", remote: REMOTE_B, static: false });

    const before = await sw.counters();
    const got = await sendAndCapture(() => sw.sendFromHost("p1", [frame("02:00:00:00:d1:02", r, "reply")]), r, ["p2"], { spine: 1 });
    expect(got.spine).toHaveLength(1);
    expect(got.spine[0]!.ip!.dst).toBe(REMOTE_B);
    expect(got.spine[0]!.vxlan!.vni).toBe(100);
    expect(got.p2).toHaveLength(0);
    expect(delta(before, await sw.counters(), "encap_fwd")).toBe(1n);
  });
});

describe("MAC moves", () => {
  it("follows a MAC from one local port to another: fdb, /v1/moves, learn_move, forwarding", async () => {
    const m = "02:00:00:00:d2:01";
    await sw.sendFromHost("p1", [frame(m)]);
    await expect.poll(() => row(100, m)).toMatchObject({ type: "local", port: "h1" });
    await waitPastEventRateLimit(100, m);

    const before = await sw.counters();
    await sw.sendFromHost("p2", [frame(m)]);
    await expect.poll(() => row(100, m)).toMatchObject({ type: "local", port: "h2", static: false });
    expect(delta(before, await sw.counters(), "learn_move")).toBe(1n);
    await expect.poll(moves).toContainEqual(expect.objectContaining({ vni: 100, mac: m, from: "h1", to: "h2", cause: "data-path" }));

    const got = await sendAndCapture(() => sw.sendFromHost("p1", [frame("02:00:00:00:d2:02", m, "after move")]), m, ["p1", "p2"], { p2: 1 });
    expect(got.p2).toHaveLength(1);
    expect(got.p1).toHaveLength(0);
    expect(got.spine).toHaveLength(0);
  });

  it("follows a MAC from a local port to a remote VTEP", async () => {
    const m = "02:00:00:00:d3:01";
    await sw.sendFromHost("p1", [frame(m)]);
    await expect.poll(() => row(100, m)).toMatchObject({ type: "local", port: "h1" });
    await waitPastEventRateLimit(100, m);

    const before = await sw.counters();
    await sw.sendFromSpine([fromVtep(arpRequest({ srcMac: m, srcIp: "198.51.100.203", targetIp: NOBODY_IP }), 100, REMOTE_A)]);
    await expect.poll(() => row(100, m)).toMatchObject({ type: "remote", remote: REMOTE_A });
    expect(delta(before, await sw.counters(), "learn_move")).toBe(1n);
    await expect.poll(moves).toContainEqual(expect.objectContaining({ vni: 100, mac: m, from: "h1", to: REMOTE_A, cause: "data-path" }));

    const got = await sendAndCapture(() => sw.sendFromHost("p2", [frame("02:00:00:00:d3:02", m, "to moved")]), m, ["p1"], { spine: 1 });
    expect(got.spine).toHaveLength(1);
    expect(got.spine[0]!.ip!.dst).toBe(REMOTE_A);
    expect(got.p1).toHaveLength(0);
  });
});

describe("MAC moves soon after learning", () => {
  // The per-MAC event rate limit (LEARN_REFRESH_NS) defers a MOVE event that
  // follows the LEARN too closely; it goes out with the first frame from the
  // new place after the interval, so the control plane always hears of it.
  it("reports a move that follows the learn within a second, at least once traffic continues", async () => {
    const m = "02:00:00:00:d7:01";
    const before = await sw.counters();
    await sw.sendFromHost("p1", [frame(m)]);
    await sw.sendFromHost("p2", [frame(m)]); // well within 1 s of the learn
    await expect.poll(() => row(100, m)).toMatchObject({ type: "local", port: "h2" });
    expect(delta(before, await sw.counters(), "learn_move")).toBe(1n);
    // keep the MAC talking from its new place for > LEARN_REFRESH_NS (bounded)
    for (let i = 0; i < 6; i++) {
      await sw.sendFromHost("p2", [frame(m)]);
      await sleep(400);
    }
    expect((await moves()).some((r) => r.vni === 100 && r.mac === m && r.to === "h2")).toBe(true);
  });
});

describe("static entries", () => {
  it("are never overwritten by frames from elsewhere (drop_static_conflict), and keep attracting traffic", async () => {
    const before = await sw.counters();
    const movesBefore = (await moves()).length;
    await sw.sendFromHost("p2", [frame(S_LOCAL)]); // local static seen on another port
    await sw.sendFromSpine([fromVtep(frame(S_LOCAL), 100, REMOTE_B)]); // ... and from the overlay
    await sw.sendFromHost("p1", [frame(S_REMOTE)]); // remote static seen locally
    await sw.sendFromSpine([fromVtep(frame(S_REMOTE), 100, REMOTE_B)]); // ... and behind another VTEP
    await expect.poll(async () => delta(before, await sw.counters(), "drop_static_conflict")).toBe(4n);
    const after = await sw.counters();
    expect(delta(before, after, "learn_move")).toBe(0n);
    expect(delta(before, after, "learn_new")).toBe(0n);
    expect(await row(100, S_LOCAL)).toMatchObject({ type: "local", port: "h1", static: true });
    expect(await row(100, S_REMOTE)).toMatchObject({ type: "remote", remote: REMOTE_A, static: true });
    expect((await moves()).length).toBe(movesBefore);

    const got = await sendAndCapture(() => sw.sendFromHost("p2", [frame("02:00:00:00:d4:01", S_LOCAL, "to static")]), S_LOCAL, ["p1", "p2"], { p1: 1 });
    expect(got.p1).toHaveLength(1);
    expect(got.p2).toHaveLength(0);
    expect(got.spine).toHaveLength(0);
    const got2 = await sendAndCapture(() => sw.sendFromHost("p2", [frame("02:00:00:00:d4:01", S_REMOTE, "to static remote")]), S_REMOTE, ["p1"], { spine: 1 });
    expect(got2.spine.map((p) => p.ip!.dst)).toEqual([REMOTE_A]);
  });
});

describe("ageing (VNI 300, ageing: 2)", () => {
  it("removes an idle learned entry after 2 s, keeps one refreshed by traffic and the static one", async () => {
    const idle = "02:00:00:00:d5:01";
    const busy = "02:00:00:00:d5:02";
    const agedBefore = (await sw.api<{ aged: number }>("status")).aged;
    const t0 = Date.now();
    await sw.sendFromHost("p4", [frame(idle), frame(busy)]);
    await expect.poll(() => row(300, idle)).toMatchObject({ type: "local", port: "h4" });
    expect(await row(300, busy)).toMatchObject({ type: "local", port: "h4" });

    // keep `busy` talking every 300 ms (bounded) while `idle` stays silent
    let stop = false;
    const talker = (async () => {
      for (let i = 0; i < 40 && !stop; i++) {
        await sw.sendFromHost("p4", [frame(busy)]);
        await sleep(300);
      }
    })();
    try {
      await expect.poll(() => row(300, idle), { timeout: 7000, interval: 100 }).toBeUndefined();
      const gone = (Date.now() - t0) / 1000;
      expect(gone).toBeGreaterThanOrEqual(1.9);
      expect(gone).toBeLessThanOrEqual(5);
      // a further ageing period later the refreshed entry and the static one are still there
      await sleep(2500);
      expect(await row(300, busy)).toMatchObject({ type: "local", port: "h4", static: false });
      expect((await row(300, busy))!.ageSeconds!).toBeLessThan(2);
      expect(await row(300, S_AGE)).toMatchObject({ type: "local", port: "h4", static: true });
    } finally {
      stop = true;
      await talker;
    }
    // once it falls silent, the refreshed entry ages out as well; the static one never does
    const t1 = Date.now();
    await expect.poll(() => row(300, busy), { timeout: 7000, interval: 100 }).toBeUndefined();
    expect((Date.now() - t1) / 1000).toBeLessThanOrEqual(5);
    expect(await row(300, S_AGE)).toMatchObject({ static: true });
    expect((await sw.api<{ aged: number }>("status")).aged - agedBefore).toBeGreaterThanOrEqual(2);
  });

  it("does not age entries of VNIs with the default ageing time", async () => {
    const m = "02:00:00:00:d5:10";
    await sw.sendFromHost("p1", [frame(m)]);
    await expect.poll(() => row(100, m)).toBeDefined();
    await expect.poll(async () => (await row(100, m))?.ageSeconds ?? 0, { timeout: 8000, interval: 200 }).toBeGreaterThan(3);
    expect(await row(100, m)).toMatchObject({ port: "h1" });
  });
});

describe("per-VNI FDB", () => {
  it("keeps the same MAC learned in two VNIs as two independent entries", async () => {
    const d = "02:00:00:00:d6:01";
    const before = await sw.counters();
    await sw.sendFromHost("p1", [frame(d)]);
    await sw.sendFromHost("p3", [frame(d)]);
    await expect.poll(async () => (await fdb()).filter((r) => r.mac === d).map((r) => [r.vni, r.port])).toEqual([
      [100, "h1"],
      [200, "h3"],
    ]);
    let after = await sw.counters();
    expect(delta(before, after, "learn_new")).toBe(2n);
    expect(delta(before, after, "learn_move")).toBe(0n);

    // forwarding in each VNI uses its own entry
    const in100 = await sendAndCapture(() => sw.sendFromHost("p2", [frame("02:00:00:00:d6:02", d, "vni 100")]), d, ["p1", "p3"], { p1: 1 });
    expect(in100.p1).toHaveLength(1);
    expect(in100.p3).toHaveLength(0);
    const in200 = await sendAndCapture(() => sw.sendFromSpine([fromVtep(frame("02:00:00:00:d6:03", d, "vni 200"), 200, REMOTE_A)]), d, ["p1", "p3"], { p3: 1 });
    expect(in200.p3).toHaveLength(1);
    expect(in200.p1).toHaveLength(0);

    // moving it in VNI 200 leaves VNI 100's entry alone
    await sw.sendFromSpine([fromVtep(frame(d), 200, REMOTE_A)]);
    await expect.poll(() => row(200, d)).toMatchObject({ type: "remote", remote: REMOTE_A });
    expect(await row(100, d)).toMatchObject({ type: "local", port: "h1" });
    after = await sw.counters();
    expect(delta(before, after, "learn_move")).toBe(1n);
  });
});
