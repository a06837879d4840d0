// `npm run lab`: three vxgate switches behind a spine, each booted from its
// own config file in lab/, talking BGP EVPN through a standard route reflector
// (FRR bgpd on the spine); hosts in two VNIs (sw1 has the same MAC in both).
// Then ARP + ping + UDP between hosts on different switches, and what crossed
// where, read from vxgate's own tables, routes and counters. Everything is
// removed on exit. `npm run lab -- --keep` leaves it up until Ctrl-C;
// `--bmv2 lab-sw2` (repeatable) runs that switch on the P4 target (bmv2
// simple_switch and p4c-bm2-ss must be on PATH) instead of eBPF.
import { Fabric, Lab } from "./fabric.ts";
import { LAB_SWITCHES, MOVE, cableStandby } from "./topology.ts";
import { ping, udpExchange } from "../test/harness/ping.ts";
import { renderTable } from "../src/cli/table.ts";
import { renderEvpnView } from "../src/control/evpn/show.ts";
import { moveHost } from "./mobility.ts";
import { addLabSession, mirroredExchange } from "./mirror.ts";
import { MIRROR } from "./topology.ts";
import { renderMirror } from "../src/control/mirror/show.ts";
import { renderMcast } from "../src/control/mcast/show.ts";
import { GROUP, copies, joinGroup, sendToGroup, waitRemotes } from "./multicast.ts";

const keep = process.argv.includes("--keep");
const onBmv2 = new Set(process.argv.flatMap((a, i) => (a === "--bmv2" && process.argv[i + 1] ? [process.argv[i + 1]!] : [])));
const say = (s = "") => process.stdout.write(s + "\n");

async function main(): Promise<number> {
  if (process.getuid?.() !== 0) {
    say("npm run lab needs root (network namespaces, XDP, bpffs)");
    return 2;
  }
  const unknown = [...onBmv2].filter((n) => !["lab-sw1", "lab-sw2", "lab-sw3"].includes(n));
  if (unknown.length) {
    say(`--bmv2 ${unknown.join(", ")}: not a lab switch (lab-sw1, lab-sw2, lab-sw3)`);
    return 2;
  }
  const lab = new Lab("lab");
  let failures = 0;
  try {
    say("== building the fabric: spine (FRR route reflector) + 3 switches + 6 hosts in network namespaces");
    const fabric = new Fabric(lab, LAB_SWITCHES, { reflector: true });
    // c1 also has a spare cable (down) to sw2's port h3: the mobility step moves it there
    cableStandby(fabric);
    for (const sw of fabric.switchNames) {
      await fabric.start(sw, onBmv2.has(sw) ? ["--target", "bmv2"] : []);
      say(`   ${sw}: vxgate running on ${onBmv2.has(sw) ? "bmv2 (P4)" : "eBPF"} (config ${fabric.config(sw).file}, VTEP ${fabric.config(sw).vtep.sourceIp})`);
    }
    await fabric.waitEstablished();
    say("   BGP EVPN sessions to the reflector established; flood lists come from type-3 routes");

    say("\n== traffic (the first packet of each pair is an ARP broadcast: head-end replicated)");
    const pings: [string, string, string][] = [
      ["a1", "b1", "198.51.100.2"],
      ["a1", "c1", "198.51.100.3"],
      ["b1", "c1", "198.51.100.3"],
      ["a2", "b2", "203.0.113.2"],
      ["a2", "c2", "203.0.113.3"],
      ["c2", "b2", "203.0.113.2"],
    ];
    for (const [from, to, ip] of pings) {
      const r = await ping(lab, fabric.hostNs(from), ip, { count: 3, timeoutS: 2 });
      const ok = r.received === r.sent;
      if (!ok) failures++;
      say(`   ping ${from} -> ${to} (${ip}): ${r.received}/${r.sent} replies${ok ? "" : "  FAILED"}`);
    }
    const udps: [string, string, string][] = [
      ["a1", "c1", "198.51.100.3"],
      ["b2", "a2", "203.0.113.1"],
    ];
    for (const [from, to, ip] of udps) {
      const r = await udpExchange(lab, { from: fabric.hostNs(from), to: fabric.hostNs(to), dst: ip, port: 9000, count: 1000 });
      const ok = r.received === r.sent;
      if (!ok) failures++;
      say(`   udp  ${from} -> ${to} (${ip}:9000): ${r.received}/${r.sent} datagrams${ok ? "" : "  FAILED"}`);
    }

    say(`\n== per-group replication: b1 (lab-sw2) and c1 (lab-sw3) join ${GROUP} (IGMP, snooped in VNI 100); a1 (lab-sw1) streams 100 datagrams to it`);
    const rb = await joinGroup(fabric, "b1", "198.51.100.2");
    const rc = await joinGroup(fabric, "c1", "198.51.100.3");
    if (!(await waitRemotes(fabric, "lab-sw1", ["198.18.0.2", "198.18.0.3"]))) failures++;
    let c0 = await copies(fabric, "lab-sw1");
    await sendToGroup(fabric, "a1", "198.51.100.1", 100);
    let c1 = await copies(fabric, "lab-sw1");
    say("-- lab-sw1: vxgate show mcast");
    process.stdout.write(renderMcast(await fabric.api("lab-sw1", "mcast")));
    say(`   lab-sw1 made ${c1.remote - c0.remote} VXLAN copies (one per packet to each member switch: expected 200) and ${c1.local - c0.local} local copies (no member port on lab-sw1: expected 0)`);
    const gotC = await rc.leave();
    if (gotC !== 100 || c1.remote - c0.remote !== 200n) failures++;
    say(`   c1 received ${gotC}/100; now c1 leaves (its socket closes, its kernel sends the leave)`);
    const left = await waitRemotes(fabric, "lab-sw1", ["198.18.0.2"]);
    if (!left) failures++;
    say(`   lab-sw3's last member is gone: lab-sw1 ${left ? "copies to lab-sw2 only" : "still lists lab-sw3  FAILED"}`);
    c0 = c1;
    await sendToGroup(fabric, "a1", "198.51.100.1", 100);
    c1 = await copies(fabric, "lab-sw1");
    const gotB = await rb.leave();
    const ok = gotB === 200 && c1.remote - c0.remote === 100n;
    if (!ok) failures++;
    say(`   100 more datagrams: lab-sw1 made ${c1.remote - c0.remote} VXLAN copies (expected 100); b1 received ${gotB}/200 in all${ok ? "" : "  FAILED"}`);

    say(`\n== match-mirror-encap: ${MIRROR.server.name} (on lab-sw1) monitors ${MIRROR.host.name} (on lab-sw3); the session is added on ${MIRROR.addedOn}`);
    say(`   ${await addLabSession(fabric)} - and reached every switch through BGP EVPN`);
    for (const sw of fabric.switchNames) {
      say(`-- ${sw}: vxgate show mirror`);
      process.stdout.write(renderMirror(await fabric.api(sw, "mirror")));
    }
    const mirrored = await mirroredExchange(fabric, { name: "a1", ip: "198.51.100.1" }, 200);
    if (mirrored.copies !== mirrored.expected) failures++;
    say(`   a1 <-> c1, 200 datagrams each way: ${MIRROR.server.name} received ${mirrored.copies} copies, expected ${mirrored.expected}${mirrored.copies === mirrored.expected ? "" : "  FAILED"}`);

    // the last MACs learned are still inside the aggregation window: let every
    // switch hear of all six hosts before printing (bounded)
    const hosts = LAB_SWITCHES.reduce((n, sw) => n + sw.hosts.length, 0);
    for (let i = 0; i < 50; i++) {
      const sizes = await Promise.all(fabric.switchNames.map(async (sw) => (await fabric.api<unknown[]>(sw, "evpn/mac")).length));
      if (sizes.every((n) => n >= hosts)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    say("\n== what crossed where (vxgate show bgp summary / evpn mac / fdb / counters on each switch)");
    for (const sw of fabric.switchNames) {
      say(`\n-- ${sw}: BGP`);
      process.stdout.write(renderEvpnView("bgp/summary", await fabric.api(sw, "bgp/summary")));
      say(`-- ${sw}: EVPN MACs`);
      process.stdout.write(renderEvpnView("evpn/mac", await fabric.api(sw, "evpn/mac")));
      say(`-- ${sw}: forwarding table`);
      process.stdout.write(renderTable(await fabric.api(sw, "fdb"), ["vni", "mac", "type", "source", "port", "remote", "ageSeconds"]));
      const c = await fabric.api<Record<string, { packets: string; bytes: string }>>(sw, "counters");
      const rows = Object.entries(c)
        .filter(([, v]) => v.packets !== "0")
        .map(([counter, v]) => ({ counter, packets: v.packets, bytes: v.bytes }));
      say(`-- ${sw}: fast-path counters`);
      process.stdout.write(renderTable(rows, ["counter", "packets", "bytes"]));
    }
    say("\n== MAC mobility: c1 (02:00:00:00:03:01, VNI 100) is re-cabled from sw3 to sw2 and sends a gratuitous ARP");
    const moved = await moveHost(fabric, MOVE);
    for (const [sw, ms] of Object.entries(moved.perSwitchMs)) say(`   ${sw}: forwarding entry updated after ${ms.toFixed(1)} ms`);
    say(`   converged on every switch ${moved.convergenceMs.toFixed(1)} ms after the gratuitous ARP`);
    const macRows = await fabric.api<{ vni: number; mac: string; type: string; vtep: string; seq: number }[]>("lab-sw1", "evpn/mac");
    const m = macRows.find((r) => r.vni === 100 && r.mac === MOVE.mac);
    say(`   lab-sw1 now has it behind ${m?.vtep} with MAC mobility sequence ${m?.seq}`);
    const after = await ping(lab, fabric.hostNs("a1"), "198.51.100.3", { count: 3, timeoutS: 2 });
    if (after.received !== after.sent) failures++;
    say(`   ping a1 -> c1 at its new place: ${after.received}/${after.sent} replies${after.received === after.sent ? "" : "  FAILED"}`);

    say(`\n== mirror after the move: ${MIRROR.host.name} is behind lab-sw2 now, which re-originates the session on its route`);
    for (let i = 0; i < 50; i++) {
      const row = (await fabric.api<{ name: string; roles: string[] }[]>("lab-sw2", "mirror")).find((r) => r.name === MIRROR.session);
      if (row?.roles.includes("source")) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    process.stdout.write(renderMirror(await fabric.api("lab-sw2", "mirror")));
    const moved2 = await mirroredExchange(fabric, { name: "a1", ip: "198.51.100.1" }, 100);
    if (moved2.copies !== moved2.expected) failures++;
    say(`   a1 <-> c1, 100 datagrams each way: ${MIRROR.server.name} received ${moved2.copies} copies, expected ${moved2.expected}${moved2.copies === moved2.expected ? "" : "  FAILED"}`);

    say(`\n== result: ${failures === 0 ? "all traffic crossed the fabric" : `${failures} exchanges FAILED`}`);

    if (keep) {
      say("\n--keep: the lab stays up. Try e.g.:");
      say(`   ip netns exec ${fabric.hostNs("a1")} ping 198.51.100.3`);
      say(`   npx tsx src/cli/vxgate.ts show fdb --config lab/sw1.yaml`);
      say("Ctrl-C removes everything.");
      await new Promise<void>((ok) => {
        process.once("SIGINT", () => ok());
        process.once("SIGTERM", () => ok());
      });
    }
    await fabric.shutdown();
  } finally {
    await lab.dispose();
  }
  return failures === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`lab failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
