// `vxgate show fdb` against a management API that streams its rows
// (api.ts streamJsonArray, as the daemon serves /v1/fdb): the CLI's output is
// byte for byte what it printed when it read the whole answer first
// (JSON.stringify(rows, null, 2) + "\n", or the table), it is complete through
// a pipe whose reader is slow (the process used to exit with output still
// queued), and a reader that goes away early (`| head`) ends it quietly.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "../../lab/fabric.ts";
import { streamJsonArray } from "../../src/control/api.ts";
import { renderTable } from "../../src/cli/table.ts";

const ROWS = 20_000;
const rows = Array.from({ length: ROWS }, (_, i) => {
  const mac = `02:10:00:00:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;
  return i % 3 === 0
    ? { vni: 100, mac, type: "local", source: "learned", static: false, port: `h${i % 7}`, vlan: i % 2 ? 10 : 0, ageSeconds: i / 1000 }
    : { vni: 100 + (i % 5), mac, type: "remote", source: i % 2 ? "static" : "evpn", static: i % 2 === 1, remote: `10.0.${i % 250}.2`, ...(i % 11 ? {} : { frozen: true }) };
});

// not rows the API makes, but JSON the CLI must re-indent exactly all the same
const odd = [
  { a: {}, b: [], c: [{}], d: { e: [1, [2, []], { f: null }] }, g: "q\"uo\\te, {x: [y]}", h: "\n\t\u0001é€😀", i: -0.5, j: 1e21, k: true },
  [],
  {},
  "s",
  3,
  null,
  [[[]]],
];
let served: unknown[] = rows;

let dir: string;
let socket: string;
let server: Server;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "vxg-show-"));
  socket = join(dir, "mgmt.sock");
  server = createServer((req, res) => {
    if (req.url === "/v1/fdb") return void streamJsonArray(res, served);
    if (req.url === "/v1/empty") return void streamJsonArray(res, []);
    res.writeHead(404).end(JSON.stringify({ error: "no such view" }));
  });
  await new Promise<void>((ok) => server.listen(socket, ok));
});

afterAll(async () => {
  await new Promise((ok) => server.close(ok));
  rmSync(dir, { recursive: true, force: true });
});

/** Run the CLI with its stdout in a pipe read `slowly` (paused between reads). */
function show(args: string[], opts: { slow?: boolean; stopAfter?: number } = {}): Promise<{ code: number | null; out: Buffer; err: string }> {
  return new Promise((ok) => {
    const p = spawn(process.execPath, ["--import", "tsx", CLI, "show", ...args, "--socket", socket], { stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let got = 0;
    let err = "";
    p.stderr.setEncoding("utf8").on("data", (s: string) => (err += s));
    p.stdout.on("data", (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (opts.stopAfter !== undefined && got >= opts.stopAfter) p.stdout.destroy();
      else if (opts.slow) {
        p.stdout.pause();
        setTimeout(() => p.stdout.resume(), 2);
      }
    });
    p.on("close", (code) => ok({ code, out: Buffer.concat(chunks), err }));
  });
}

describe("vxgate show fdb, streamed", () => {
  it("the API streams the same text JSON.stringify makes of the whole array", async () => {
    const body = await new Promise<string>((ok, fail) => {
      import("node:http").then(({ request }) =>
        request({ socketPath: socket, path: "/v1/fdb" }, (res) => {
          let b = "";
          res.setEncoding("utf8").on("data", (c: string) => (b += c)).on("end", () => ok(b));
        })
          .on("error", fail)
          .end(),
      );
    });
    expect(body).toBe(JSON.stringify(rows));
  });

  it("--json through a slow pipe: every byte, as JSON.stringify(rows, null, 2)", async () => {
    const r = await show(["fdb", "--json"], { slow: true });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const want = JSON.stringify(rows, null, 2) + "\n";
    expect(r.out.length).toBe(Buffer.byteLength(want));
    expect(r.out.toString("utf8")).toBe(want);
    expect((JSON.parse(r.out.toString("utf8")) as unknown[]).length).toBe(ROWS);
  }, 60_000);

  it("the table through a slow pipe: every line, as before", async () => {
    const r = await show(["fdb"], { slow: true });
    expect(r.code).toBe(0);
    expect(r.out.toString("utf8")).toBe(renderTable(rows, ["vni", "mac", "type", "source", "port", "vlan", "remote", "frozen", "ageSeconds"]));
  }, 60_000);

  it("--json re-indents any JSON exactly as JSON.stringify(value, null, 2)", async () => {
    try {
      for (const v of [odd, []]) {
        served = v;
        const r = await show(["fdb", "--json"]);
        expect(r.code).toBe(0);
        expect(r.out.toString("utf8")).toBe(JSON.stringify(v, null, 2) + "\n");
      }
    } finally {
      served = rows;
    }
  }, 60_000);

  it("a reader that stops early ends it quietly", async () => {
    const r = await show(["fdb", "--json"], { stopAfter: 1000 });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
  }, 60_000);
});
