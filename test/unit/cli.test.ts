import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "../../lab/fabric.ts";

const FULL = join(import.meta.dirname, "../fixtures/config/full.yaml");
const vxgate = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", CLI, ...args], { encoding: "utf8" });

describe("vxgate check", () => {
  it("accepts a valid file", () => {
    const r = vxgate("check", "--config", FULL);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("ok (switch leaf1, 4 access ports, 3 VNIs)");
  });

  it("names file:line:col for every problem and exits 1", () => {
    const dir = mkdtempSync(join(tmpdir(), "vxg-cli-"));
    try {
      const f = join(dir, "bad.yaml");
      writeFileSync(f, "switch:\n  name: s1\nvtep:\n  source_ip: 10.0.0.1\nuplinks: [{ name: eth0 }]\nvnis:\n  - vni: 16777216\n  - vni: 5\n    ageing: -1\n");
      const r = vxgate("check", "--config", f);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`${f}:7:10: vni 16777216 out of range 1..16777215`);
      expect(r.stderr).toMatch(new RegExp(`${f}:9:13: ageing .*-1`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects unknown commands and missing options with usage", () => {
    expect(vxgate("frobnicate").status).toBe(2);
    const r = vxgate("check");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--config is required");
  });
});

describe("vxgate run and stop options", () => {
  it("takes --log-level debug|info|warn|error and refuses anything else before touching the kernel", () => {
    const r = vxgate("run", "--config", FULL, "--log-level", "verbose");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("vxgate: --log-level verbose: expected debug, info, warn, error");
    expect(vxgate("help").stderr).toContain("[--log-level debug|info|warn|error]");
  });

  it("refuses a --timeout that is not a number of seconds", () => {
    const r = vxgate("stop", "--config", FULL, "--timeout", "soon");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("vxgate: --timeout soon: expected a number of seconds");
  });
});

describe("vxgate build", () => {
  it("writes the generated C and the ELF ahead of time, and reuses them", () => {
    const dir = mkdtempSync(join(tmpdir(), "vxg-build-"));
    try {
      const first = vxgate("build", "--config", FULL, "--out", dir);
      expect(first.status, first.stderr).toBe(0);
      expect(first.stdout).toMatch(/^built: .*vxgate\.bpf\.o \(hash [0-9a-f]{16}\)/);
      const [hashDir] = readdirSync(dir);
      for (const f of ["vxgate.c", "vxgate_tables.h", "vxgate.bpf.o", "xdp_access.h", "tc_flood.h"]) expect(existsSync(join(dir, hashDir!, f)), f).toBe(true);
      const again = vxgate("build", "--config", FULL, "--out", dir);
      expect(again.stdout).toMatch(/^up to date: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
