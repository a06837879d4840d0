// Finalizers: handles that are dropped without close() release their kernel
// resources when garbage-collected (checked in child processes with --expose-gc).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HERE, bpffsScratch, fixture, isRoot, removeFixtureDir, runTsChild, sh, shQuiet, uid } from "./helpers.ts";

describe.skipIf(!isRoot)("garbage collection", () => {
  let scratch: ReturnType<typeof bpffsScratch>;
  const id = uid();
  const dummy = `lbt${id}g`;
  beforeAll(() => {
    scratch = bpffsScratch();
    sh("ip", ["link", "add", dummy, "type", "veth", "peer", "name", `lbt${id}h`]);
  });
  afterAll(() => {
    shQuiet("ip", ["link", "del", dummy]);
    scratch?.remove();
    removeFixtureDir();
  });

  const child = join(HERE, "gc.child.ts");

  it("closes the fds of dropped objects, pinned maps and pinned programs", () => {
    const r = runTsChild(child, ["FDS", fixture("xdp_count"), scratch.dir], { nodeArgs: ["--expose-gc"] });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const { base, peak, after } = JSON.parse(r.stdout) as { base: number; peak: number; after: number };
    expect(peak).toBeGreaterThanOrEqual(base + 20 * 4); // 20 x (prog + 2 maps + pinned map + pinned prog)
    expect(after).toBeLessThanOrEqual(base + 2);
  });

  it("a dropped, unpinned link is detached when collected", () => {
    const ifindex = Number(readFileSync(`/sys/class/net/${dummy}/ifindex`, "utf8").trim());
    const r = runTsChild(child, ["LINK", fixture("xdp_count"), String(ifindex)], { nodeArgs: ["--expose-gc"] });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ before: true, after: false });
  });
});
