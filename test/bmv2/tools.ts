// bmv2 tests run where p4c-bm2-ss and simple_switch are on PATH (built from
// their public sources outside the repository); elsewhere (CI) they skip,
// saying so once.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

function onPath(tool: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const missing = ["p4c-bm2-ss", "simple_switch"].filter((t) => !onPath(t));

export const bmv2Present = missing.length === 0;

let said = false;
/** true when the tools are absent (and says why, once per file) */
export function skipWithoutBmv2(): boolean {
  if (!bmv2Present && !said) {
    said = true;
    console.log(`bmv2 tests skipped: ${missing.join(" and ")} not on PATH (build p4c and bmv2 from their public sources to run them)`);
  }
  return !bmv2Present;
}

/** simple_switch runs detached from its daemon: a test kills whatever its switches left, whatever happened. */
export function killBmv2(switchNames: readonly string[]): void {
  for (const n of switchNames) {
    const state = join("/run/vxgate", n, "bmv2.json");
    if (!existsSync(state)) continue;
    try {
      process.kill((JSON.parse(readFileSync(state, "utf8")) as { pid: number }).pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}
