// The lab's topology: which hosts hang off which switch (the switches
// themselves are lab/sw*.yaml), and the spare cable the mobility step uses.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, type Fabric, type Lab, type SwitchSpec } from "./fabric.ts";

const SAME_MAC = "02:00:00:00:01:01";

export const LAB_SWITCHES: SwitchSpec[] = [
  {
    configPath: join(REPO, "lab/sw1.yaml"),
    hosts: [
      { name: "a1", port: "h1", mac: SAME_MAC, cidr: "198.51.100.1/24" },
      { name: "a2", port: "h2", mac: SAME_MAC, cidr: "203.0.113.1/24" },
      // the monitoring server of the lab's mirror step
      { name: "s1", port: "h3", mac: "02:00:00:00:01:09", cidr: "198.51.100.9/24" },
    ],
  },
  {
    configPath: join(REPO, "lab/sw2.yaml"),
    hosts: [
      { name: "b1", port: "h1", mac: "02:00:00:00:02:01", cidr: "198.51.100.2/24" },
      { name: "b2", port: "h2", mac: "02:00:00:00:02:02", cidr: "203.0.113.2/24" },
    ],
  },
  {
    configPath: join(REPO, "lab/sw3.yaml"),
    hosts: [
      { name: "c1", port: "h1", mac: "02:00:00:00:03:01", cidr: "198.51.100.3/24" },
      { name: "c2", port: "h2", mac: "02:00:00:00:03:02", cidr: "203.0.113.3/24" },
    ],
  },
];

export const MOVE = {
  host: "c1",
  mac: "02:00:00:00:03:01",
  ip: "198.51.100.3",
  prefixLen: 24,
  vni: 100,
  toIf: "eth1",
  toSwitch: "lab-sw2",
  toPort: "h3",
};

/** The mirror step: s1 (on sw1) watches c1 (on sw3, the host that moves to
 * sw2); the session is added through sw2's API, so it reaches the others
 * through BGP EVPN. */
export const MIRROR = {
  session: "watch-c1",
  host: { name: "c1", mac: MOVE.mac, vni: MOVE.vni, ip: MOVE.ip },
  server: { name: "s1", mac: "02:00:00:00:01:09", vni: 100 },
  hostId: 100,
  addedOn: "lab-sw2",
};

/** The spare cable for the mobility step: host side down until the move. */
export function cableStandby(fabric: Fabric, toSwitch: string = MOVE.toSwitch): void {
  const lab = fabric.lab;
  lab.veth(fabric.hostNs(MOVE.host), MOVE.toIf, fabric.switchNs(toSwitch), MOVE.toPort, { macA: MOVE.mac, txChecksum: false });
  lab.down(fabric.hostNs(MOVE.host), MOVE.toIf);
}


/** The lab's switches under other names and sockets (tests run beside `npm run lab`). */
export function renamedLabSwitches(lab: Lab, prefix: string): { specs: SwitchSpec[]; rename: (labName: string) => string } {
  const rename = (n: string) => n.replace("lab-sw", `${prefix}-sw`);
  const specs = LAB_SWITCHES.map((s, i) => {
    const text = readFileSync(s.configPath, "utf8")
      .replace(/lab-sw(\d)/g, (_m, d: string) => rename(`lab-sw${d}`))
      .replace(/socket: .*/, `socket: ${join(lab.tmpdir, `sw${i + 1}.sock`)}`);
    const configPath = join(lab.tmpdir, `sw${i + 1}.yaml`);
    writeFileSync(configPath, text);
    return { ...s, configPath };
  });
  return { specs, rename };
}
