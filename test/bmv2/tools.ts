// bmv2 tests run where p4c-bm2-ss and simple_switch are on PATH (built from
// their public sources outside the repository); elsewhere (CI) they skip,
// saying so once.
import { execFileSync } from "node:child_process";

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
