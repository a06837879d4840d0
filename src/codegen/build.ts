// Turns a pipeline into an ELF: writes the generated C next to copies of the
// stage fragments it includes, compiles with clang, and caches the object by
// the hash of everything that went into it.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { emitProgram, emitTablesHeader, stageFragments } from "./emit-c.ts";
import type { Pipeline } from "./pipeline.ts";

export const BPF_SOURCE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../bpf");
export const DEFAULT_CACHE_DIR = "/var/cache/vxgate";

export interface BuiltPipeline {
  hash: string;
  dir: string;
  objectPath: string;
  /** true when the object came from the cache (or an ahead-of-time build) */
  reused: boolean;
}

export interface GeneratedSources {
  hash: string;
  files: Record<string, string>; // file name -> content
}

/** All C sources for a pipeline: generated ones plus the fragments it includes. */
export function generateSources(p: Pipeline): GeneratedSources {
  const files: Record<string, string> = {
    "vxgate_tables.h": emitTablesHeader(p),
    "vxgate.c": emitProgram(p),
  };
  for (const f of stageFragments(p)) files[f] = readFileSync(join(BPF_SOURCE_DIR, f), "utf8");
  const h = createHash("sha256");
  h.update(clangFlags().join(" "));
  for (const name of Object.keys(files).sort()) h.update(`\0${name}\0${files[name]}`);
  return { hash: h.digest("hex").slice(0, 16), files };
}

function clangFlags(): string[] {
  return ["-target", "bpf", "-O2", "-g", "-Wall", "-Wundef", "-Werror", "-Wno-unused-function", "-I/usr/include/x86_64-linux-gnu"];
}

export class CompileError extends Error {
  constructor(message: string, public readonly output: string) {
    super(message);
    this.name = "CompileError";
  }
}

/** Write sources to `<outDir>/<hash>/` and compile unless an object for that hash is
 * already there. */
export function buildPipeline(p: Pipeline, outDir: string = DEFAULT_CACHE_DIR): BuiltPipeline {
  const src = generateSources(p);
  const dir = join(outDir, src.hash);
  const objectPath = join(dir, "vxgate.bpf.o");
  if (existsSync(objectPath)) return { hash: src.hash, dir, objectPath, reused: true };
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(src.files)) writeFileSync(join(dir, name), content);
  const tmp = `${objectPath}.tmp${process.pid}`;
  try {
    execFileSync("clang", [...clangFlags(), "-c", join(dir, "vxgate.c"), "-o", tmp], {
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new CompileError(`clang failed for ${join(dir, "vxgate.c")}`, err.stderr?.toString() ?? err.message);
  }
  renameSync(tmp, objectPath); // atomic: a concurrent reader sees no half-written object
  return { hash: src.hash, dir, objectPath, reused: false };
}
