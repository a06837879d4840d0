// A port whose link is down takes no flood copies (each would fail as
// err_clone): the switch follows link state and leaves it out of the flood
// lists until it comes back. What it learned on that port goes when the link
// does (as a bridge flushes a disabled port); a static MAC there stays.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arpRequest } from "../harness/index.ts";
import { bootSwitch, REMOTE_A, type SwitchUnderTest } from "./switch-fixture.ts";

let sw: SwitchUnderTest;

beforeAll(async () => {
  sw = await bootSwitch("links", `ports:\n  - { name: h1, vni: 100 }\n  - { name: h2, vni: 100 }\nvnis:\n  - vni: 100\n    flood: [${REMOTE_A}]\n    static_macs:\n      - { mac: "02:00:00:00:d1:99", port: h2 }\n`, [
    { name: "p1", port: "h1", mac: "02:00:00:00:d1:01", cidr: "198.51.100.1/24" },
    { name: "p2", port: "h2", mac: "02:00:00:00:d1:02", cidr: "198.51.100.2/24" },
  ]);
});

afterAll(async () => {
  await sw?.dispose();
});

const status = () => sw.api<{ portsDown: string[] }>("status");
const floodTargets = async () => (await sw.api<{ vni: number; type: string; target: string }[]>("flood")).map((f) => f.target).sort();

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; ; i++) {
    const v = await f();
    if (ok(v) || i > 100) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Row = { vni: number; mac: string; type: string; port?: string; source: string };
const localMacs = async () => (await sw.api<Row[]>("fdb")).filter((r) => r.type === "local").map((r) => `${r.mac} ${r.port} ${r.source}`).sort();

describe("learned MACs follow link state", () => {
  it("what was learned on a port is flushed when its link goes down; a static MAC there stays, another port's hosts stay", async () => {
    const from = (mac: string, ip: string) => arpRequest({ srcMac: mac, srcIp: ip, targetIp: "198.51.100.250" });
    await sw.sendFromHost("p1", [from("02:00:00:00:d1:01", "198.51.100.1")]);
    await sw.sendFromHost("p2", [from("02:00:00:00:d1:02", "198.51.100.2"), from("02:00:00:00:d1:03", "198.51.100.3")]);
    const learned = ["02:00:00:00:d1:01 h1 learned", "02:00:00:00:d1:02 h2 learned", "02:00:00:00:d1:03 h2 learned", "02:00:00:00:d1:99 h2 static"];
    expect(await until(localMacs, (m) => m.length === 4)).toEqual(learned);
    sw.lab.exec(sw.hostNs("p2"), "ip", ["link", "set", "eth0", "down"]);
    expect(await until(localMacs, (m) => m.length < 4)).toEqual(["02:00:00:00:d1:01 h1 learned", "02:00:00:00:d1:99 h2 static"]);
    sw.lab.exec(sw.hostNs("p2"), "ip", ["link", "set", "eth0", "up"]);
    expect((await until(status, (s) => s.portsDown.length === 0)).portsDown).toEqual([]);
  });
});

describe("flood lists follow link state", () => {
  it("a port whose peer goes down leaves its flood list; broadcasts make no copy for it; it comes back with the link", async () => {
    const bcast = arpRequest({ srcMac: "02:00:00:00:d1:01", srcIp: "198.51.100.1", targetIp: "198.51.100.250" });
    sw.lab.exec(sw.hostNs("p2"), "ip", ["link", "set", "eth0", "down"]);
    expect((await until(status, (s) => s.portsDown.length > 0)).portsDown).toEqual(["h2"]);
    expect(await floodTargets()).toEqual([REMOTE_A, "h1"].sort());
    let before = await sw.counters();
    await sw.sendFromHost("p1", [bcast]);
    await new Promise((r) => setTimeout(r, 300));
    let after = await sw.counters();
    expect(after.flood_local_copy! - before.flood_local_copy!).toBe(0n);
    expect(after.flood_remote_copy! - before.flood_remote_copy!).toBe(1n);
    expect(after.err_clone! - before.err_clone!).toBe(0n);

    sw.lab.exec(sw.hostNs("p2"), "ip", ["link", "set", "eth0", "up"]);
    expect((await until(status, (s) => s.portsDown.length === 0)).portsDown).toEqual([]);
    expect(await floodTargets()).toEqual([REMOTE_A, "h1", "h2"].sort());
    const cap = await sw.captureHost("p2", "arp");
    before = await sw.counters();
    await sw.sendFromHost("p1", [bcast]);
    await cap.waitFor(1, 5000);
    expect((await cap.stop()).filter((p) => p.raw.equals(bcast))).toHaveLength(1);
    after = await sw.counters();
    expect(after.flood_local_copy! - before.flood_local_copy!).toBe(1n);
  });
});
