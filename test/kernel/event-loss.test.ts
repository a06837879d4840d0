// A burst of new MACs larger than the learning-event ring: the data path
// learns every MAC but cannot tell the control plane of all of them
// (err_event_ring_full). The control plane notices the loss and resyncs from
// the forwarding table, so no MAC stays unknown to it (and so to EVPN).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootSwitch, type SwitchUnderTest } from "./switch-fixture.ts";

const BURST = 5000;

let sw: SwitchUnderTest;

beforeAll(async () => {
  // 16 KiB: about 500 events, a tenth of the burst
  sw = await bootSwitch("evloss", `ports:\n  - { name: h1, vni: 100 }\nvnis:\n  - { vni: 100, ageing: 0 }\ntables: { event_ring: 16384 }\n`, [
    { name: "p1", port: "h1", mac: "02:00:00:00:e1:01", cidr: "198.51.100.1/24" },
  ]);
});

afterAll(async () => {
  await sw?.dispose();
});

function burst(n: number): Buffer[] {
  const frames: Buffer[] = [];
  for (let k = 0; k < n; k++) {
    const f = Buffer.alloc(60);
    Buffer.from("ffffffffffff", "hex").copy(f, 0);
    Buffer.from([0x02, 0xe5, 0, (k >> 16) & 0xff, (k >> 8) & 0xff, k & 0xff]).copy(f, 6);
    f.writeUInt16BE(0x88b5, 12); // local experimental ethertype: nobody answers
    frames.push(f);
  }
  return frames;
}

interface Status {
  learnEvents: number;
  resyncs: { sweeps: number; recovered: number; lastMs: number };
}

describe("learning events lost to a full ring", () => {
  it("are made good from the forwarding table: the control plane hears of every learned MAC", async () => {
    const before = await sw.api<Status>("status");
    await sw.sendFromHost("p1", burst(BURST));
    const sent = performance.now();
    const c = await sw.counters();
    expect(c.learn_new).toBeGreaterThanOrEqual(BigInt(BURST));
    // the ring really overflowed
    expect(c.err_event_ring_full).toBeGreaterThan(0n);
    let st = before;
    for (let i = 0; i < 100; i++) {
      st = await sw.api<Status>("status");
      if (st.learnEvents - before.learnEvents + st.resyncs.recovered - before.resyncs.recovered >= BURST) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const heard = st.learnEvents - before.learnEvents;
    const recovered = st.resyncs.recovered - before.resyncs.recovered;
    console.log(`event loss: ${heard} events heard, ${recovered} MACs recovered by ${st.resyncs.sweeps} sweep(s) (last ${st.resyncs.lastMs.toFixed(1)} ms), all known ${(performance.now() - sent).toFixed(0)} ms after the burst`);
    expect(recovered).toBeGreaterThan(0);
    expect(heard + recovered).toBeGreaterThanOrEqual(BURST);
    const fdb = await sw.api<{ mac: string }[]>("fdb");
    expect(fdb.filter((r) => r.mac.startsWith("02:e5:")).length).toBe(BURST);
  });
});
