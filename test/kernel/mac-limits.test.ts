// Learned-MAC limits: one host (or one flood-and-learn peer) cannot fill the
// tables. A new source MAC beyond its port's or its VNI's max_macs is not
// learned and its frames are dropped and counted (port security's
// "restrict"); MACs already learned keep forwarding.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootSwitch, REMOTE_A, type SwitchUnderTest } from "./switch-fixture.ts";

let sw: SwitchUnderTest;

beforeAll(async () => {
  sw = await bootSwitch(
    "limits",
    `ports:\n  - { name: h1, vni: 100, max_macs: 10 }\n  - { name: h2, vni: 100 }\nvnis:\n  - vni: 100\n    max_macs: 15\n    ageing: 0\n    flood: [${REMOTE_A}]\n`,
    [
      { name: "p1", port: "h1", mac: "02:00:00:00:f1:01", cidr: "198.51.100.1/24" },
      { name: "p2", port: "h2", mac: "02:00:00:00:f1:02", cidr: "198.51.100.2/24" },
    ],
  );
});

afterAll(async () => {
  await sw?.dispose();
});

/** n broadcasts from distinct source MACs 02:f5:<tag>:00:00:k (an ethertype nobody answers) */
function burst(tag: number, n: number): Buffer[] {
  return Array.from({ length: n }, (_, k) => {
    const f = Buffer.alloc(60);
    Buffer.from("ffffffffffff", "hex").copy(f, 0);
    Buffer.from([0x02, 0xf5, tag, 0, 0, k]).copy(f, 6);
    f.writeUInt16BE(0x88b5, 12);
    return f;
  });
}

const learned = async (tag: number) => (await sw.api<{ mac: string }[]>("fdb")).filter((r) => r.mac.startsWith(`02:f5:0${tag}:`)).length;

describe("learned-MAC limits", () => {
  it("a port holds at most its max_macs; frames from further new sources are dropped and counted", async () => {
    const before = await sw.counters();
    const atP2 = await sw.captureHost("p2", "ether proto 0x88b5");
    await sw.sendFromHost("p1", burst(1, 30));
    await new Promise((r) => setTimeout(r, 500));
    const got = (await atP2.stop()).length;
    const after = await sw.counters();
    expect(await learned(1)).toBe(10);
    expect(after.drop_mac_limit! - before.drop_mac_limit!).toBe(20n);
    expect(got).toBe(10); // only the learned sources' frames were flooded
  });

  it("a VNI holds at most its max_macs across its ports; known MACs keep forwarding", async () => {
    const before = await sw.counters();
    await sw.sendFromHost("p2", burst(2, 10));
    await new Promise((r) => setTimeout(r, 500));
    const after = await sw.counters();
    expect(await learned(2)).toBe(5); // 10 on h1 + 5 here = the VNI's 15
    expect(after.drop_mac_limit! - before.drop_mac_limit!).toBe(5n);
    // a source learned before the limit was reached still gets through
    const again = burst(1, 1);
    const atP2 = await sw.captureHost("p2", "ether proto 0x88b5");
    await sw.sendFromHost("p1", again);
    await atP2.waitFor(1, 5000);
    expect((await atP2.stop()).length).toBe(1);
  });
});
