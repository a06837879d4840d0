// The bmv2 tests' fabric: sw1 on the P4 target (bmv2 simple_switch), sw2 on
// eBPF, behind one spine, each booted by the real `vxgate run` from its own
// config file, VNI 100 flooding to the other switch (flood-and-learn). A test
// gives its hosts and what its configs add; `stop` takes everything down,
// simple_switch included whatever happened.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Fabric, Lab, type HostSpec } from "../../lab/fabric.ts";
import { killBmv2 } from "./tools.ts";

export const PAIR_VTEPS = ["198.18.0.1", "198.18.0.2"] as const;

export type PairHost = HostSpec & { sw: number; ip: string };

export interface PairOptions {
  /** a host's port entry (default `{ name: <port>, vni: 100 }`) */
  port?(h: PairHost): string;
  /** the vnis section's entries, given the other switch's VTEP (default VNI 100 flooding to it) */
  vnis?(other: string): string;
  /** config sections after vnis, per switch (0: the bmv2 one) */
  extra?(i: number): string;
  /** runs once the namespaces exist, before the switches boot */
  beforeStart?(p: Pair): Promise<void> | void;
}

export interface Pair {
  lab: Lab;
  fabric: Fabric;
  /** switch names: [bmv2, eBPF] */
  names: string[];
  stop(): Promise<void>;
}

/** `prefix`: two characters naming the switches of this test file (switch names are per run). */
export async function startPair(label: string, prefix: string, hosts: Record<string, PairHost>, o: PairOptions = {}): Promise<Pair> {
  const lab = new Lab(label);
  const tag = (process.pid % 100000).toString(36);
  const names: string[] = [];
  const specs = PAIR_VTEPS.map((vtep, i) => {
    const name = `${prefix}${tag}-sw${i + 1}`;
    names.push(name);
    const own = Object.values(hosts).filter((h) => h.sw === i);
    const other = PAIR_VTEPS[1 - i]!;
    const configPath = join(lab.tmpdir, `sw${i + 1}.yaml`);
    writeFileSync(
      configPath,
      `switch: { name: ${name} }
vtep: { source_ip: ${vtep} }
uplinks: [{ name: eth0 }]
management: { socket: ${join(lab.tmpdir, `sw${i + 1}.sock`)} }
ports:
${own.map((h) => `  - ${o.port?.(h) ?? `{ name: ${h.port}, vni: 100 }`}`).join("\n")}
vnis:
${o.vnis?.(other) ?? `  - vni: 100\n    flood: [${other}]`}
${o.extra?.(i) ?? ""}`,
    );
    return { configPath, hosts: own };
  });
  const fabric = new Fabric(lab, specs);
  const pair: Pair = {
    lab,
    fabric,
    names,
    async stop() {
      killBmv2(names);
      await fabric.shutdown();
      await lab.dispose();
    },
  };
  try {
    await o.beforeStart?.(pair);
    await fabric.start(names[0]!, ["--target", "bmv2"]);
    await fabric.start(names[1]!);
  } catch (e) {
    await pair.stop();
    throw e;
  }
  return pair;
}
