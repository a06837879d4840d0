// What the API changed at run time (static MACs, mirror sessions, multicast
// remote lists) kept in /run/vxgate/<switch>/ so a restarted control plane
// keeps it: a JSON file, replaced atomically, read back leniently.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "./log.ts";

/** The saved list, or [] when there is none or it cannot be read (logged: `what` names it). */
export function loadStateList<T>(file: string, log: Logger, what: string, keep: (x: unknown) => x is T = (x): x is T => x !== null && typeof x === "object"): T[] {
  if (!existsSync(file)) return [];
  try {
    const list = JSON.parse(readFileSync(file, "utf8")) as unknown;
    if (!Array.isArray(list)) throw new Error("not a list");
    return list.filter(keep);
  } catch (e) {
    log.warn(`could not read ${what}: starting without them`, { file, error: String(e) });
    return [];
  }
}

/** Write-then-rename: a crash leaves the old file or the new one, never half of one. */
export function saveStateList(file: string, list: readonly unknown[]): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, JSON.stringify(list, null, 2));
  renameSync(tmp, file);
}
