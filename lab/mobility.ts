// MAC mobility in the fabric: a host's cable is moved from one switch to
// another and it announces itself with a gratuitous ARP. Measures the time from
// that ARP on the wire until each switch's forwarding entry for the MAC points
// at the new place.
//
// The start is when the sender handed the ARP to the kernel (CLOCK_MONOTONIC,
// reported by the sender itself: starting it takes tens of ms). Each eBPF
// switch's entry is watched in its pinned FDB map, looked up every
// millisecond from here (no load on the switch, no API round trip in the
// figure); a switch without one (bmv2) through its API every 5 ms.
import { existsSync } from "node:fs";
import { BpfMap } from "libbpf-ts-bindings";
import type { Fabric } from "./fabric.ts";
import { arpRequest } from "../test/harness/packets.ts";
import { sendFramesTimed } from "../test/harness/send.ts";
import type { FdbRow } from "../src/control/runtime.ts";
import { tableCodec } from "../src/control/codec.ts";
import { constants, tables } from "../src/codegen/tables.ts";
import { BPFFS_ROOT } from "../src/control/targets/ebpf/target.ts";

export interface MoveSpec {
  host: string; // host namespace label
  mac: string;
  ip: string; // without prefix length
  prefixLen: number;
  vni: number;
  /** host interface cabled to the new switch (already created, down) */
  toIf: string;
  toSwitch: string;
  toPort: string;
  /** host interface cabled to the old switch (taken down); default eth0 */
  fromIf?: string;
}

export interface MoveResult {
  /** ms from the gratuitous ARP to the last switch's entry pointing at the new place */
  convergenceMs: number;
  /** per switch, ms until its entry changed */
  perSwitchMs: Record<string, number>;
  /** when the gratuitous ARP left the host (CLOCK_MONOTONIC ns, as process.hrtime.bigint()) */
  arpSentNs: bigint;
}

/** Where one switch has the MAC now, read without asking its control plane where possible. */
type EntryProbe = () => Promise<boolean> | boolean;

function probeFor(fabric: Fabric, sw: string, m: MoveSpec, newVtep: string, maps: BpfMap[]): { probe: EntryProbe; pollMs: number } {
  const pin = `${BPFFS_ROOT}/${sw}/maps/${tables.fdb.mapName}`;
  if (existsSync(pin)) {
    const map = BpfMap.openPinned(pin);
    maps.push(map);
    const codec = tableCodec("fdb");
    const key = codec.key.encode({ vni: m.vni, mac: m.mac });
    const portIfindex = sw === m.toSwitch ? fabric.lab.link(fabric.switchNs(sw), m.toPort).ifindex : 0;
    return {
      pollMs: 1,
      probe: () => {
        const raw = map.lookup(key);
        if (!raw) return false;
        const v = codec.value.decode(raw);
        return sw === m.toSwitch ? v.kind === constants.FDB_LOCAL && v.ifindex === portIfindex : v.kind === constants.FDB_REMOTE && v.remote === newVtep;
      },
    };
  }
  return {
    pollMs: 5,
    probe: async () => {
      const r = (await fabric.api<FdbRow[]>(sw, "fdb")).find((x) => x.vni === m.vni && x.mac === m.mac);
      return sw === m.toSwitch ? r?.type === "local" && r.port === m.toPort : r?.type === "remote" && r.remote === newVtep;
    },
  };
}

/** Cable the host to the new switch (old link down) and send a gratuitous ARP. */
export async function moveHost(fabric: Fabric, m: MoveSpec, timeoutMs = 15_000): Promise<MoveResult> {
  const lab = fabric.lab;
  const ns = fabric.hostNs(m.host);
  const newVtep = fabric.config(m.toSwitch).vtep.sourceIp;
  const fromIf = m.fromIf ?? "eth0";
  lab.exec(ns, "ip", ["link", "set", fromIf, "down"]);
  lab.exec(ns, "ip", ["addr", "flush", "dev", fromIf]);
  lab.exec(ns, "ip", ["link", "set", m.toIf, "up"]);
  lab.exec(ns, "ip", ["addr", "add", `${m.ip}/${m.prefixLen}`, "dev", m.toIf]);
  const maps: BpfMap[] = [];
  try {
    const probes = new Map(fabric.switchNames.map((sw) => [sw, probeFor(fabric, sw, m, newVtep, maps)]));
    // gratuitous ARP: sender and target are the host's own address, to broadcast
    const garp = arpRequest({ srcMac: m.mac, srcIp: m.ip, targetIp: m.ip });
    const sending = sendFramesTimed(ns, m.toIf, [garp]);
    const seenAt = new Map<string, bigint>();
    const deadline = process.hrtime.bigint() + BigInt(timeoutMs) * 1_000_000n;
    // watch while the sender starts: the entry may change before it reports
    const watch = async (sw: string) => {
      const { probe, pollMs } = probes.get(sw)!;
      while (!seenAt.has(sw)) {
        if (await probe()) {
          seenAt.set(sw, process.hrtime.bigint());
          return;
        }
        if (process.hrtime.bigint() > deadline) throw new Error(`MAC ${m.mac} did not converge on ${sw} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, pollMs));
      }
    };
    const [{ firstSentNs }] = await Promise.all([sending, ...fabric.switchNames.map(watch)]);
    const perSwitchMs: Record<string, number> = {};
    for (const [sw, at] of seenAt) perSwitchMs[sw] = Math.max(0, Number(at - firstSentNs) / 1e6);
    return { convergenceMs: Math.max(...Object.values(perSwitchMs)), perSwitchMs, arpSentNs: firstSentNs };
  } finally {
    for (const map of maps) map.close();
  }
}
