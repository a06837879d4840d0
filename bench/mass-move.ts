// Benchmark 10: many hosts move at once (a hypervisor evacuated, a rack's
// hosts re-homed), in the lab fabric (EVPN through the spine's route
// reflector). N MACs speak behind sw3's port h1 (one ARP probe each), every
// switch learns them (sw3 locally, the others from its type-2 routes); they
// fall silent for longer than the switches' "still present" window, then the
// same N probes come in on sw2's port h3. Both links stay up, as behind a
// hypervisor's switch, so for every MAC the old switch checks whether the
// host is still behind its port before it lets the route take it.
//
// Measured from the first probe on the wire until every switch's FDB has all
// N MACs at the new place (local on sw2's h3, remote to sw2's VTEP on the
// others), each switch's pinned map read whole every 5 ms.
import { BpfMap } from "libbpf-ts-bindings";
import { Fabric, Lab } from "../lab/fabric.ts";
import { MOVE } from "../lab/topology.ts";
import { arpRequest } from "../test/harness/packets.ts";
import { sendFramesTimed } from "../test/harness/send.ts";
import { tableCodec } from "../src/control/codec.ts";
import { constants, tables } from "../src/codegen/tables.ts";
import { BPFFS_ROOT } from "../src/control/targets/ebpf/target.ts";
import { mobilityFabric } from "./mobility.ts";
import { sleep } from "./stats.ts";

export interface MassMoveOptions {
  hosts: number;
  reflector: "frr" | "gobgp";
  timeoutS: number;
  log: (s: string) => void;
}

export interface MassMoveResult {
  hosts: number;
  reflector: "frr" | "gobgp";
  /** ms from the first probe at the new port until every switch had every MAC there */
  convergenceMs: number;
  perSwitchMs: Record<string, number>;
  /** ms to learn them in the first place (first probe at the old port -> every switch has them) */
  learnMs: number;
}

/** MAC i of the burst: 02:4d + 32-bit index */
function hostMac(i: number): string {
  const b = Buffer.from([0x02, 0x4d, (i >>> 24) & 0xff, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff]);
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join(":");
}

export async function runMassMove(opts: MassMoveOptions): Promise<MassMoveResult> {
  const { log } = opts;
  const lab = new Lab("mmv");
  let fabric: Fabric | undefined;
  const maps: BpfMap[] = [];
  try {
    const { f, sw2, sw3 } = await mobilityFabric(lab, "mmv", opts.reflector, (x) => (fabric = x));
    // the host namespace is cabled to both: h1 on sw3 (eth0) and h3 on sw2 (eth1), both up
    const hostNs = f.hostNs(MOVE.host);
    lab.exec(hostNs, "ip", ["link", "set", MOVE.toIf, "up"]);
    const vtep = (sw: string) => f.config(sw).vtep.sourceIp;
    const codec = tableCodec("fdb");
    const macs = Array.from({ length: opts.hosts }, (_, i) => hostMac(i));
    const wanted = new Set(macs);
    const mapOf = new Map(f.switchNames.map((sw) => {
      const m = BpfMap.openPinned(`${BPFFS_ROOT}/${sw}/maps/${tables.fdb.mapName}`);
      maps.push(m);
      return [sw, m] as const;
    }));
    /** how many of the N MACs `sw` has at the place given */
    const countAt = (sw: string, where: { local: number } | { remote: string }): number => {
      let n = 0;
      for (const [k, v] of mapOf.get(sw)!.lookupBatch({ count: 4096 })) {
        const key = codec.key.decode(k);
        if (key.vni !== MOVE.vni || !wanted.has(key.mac)) continue;
        const e = codec.value.decode(v);
        if ("local" in where ? e.kind === constants.FDB_LOCAL && e.ifindex === where.local : e.kind === constants.FDB_REMOTE && e.remote === where.remote) n++;
      }
      return n;
    };
    /** ms from t0 until each switch has all N where `at` says */
    const converge = async (t0: bigint, at: (sw: string) => { local: number } | { remote: string }): Promise<Record<string, number>> => {
      const done: Record<string, number> = {};
      const deadline = Date.now() + opts.timeoutS * 1000;
      while (Object.keys(done).length < f.switchNames.length) {
        for (const sw of f.switchNames) {
          if (done[sw] !== undefined) continue;
          if (countAt(sw, at(sw)) === opts.hosts) done[sw] = Number(process.hrtime.bigint() - t0) / 1e6;
        }
        if (Date.now() > deadline) {
          const short = f.switchNames.filter((sw) => done[sw] === undefined).map((sw) => `${sw} ${countAt(sw, at(sw))}`);
          throw new Error(`not every switch has the ${opts.hosts} MACs in place after ${opts.timeoutS} s: ${short.join(", ")}`);
        }
        await sleep(5);
      }
      return done;
    };
    // an ARP probe per MAC (sender address 0.0.0.0: no IP binding, only the MAC)
    const probes = macs.map((m) => arpRequest({ srcMac: m, srcIp: "0.0.0.0", targetIp: "198.51.100.254" }));
    const h1 = lab.link(f.switchNs(sw3), "h1").ifindex;
    const h3 = lab.link(f.switchNs(sw2), MOVE.toPort).ifindex;

    const learned = await sendFramesTimed(hostNs, "eth0", probes);
    const learnAt = await converge(learned.firstSentNs, (sw) => (sw === sw3 ? { local: h1 } : { remote: vtep(sw3) }));
    const learnMs = Math.max(...Object.values(learnAt));
    log(`   ${opts.hosts.toLocaleString("en-US")} hosts learned behind ${sw3} h1, on every switch after ${learnMs.toFixed(0)} ms`);
    // silent for longer than "still present" (2 x LEARN_REFRESH_NS) and the aggregation window
    await sleep((2 * constants.LEARN_REFRESH_NS) / 1e6 + 1500);

    const moved = await sendFramesTimed(hostNs, MOVE.toIf, probes);
    const perSwitchMs = await converge(moved.firstSentNs, (sw) => (sw === sw2 ? { local: h3 } : { remote: vtep(sw2) }));
    const convergenceMs = Math.max(...Object.values(perSwitchMs));
    log(`   the same hosts moved to ${sw2} ${MOVE.toPort} (both links up): every switch had all of them there after ${convergenceMs.toFixed(0)} ms (${Object.entries(perSwitchMs).map(([s, ms]) => `${s} ${ms.toFixed(0)}`).join(", ")})`);
    // nothing moves back: the old switch let every route take its MAC
    await sleep(500);
    const back = countAt(sw3, { local: h1 });
    if (back !== 0) throw new Error(`${sw3} has ${back} of the moved MACs local again`);
    return { hosts: opts.hosts, reflector: opts.reflector, convergenceMs, perSwitchMs, learnMs };
  } finally {
    for (const m of maps) m.close();
    await fabric?.shutdown().catch(() => {});
    await lab.dispose();
  }
}
