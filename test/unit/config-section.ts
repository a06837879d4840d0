// Helpers for the tests of one config section (bgp:, mirror:, multicast:):
// the section's lines are appended to a small valid file, and problems are
// read back with the source text they point at.
import { expect } from "vitest";
import { parseConfig } from "../../src/config/load.ts";
import { ConfigError, type SwitchConfig } from "../../src/config/types.ts";

/** Lines 1..9 of every such file; the section's own lines start at line 10. */
export const BASE = [
  "switch:",
  "  name: leaf1",
  "vtep:",
  "  source_ip: 10.0.0.1",
  "uplinks:",
  "  - name: eth0",
  "vnis:",
  "  - vni: 100",
  "  - vni: 200",
];

export function sectionFile(file: string) {
  const load = (lines: string[], base = BASE): SwitchConfig => parseConfig([...base, ...lines].join("\n") + "\n", file);
  return {
    load,
    /** The ConfigError's problems (the test fails if the file loads). */
    problems(lines: string[], base = BASE): string[] {
      try {
        load(lines, base);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).problems;
      }
      throw new Error("expected a ConfigError");
    },
    /** The source text starting at a problem's line:col. */
    textAt(lines: string[], problem: string, base = BASE): string {
      const m = /^[^:]+:(\d+):(\d+): /.exec(problem)!;
      return [...base, ...lines][Number(m[1]) - 1]!.slice(Number(m[2]) - 1);
    },
  };
}
