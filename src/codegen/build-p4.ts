// Turns a pipeline into a bmv2 program: writes the generated P4 next to copies
// of the p4/ fragments it includes, compiles with p4c-bm2-ss, and caches the
// JSON by the hash of everything that went into it (as build.ts does the ELF).
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { emitP4Program, emitP4Tables, p4Fragments, type P4Options } from "./emit-p4.ts";
import { CompileError, DEFAULT_CACHE_DIR } from "./build.ts";
import type { Pipeline } from "./pipeline.ts";

export const P4_SOURCE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../p4");
export const P4C = "p4c-bm2-ss";

export interface BuiltP4 {
  hash: string;
  dir: string;
  /** the program p4c compiled */
  sourcePath: string;
  /** bmv2's JSON, what simple_switch loads */
  jsonPath: string;
  reused: boolean;
}

export function generateP4Sources(p: Pipeline, o: P4Options): { hash: string; files: Record<string, string> } {
  const files: Record<string, string> = {
    "vxgate_tables.p4": emitP4Tables(p, o),
    "vxgate_main.p4": emitP4Program(p),
  };
  for (const f of p4Fragments(p)) files[f] = readFileSync(join(P4_SOURCE_DIR, f), "utf8");
  const h = createHash("sha256");
  h.update(p4cFlags().join(" "));
  for (const name of Object.keys(files).sort()) h.update(`\0${name}\0${files[name]}`);
  return { hash: h.digest("hex").slice(0, 16), files };
}

function p4cFlags(): string[] {
  return ["--arch", "v1model", "--std", "p4-16"];
}

/** p4c on PATH? (bmv2 is built from source; CI has none) */
export function p4cAvailable(): boolean {
  try {
    execFileSync(P4C, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Write sources to `<outDir>/p4-<hash>/` and compile unless its JSON is already there. */
export function buildP4(p: Pipeline, o: P4Options, outDir: string = DEFAULT_CACHE_DIR): BuiltP4 {
  const src = generateP4Sources(p, o);
  const dir = join(outDir, `p4-${src.hash}`);
  const sourcePath = join(dir, "vxgate_main.p4");
  const jsonPath = join(dir, "vxgate.json");
  if (existsSync(jsonPath)) return { hash: src.hash, dir, sourcePath, jsonPath, reused: true };
  for (const [name, content] of Object.entries(src.files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  const tmp = `${jsonPath}.tmp${process.pid}`;
  try {
    execFileSync(P4C, [...p4cFlags(), "-o", tmp, sourcePath], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string; code?: string };
    if (err.code === "ENOENT") throw new CompileError(`${P4C} is not on PATH: the bmv2 target needs p4c (built from its public sources)`, "");
    throw new CompileError(`${P4C} failed for ${sourcePath}`, err.stderr?.toString() ?? err.message);
  }
  renameSync(tmp, jsonPath);
  return { hash: src.hash, dir, sourcePath, jsonPath, reused: false };
}
