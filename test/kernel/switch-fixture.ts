// One vxgate switch under test, booted from a generated config by the real
// `vxgate run` in its own namespace: uplink eth0 routed to a spine namespace
// (which stands in for the underlay and every remote VTEP: frames are injected
// and captured on its port s1), and access ports each cabled to a host
// namespace. Remote VTEPs 198.18.0.2/.3 are routed via the spine.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Fabric, Lab, type HostSpec } from "../../lab/fabric.ts";
import { sendFrames, startCapture, type Capture, type DecodedPacket } from "../harness/index.ts";

export const VTEP = "198.18.0.1";
export const REMOTE_A = "198.18.0.2";
export const REMOTE_B = "198.18.0.3";
export const SPINE_PORT = "s1";

export interface SwitchUnderTest {
  lab: Lab;
  fabric: Fabric;
  name: string;
  configPath: string;
  /** the switch uplink's MAC (outer destination of injected VXLAN) */
  uplinkMac: string;
  /** the spine port's MAC (outer source of injected VXLAN, outer destination of our encap) */
  spineMac: string;
  spineNs: string;
  hostNs(name: string): string;
  api<T = unknown>(view: string): Promise<T>;
  counters(): Promise<Record<string, bigint>>;
  /** capture what arrives at a host (inside the host namespace, inbound only) */
  captureHost(host: string, filter?: string): Promise<Capture>;
  captureSpine(filter?: string): Promise<Capture>;
  sendFromHost(host: string, frames: Buffer[]): Promise<number>;
  sendFromSpine(frames: Buffer[]): Promise<number>;
  dispose(): Promise<void>;
}

export interface BootOptions {
  /** runs once the namespaces and links exist, before the switch boots (e.g. to
   * change what the switch finds at boot: MTUs, the hosts' GRO) */
  beforeStart?: (fabric: Fabric, switchName: string) => void;
}

/** `body` is the config after the switch/vtep/uplinks/management sections. */
export async function bootSwitch(label: string, body: string, hosts: HostSpec[], opts: BootOptions = {}): Promise<SwitchUnderTest> {
  const lab = new Lab(label);
  const name = `kt-${label}-${(process.pid % 100000).toString(36)}`.slice(0, 32);
  const configPath = join(lab.tmpdir, "switch.yaml");
  writeFileSync(
    configPath,
    `switch:\n  name: ${name}\nvtep:\n  source_ip: ${VTEP}\nuplinks:\n  - name: eth0\nmanagement:\n  socket: ${join(lab.tmpdir, "mgmt.sock")}\n${body}`,
  );
  let fabric: Fabric | undefined;
  try {
    fabric = new Fabric(lab, [{ configPath, hosts }]);
    opts.beforeStart?.(fabric, name);
    await fabric.start(name);
  } catch (e) {
    await fabric?.shutdown().catch(() => {});
    await lab.dispose();
    throw e;
  }
  const f = fabric;
  const swNs = f.switchNs(name);
  // the fast path resolves outer next hops through the kernel neighbour table;
  // wait until the runtime's managed entry for the spine is usable
  for (let i = 0; i < 50; i++) {
    if (/REACHABLE|STALE|DELAY|PROBE/.test(lab.exec(swNs, "ip", ["neigh", "show", "192.0.2.1"]))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    lab,
    fabric: f,
    name,
    configPath,
    uplinkMac: lab.mac(swNs, "eth0"),
    spineMac: lab.mac(f.spine, SPINE_PORT),
    spineNs: f.spine,
    hostNs: (h) => f.hostNs(h),
    api: (v) => f.api(name, v),
    async counters() {
      const c = await f.api<Record<string, { packets: string }>>(name, "counters");
      return Object.fromEntries(Object.entries(c).map(([k, v]) => [k, BigInt(v.packets)]));
    },
    captureHost: (h, filter) => startCapture(f.hostNs(h), "eth0", { lab, filter, timeoutMs: 30_000, direction: "in" }),
    captureSpine: (filter) => startCapture(f.spine, SPINE_PORT, { lab, filter, timeoutMs: 30_000, direction: "in" }),
    sendFromHost: (h, frames) => sendFrames(f.hostNs(h), "eth0", frames),
    sendFromSpine: (frames) => sendFrames(f.spine, SPINE_PORT, frames),
    async dispose() {
      await f.shutdown().catch(() => {});
      await lab.dispose();
    },
  };
}

/** Packets of a capture that are not the underlay's own chatter (ARP for next hops, ICMP errors). */
export function vxlanOnly(pkts: DecodedPacket[]): DecodedPacket[] {
  return pkts.filter((p) => p.vxlan !== undefined);
}
