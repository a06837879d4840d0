// A simple_switch someone else started (a SmartNIC's own service, say):
// running an unrelated program with --enable-swap, one of the switch's ports
// bound under its own number. `vxgate run --target bmv2` attaches to it, swaps
// its program in, keeps that port number and adds the other ports and the CPU
// port; the switch forwards across the overlay and learns; `vxgate stop`
// empties it and gives back the ports it added, but leaves the process alone.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Fabric, Lab, type HostSpec } from "../../lab/fabric.ts";
import { ping } from "../harness/index.ts";
import type { FdbRow } from "../../src/control/runtime.ts";
import { skipWithoutBmv2 } from "./tools.ts";
import { PAIR_VTEPS, startPair, type Pair } from "./pair.ts";

const VTEPS = PAIR_VTEPS;
const SUBNET = "198.51.100";
const HOSTS: Record<string, HostSpec & { sw: number; ip: string }> = {
  a: { sw: 0, name: "a", port: "h1", mac: "02:00:00:0e:00:01", ip: `${SUBNET}.1`, cidr: `${SUBNET}.1/24` },
  b: { sw: 0, name: "b", port: "h2", mac: "02:00:00:0e:00:02", ip: `${SUBNET}.2`, cidr: `${SUBNET}.2/24` },
  c: { sw: 1, name: "c", port: "h1", mac: "02:00:00:0e:00:03", ip: `${SUBNET}.3`, cidr: `${SUBNET}.3/24` },
};
const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "thrift-live.p4");

const skip = skipWithoutBmv2();
let lab: Lab;
let fabric: Fabric;
let foreign: ChildProcess;
let names: string[] = [];
let pair: Pair | undefined;

/** Ask the switch in sw1's namespace (its Thrift server listens on that namespace's loopback). */
function inSw1<T>(script: string): T {
  const out = execFileSync("nsenter", [`--net=${lab.netnsPath(fabric.switchNs(names[0]!))}`, process.execPath, "--import", "tsx", "-e", script], { encoding: "utf8", cwd: join(dirname(fileURLToPath(import.meta.url)), "../..") });
  return JSON.parse(out) as T;
}
const PORTS_SCRIPT = `import { Bmv2Runtime } from "./src/control/targets/bmv2/thrift/runtime.ts";
const rt = await Bmv2Runtime.connect({ host: "127.0.0.1", port: 9090 });
const ports = await rt.showPorts();
const fdb = await rt.getNumEntries("fdb").catch(() => -1);
console.log(JSON.stringify({ ports: ports.map((p) => [p.port, p.iface]).sort((x, y) => x[0] - y[0]), fdb }));
await rt.close();`;

describe.skipIf(skip)("bmv2 target: attaching to a simple_switch someone else started", () => {
  beforeAll(async () => {
    pair = await startPair("bmv2-at", "ba", HOSTS, {
      // the foreign switch: another program, h2 as its port 7, swapping allowed
      beforeStart: async (p) => {
        ({ lab, fabric, names } = p);
        const json = join(lab.tmpdir, "foreign.json");
        execFileSync("p4c-bm2-ss", ["-o", json, FIXTURE], { stdio: "ignore" });
        foreign = lab.spawn(fabric.switchNs(names[0]!), "simple_switch", ["--thrift-port", "9090", "-i", "7@h2", json, "--", "--enable-swap"]);
        for (let i = 0; i < 100; i++) {
          try {
            inSw1(PORTS_SCRIPT);
            break;
          } catch {
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      },
    });
    ({ lab, fabric, names } = pair);
  }, 180_000);

  afterAll(async () => {
    foreign?.kill("SIGKILL");
    await pair?.stop();
  });

  it("keeps the switch's own number for h2 and adds eth0, h1 and the CPU port", () => {
    const { ports } = inSw1<{ ports: [number, string][] }>(PORTS_SCRIPT);
    expect(ports).toContainEqual([7, "h2"]);
    expect(ports.map((p) => p[1]).sort()).toEqual(["eth0", "h1", "h2", "vxg-cpu"]);
    expect(new Set(ports.map((p) => p[0])).size).toBe(4);
    expect(fabric.logOf(names[0]!)).toMatch(/attached to a running bmv2 switch.*"swapped":true/);
  });

  it("forwards with the swapped-in program: a and b ping c across the overlay, and sw1 learns them", async () => {
    for (const h of ["a", "b"]) expect((await ping(lab, fabric.hostNs(h), HOSTS.c!.ip, { count: 4, timeoutS: 3 })).received).toBeGreaterThanOrEqual(3);
    const rows = await fabric.api<FdbRow[]>(names[0]!, "fdb");
    expect(rows.find((r) => r.mac === HOSTS.a!.mac)).toMatchObject({ port: "h1" });
    expect(rows.find((r) => r.mac === HOSTS.b!.mac)).toMatchObject({ port: "h2" });
  });

  it("`vxgate stop` empties the switch and gives back the ports it added; the process keeps running", async () => {
    await fabric.kill(names[0]!);
    fabric.stopAndRemove(names[0]!);
    expect(foreign.exitCode).toBeNull();
    const after = inSw1<{ ports: [number, string][]; fdb: number }>(PORTS_SCRIPT);
    expect(after.ports).toEqual([[7, "h2"]]);
    expect(after.fdb).toBe(0);
  });
});
