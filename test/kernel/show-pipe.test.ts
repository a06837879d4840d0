// `vxgate show fdb --json` through a pipe, from a real switch with a table of
// several thousand entries: the piped output is every byte the CLI must print
// (the API's rows as JSON.stringify(rows, null, 2) + "\n") and parses with
// every row. The CLI used to exit with most of a large answer still queued for
// the pipe (`| jq length` failed at 64 KiB); the API now streams the table and
// the CLI writes as it reads and exits only once stdout took everything.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI } from "../../lab/fabric.ts";
import { REMOTE_A, bootSwitch, type SwitchUnderTest } from "./switch-fixture.ts";

const MACS = 6000;
const mac = (i: number) => `02:20:00:00:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;

let sw: SwitchUnderTest;

beforeAll(async () => {
  const statics = Array.from({ length: MACS }, (_, i) => (i % 2 ? `      - { mac: "${mac(i)}", port: h1 }` : `      - { mac: "${mac(i)}", remote: ${REMOTE_A} }`));
  sw = await bootSwitch(
    "showpipe",
    `ports:
  - { name: h1, vni: 100 }
vnis:
  - vni: 100
    flood: [${REMOTE_A}]
    static_macs:
${statics.join("\n")}
`,
    [{ name: "a", port: "h1", mac: "02:00:00:00:01:01", cidr: "198.51.100.1/24" }],
  );
}, 120_000);

afterAll(async () => {
  await sw?.dispose();
});

describe("show fdb --json through a pipe", () => {
  it("is complete: every byte, every row", async () => {
    const rows = await sw.api<{ vni: number; mac: string; source: string }[]>("fdb");
    expect(rows.length).toBe(MACS);
    const want = JSON.stringify(rows, null, 2) + "\n";
    expect(Buffer.byteLength(want)).toBeGreaterThan(64 * 1024 * 10);

    const out = join(sw.lab.tmpdir, "fdb.json");
    const q = (s: string) => `'${s}'`;
    // the pipe's reader is slow to start (sleep): the CLI must wait for it, not exit
    const bytes = await sw.lab.execAsync(null, "sh", ["-c", `${[process.execPath, "--import", "tsx", CLI, "show", "fdb", "--json", "--config", sw.configPath].map(q).join(" ")} | (sleep 1; tee ${q(out)} | wc -c)`], { timeoutMs: 60_000 });
    expect(Number(bytes.trim())).toBe(Buffer.byteLength(want));
    const piped = JSON.parse(readFileSync(out, "utf8")) as { mac: string; source: string }[];
    expect(piped.length).toBe(MACS);
    expect(new Set(piped.map((r) => r.mac))).toEqual(new Set(Array.from({ length: MACS }, (_, i) => mac(i))));
    expect(piped.every((r) => r.source === "static")).toBe(true);
    expect(readFileSync(out, "utf8")).toBe(want);
  }, 120_000);
});
