// A switch that cannot boot says why and leaves the kernel as it found it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI, Lab } from "../../lab/fabric.ts";

let lab: Lab;
let ns: string;
const name = `kt-boot-${(process.pid % 100000).toString(36)}`;

beforeAll(() => {
  lab = new Lab("boot");
  ns = lab.ns("sw");
  lab.veth(ns, "eth0", null, "bootpeer0");
});

afterAll(async () => {
  await lab?.dispose();
});

const run = (config: string) =>
  spawnSync("nsenter", [`--net=${lab.netnsPath(ns)}`, process.execPath, "--import", "tsx", CLI, "run", "--config", config], { encoding: "utf8", timeout: 60_000 });

describe("vxgate run with ports that do not exist", () => {
  it("names every missing interface at its file:line:col, exits 1, and pins and attaches nothing", () => {
    const cfg = join(lab.tmpdir, "sw.yaml");
    writeFileSync(
      cfg,
      [
        `switch: { name: ${name} }`, // 1
        "vtep: { source_ip: 198.18.0.9 }",
        "uplinks:",
        "  - name: eth0",
        "  - { name: up9 }", // 5
        "ports:",
        "  - name: gone1",
        "    vni: 100",
        "  - { name: gone2, vni: 100 }", // 9
        "vnis: [{ vni: 100 }]",
        `management: { socket: ${join(lab.tmpdir, "m.sock")} }`,
        "",
      ].join("\n"),
    );
    const r = run(cfg);
    expect(r.status).toBe(1);
    // one line per missing interface, pointing at its name, like any config error
    expect(r.stderr.trim().split("\n")).toEqual([
      `${cfg}:5:7: interface up9 not found in this network namespace`,
      `${cfg}:7:5: interface gone1 not found in this network namespace`,
      `${cfg}:9:7: interface gone2 not found in this network namespace`,
    ]);
    expect(existsSync(`/sys/fs/bpf/vxgate/${name}`)).toBe(false);
    expect(existsSync(`/run/vxgate/${name}`)).toBe(false);
    expect(lab.exec(ns, "ip", ["-d", "link", "show", "eth0"])).not.toMatch(/xdp/);
  });

  it("rejects a bad config with file:line:col before touching the kernel", () => {
    const cfg = join(lab.tmpdir, "bad.yaml");
    writeFileSync(cfg, `switch: { name: ${name} }\nvtep: { source_ip: 198.18.0.9, udp_port: 70000 }\nuplinks: [{ name: eth0 }]\n`);
    const r = run(cfg);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${cfg}:2:42: udp_port 70000 out of range 1\\.\\.65535`));
    expect(existsSync(`/sys/fs/bpf/vxgate/${name}`)).toBe(false);
  });
});
