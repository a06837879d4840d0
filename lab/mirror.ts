// The lab's mirror step: a session added through one switch's CLI reaches the
// others through BGP EVPN; every datagram the monitored host sends or receives
// is copied once to the monitoring server, which counts what it gets.
import { execFileSync } from "node:child_process";
import { CLI, type Fabric } from "./fabric.ts";
import { MIRROR } from "./topology.ts";
import { startCapture } from "../test/harness/capture.ts";
import { sendFrames } from "../test/harness/send.ts";
import { arpRequest } from "../test/harness/packets.ts";
import { udpExchange } from "../test/harness/ping.ts";
import type { MirrorRow } from "../src/control/mirror/feature.ts";

const PORT = 9100;

/** `vxgate mirror add` on MIRROR.addedOn, then wait until every switch has the session. */
export async function addLabSession(fabric: Fabric, timeoutMs = 10_000): Promise<string> {
  const s = fabric.hostNs(MIRROR.server.name);
  // the server announces itself so every switch knows where it is
  const ip = "198.51.100.9";
  await sendFrames(s, "eth0", [arpRequest({ srcMac: MIRROR.server.mac, srcIp: ip, targetIp: ip })]);
  const out = execFileSync(process.execPath, [
    "--import", "tsx", CLI, "mirror", "add", MIRROR.session,
    "--host-mac", MIRROR.host.mac, "--host-vni", String(MIRROR.host.vni),
    "--server-mac", MIRROR.server.mac, "--server-vni", String(MIRROR.server.vni),
    "--host-id", String(MIRROR.hostId), "--socket", fabric.config(MIRROR.addedOn).management.socket,
  ], { encoding: "utf8" });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await Promise.all(fabric.switchNames.map((sw) => fabric.api<MirrorRow[]>(sw, "mirror")));
    if (rows.every((r) => r.some((x) => x.name === MIRROR.session && x.serverAt !== "unknown"))) return out.trim();
    if (Date.now() > deadline) throw new Error(`mirror session ${MIRROR.session} did not reach every switch: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Datagrams both ways between `peer` and the monitored host; the server's copies counted. */
export async function mirroredExchange(
  fabric: Fabric,
  peer: { name: string; ip: string },
  count: number,
): Promise<{ expected: number; copies: number }> {
  const lab = fabric.lab;
  const cap = await startCapture(fabric.hostNs(MIRROR.server.name), "eth0", { lab, filter: `udp port ${PORT} and ether host ${MIRROR.host.mac}`, direction: "in", timeoutMs: 60_000 });
  const host = fabric.hostNs(MIRROR.host.name);
  const there = await udpExchange(lab, { from: fabric.hostNs(peer.name), to: host, dst: MIRROR.host.ip, port: PORT, count });
  const back = await udpExchange(lab, { from: host, to: fabric.hostNs(peer.name), dst: peer.ip, port: PORT, count });
  const expected = there.sent + back.sent;
  await cap.waitFor(expected, 5000).catch(() => {});
  const copies = (await cap.stop()).length;
  return { expected, copies };
}
