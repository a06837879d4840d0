// MAC mobility in the fabric: a host's cable is moved from one switch to
// another and it announces itself with a gratuitous ARP. Measures the time from
// that ARP until the last switch's forwarding entry for the MAC points at the
// new place.
import type { Fabric } from "./fabric.ts";
import { arpRequest } from "../test/harness/packets.ts";
import { sendFrames } from "../test/harness/send.ts";
import type { FdbRow } from "../src/control/runtime.ts";

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
}


export interface MoveResult {
  /** ms from the gratuitous ARP to the last switch's entry pointing at the new place */
  convergenceMs: number;
  /** per switch, ms until its entry changed */
  perSwitchMs: Record<string, number>;
}

/** Cable the host to the new switch (old link down) and send a gratuitous ARP. */
export async function moveHost(fabric: Fabric, m: MoveSpec, timeoutMs = 15_000): Promise<MoveResult> {
  const lab = fabric.lab;
  const ns = fabric.hostNs(m.host);
  const newVtep = fabric.config(m.toSwitch).vtep.sourceIp;
  lab.exec(ns, "ip", ["link", "set", "eth0", "down"]);
  lab.exec(ns, "ip", ["addr", "flush", "dev", "eth0"]);
  lab.exec(ns, "ip", ["link", "set", m.toIf, "up"]);
  lab.exec(ns, "ip", ["addr", "add", `${m.ip}/${m.prefixLen}`, "dev", m.toIf]);
  // gratuitous ARP: sender and target are the host's own address, to broadcast
  const garp = arpRequest({ srcMac: m.mac, srcIp: m.ip, targetIp: m.ip });
  const t0 = performance.now();
  await sendFrames(ns, m.toIf, [garp]);
  const want = (sw: string, r: FdbRow | undefined) =>
    sw === m.toSwitch ? r?.type === "local" && r.port === m.toPort : r?.type === "remote" && r.remote === newVtep;
  const perSwitchMs: Record<string, number> = {};
  const pending = new Set(fabric.switchNames);
  while (pending.size > 0) {
    for (const sw of [...pending]) {
      const rows = await fabric.api<FdbRow[]>(sw, "fdb");
      if (want(sw, rows.find((r) => r.vni === m.vni && r.mac === m.mac))) {
        perSwitchMs[sw] = performance.now() - t0;
        pending.delete(sw);
      }
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`MAC ${m.mac} did not converge on ${[...pending].join(", ")} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return { convergenceMs: Math.max(...Object.values(perSwitchMs)), perSwitchMs };
}
