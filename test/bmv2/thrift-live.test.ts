// The Thrift client against a real simple_switch: compiles
// fixtures/thrift-live.p4 with p4c-bm2-ss, starts simple_switch on a free
// Thrift port (no interfaces), and drives tables, PRE, mirroring, counters and
// registers through Bmv2Runtime. Skips when the bmv2 tools are not on PATH.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ChildProcess, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isRunning, spawnTracked, stopChild } from "../harness/proc.ts";
import { skipWithoutBmv2 } from "./tools.ts";
import { Bmv2Error } from "../../src/control/targets/bmv2/thrift/client.ts";
import { Bmv2Runtime, type MatchParam, fitWidth, match } from "../../src/control/targets/bmv2/thrift/runtime.ts";

const haveTools = !skipWithoutBmv2();

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "thrift-live.p4");
const N = 10_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Object names as p4c-bm2-ss wrote them into the JSON (it prefixes the control's name). */
interface Names {
  table: string;
  forward: string;
  drop: string;
  counter: string;
  register: string;
}

function namesFrom(json: string): Names {
  const j = JSON.parse(json) as {
    pipelines: { tables: { name: string }[] }[];
    actions: { name: string }[];
    counter_arrays: { name: string }[];
    register_arrays: { name: string }[];
  };
  const find = (list: { name: string }[], short: string): string => {
    const hit = list.find((o) => o.name === short || o.name.endsWith(`.${short}`));
    if (!hit) throw new Error(`${short} not in the compiled JSON (have ${list.map((o) => o.name).join(", ")})`);
    return hit.name;
  };
  return {
    table: find(j.pipelines.flatMap((p) => p.tables), "t"),
    forward: find(j.actions, "forward"),
    drop: find(j.actions, "drop"),
    counter: find(j.counter_arrays, "port_hits"),
    register: find(j.register_arrays, "last_tag"),
  };
}

// Entry i: dst MAC 02:00:00:<i as 3 bytes>, vni i % 7; forward(port = i % 500, tag = i * 3).
const macOf = (i: number): Buffer => Buffer.from([0x02, 0, 0, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff]);
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};
const u16 = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};
const keyOf = (i: number): MatchParam[] => [match.exact(macOf(i)), match.exact(u32(i % 7))];
const dataOf = (i: number): Buffer[] => [u16(i % 500), u32(i * 3)];

describe.skipIf(!haveTools)("bmv2 Thrift client against simple_switch", () => {
  let dir = "";
  let sw: ChildProcess | undefined;
  let swOutput = "";
  let port = 0;
  let rt: Bmv2Runtime;
  let names: Names;
  let jsonText = "";
  const handles: number[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "vxgate-bmv2-thrift-"));
    const json = join(dir, "thrift-live.json");
    execFileSync("p4c-bm2-ss", ["-o", json, FIXTURE], { stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
    jsonText = readFileSync(json, "utf8");
    names = namesFrom(jsonText);

    port = await freePort();
    sw = spawnTracked(null, "simple_switch", [
      "--log-level",
      "off",
      "--thrift-port",
      String(port),
      // a private notifications socket: the default (/tmp/bmv2-<device>-notifications.ipc) collides between runs
      "--notifications-addr",
      `ipc://${join(dir, "notifications.ipc")}`,
      json,
    ]);
    sw.stdout?.setEncoding("utf8").on("data", (d: string) => (swOutput += d));
    sw.stderr?.setEncoding("utf8").on("data", (d: string) => (swOutput += d));
    const exited = new Promise<never>((_, reject) =>
      sw!.once("exit", (code, sig) => reject(new Error(`simple_switch exited (${code ?? sig}) before serving Thrift:\n${swOutput}`))),
    );
    exited.catch(() => {});
    rt = await Promise.race([Bmv2Runtime.connect({ port, waitForServer: true, connectTimeoutMs: 20_000 }), exited]);
  }, 180_000);

  afterAll(async () => {
    await rt?.close().catch(() => {});
    if (sw) await stopChild(sw);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("reports the program it runs and itself", async () => {
    const [config, md5, info, elapsed] = await Promise.all([rt.getConfig(), rt.getConfigMd5(), rt.getInfo(), rt.getTimeElapsedUs()]);
    expect(JSON.parse(config)).toEqual(JSON.parse(jsonText));
    expect(md5).toHaveLength(16);
    expect(md5.toString("hex")).toBe(createHash("md5").update(config).digest("hex"));
    expect(info.thriftPort).toBe(port);
    expect(elapsed).toBeGreaterThan(0n);
    expect(isRunning(sw!)).toBe(true);
  });

  it(`adds ${N} entries pipelined`, async () => {
    const t0 = performance.now();
    const writes0 = rt.client.stats.socketWrites;
    const added = await Promise.all(Array.from({ length: N }, (_, i) => rt.addEntry(names.table, keyOf(i), names.forward, dataOf(i))));
    const ms = performance.now() - t0;
    handles.push(...added);
    console.log(
      `bm_mt_add_entry: ${N} entries in ${ms.toFixed(0)} ms = ${Math.round((N / ms) * 1000)} entries/s ` +
        `(${rt.client.stats.socketWrites - writes0} socket writes)`,
    );
    expect(new Set(added).size).toBe(N);
    expect(await rt.getNumEntries(names.table)).toBe(N);
  }, 180_000);

  it("get_entries returns exactly them", async () => {
    const t0 = performance.now();
    const entries = await rt.getEntries(names.table);
    console.log(`bm_mt_get_entries: ${entries.length} entries in ${(performance.now() - t0).toFixed(0)} ms`);
    expect(entries).toHaveLength(N);
    const byHandle = new Map(handles.map((h, i) => [h, i]));
    for (const e of entries) {
      const i = byHandle.get(e.handle);
      expect(i).toBeDefined();
      expect(e.key).toEqual(keyOf(i!));
      expect(e.life).toBeUndefined();
      if (e.action.kind !== "action") throw new Error(`entry ${e.handle}: ${e.action.kind}`);
      expect(e.action.name).toBe(names.forward);
      // bmv2 returns action data in shortest form; widen it back to compare
      expect([fitWidth(e.action.data[0]!, 2), fitWidth(e.action.data[1]!, 4)]).toEqual(dataOf(i!));
    }
  }, 120_000);

  it("modifies and deletes entries", async () => {
    await rt.modifyEntry(names.table, handles[0]!, names.forward, [u16(5), u32(0xdeadbeef)]);
    const e = await rt.getEntry(names.table, handles[0]!);
    expect(e.action).toMatchObject({ kind: "action", name: names.forward });
    if (e.action.kind === "action") expect(e.action.data.map((d) => d.toString("hex"))).toEqual(["05", "deadbeef"]);

    await rt.modifyEntry(names.table, handles[2]!, names.drop, []);
    expect((await rt.getEntry(names.table, handles[2]!)).action).toEqual({ kind: "action", name: names.drop, data: [] });

    await rt.deleteEntry(names.table, handles[1]!);
    expect(await rt.getNumEntries(names.table)).toBe(N - 1);
    const gone = await rt.deleteEntry(names.table, handles[1]!).catch((x: unknown) => x);
    expect(gone).toBeInstanceOf(Bmv2Error);
    expect((gone as Bmv2Error).exception).toBe("InvalidTableOperation");

    const byKey = await rt.getEntryByKey(names.table, keyOf(3));
    expect(byKey.handle).toBe(handles[3]);
  });

  it("maps bmv2's table errors to Bmv2Error", async () => {
    const dup = await rt.addEntry(names.table, keyOf(4), names.forward, dataOf(4)).catch((x: unknown) => x);
    expect(dup).toBeInstanceOf(Bmv2Error);
    expect(dup).toMatchObject({ exception: "InvalidTableOperation", code: 17, codeName: "DUPLICATE_ENTRY" });
    expect((dup as Error).message).toContain("InvalidTableOperation: DUPLICATE_ENTRY (code 17)");

    const shortKey = rt.addEntry(names.table, [match.exact(Buffer.from([1, 2])), match.exact(u32(0))], names.forward, dataOf(0));
    await expect(shortKey).rejects.toMatchObject({ codeName: "BAD_MATCH_KEY" });
    await expect(rt.addEntry(names.table, keyOf(N + 1), "no_such_action", [])).rejects.toMatchObject({ codeName: "INVALID_ACTION_NAME" });
    await expect(rt.getNumEntries("no_such_table")).rejects.toMatchObject({ codeName: "INVALID_TABLE_NAME" });
    // bmv2 answers get_entries on an unknown table with an empty list, not an error
    await expect(rt.getEntries("no_such_table")).resolves.toEqual([]);
    // the connection survives all of that
    expect(await rt.getNumEntries(names.table)).toBe(N - 1);
  });

  it("sets the default action and clears the table", async () => {
    await rt.setDefaultAction(names.table, names.forward, [u16(9), u32(7)]);
    const d = await rt.getDefaultEntry(names.table);
    expect(d).toMatchObject({ kind: "action", name: names.forward });
    await rt.clearEntries(names.table, true);
    expect(await rt.getNumEntries(names.table)).toBe(0);
  });

  it("creates a multicast group with a node", async () => {
    const group = await rt.mcGroupCreate(1);
    expect(group).toBe(1);
    const node = await rt.mcNodeCreate(7, [1, 2, 5]);
    await rt.mcNodeAssociate(group, node);
    let dump = await rt.mcGetEntries();
    expect(dump.mgrps).toEqual([{ id: 1, l1_handles: [node] }]);
    const l1 = dump.l1_handles.find((h) => h.handle === node)!;
    expect(l1.rid).toBe(7);
    expect(dump.l2_handles.find((h) => h.handle === l1.l2_handle)!.ports).toEqual([1, 2, 5]);

    await rt.mcNodeUpdate(node, [3]);
    dump = await rt.mcGetEntries();
    expect(dump.l2_handles.find((h) => h.handle === l1.l2_handle)!.ports).toEqual([3]);

    await rt.mcNodeDissociate(group, node);
    await rt.mcNodeDestroy(node);
    await rt.mcGroupDestroy(group);
    await expect(rt.mcNodeDestroy(node)).rejects.toMatchObject({ exception: "InvalidMcOperation", codeName: "INVALID_L1_HANDLE" });
  });

  it("adds, reads and deletes a mirroring session", async () => {
    await rt.mirroringSessionAdd(5, { port: 3 });
    expect(await rt.mirroringSessionGet(5)).toEqual({ port: 3 });
    await rt.mirroringSessionDelete(5);
    await expect(rt.mirroringSessionGet(5)).rejects.toMatchObject({ exception: "InvalidMirroringOperation", codeName: "SESSION_NOT_FOUND" });
  });

  it("reads counters and registers", async () => {
    expect(await rt.readCounter(names.counter, 0)).toEqual({ bytes: 0n, packets: 0n });
    await rt.writeCounter(names.counter, 1, { bytes: 1500n, packets: 1n });
    expect(await rt.readCounter(names.counter, 1)).toEqual({ bytes: 1500n, packets: 1n });
    await rt.resetCounter(names.counter);
    expect(await rt.readCounter(names.counter, 1)).toEqual({ bytes: 0n, packets: 0n });
    await expect(rt.readCounter(names.counter, 64)).rejects.toMatchObject({ exception: "InvalidCounterOperation", codeName: "INVALID_INDEX" });

    await rt.writeRegister(names.register, 3, 0xabcdef);
    expect(await rt.readRegister(names.register, 3)).toBe(0xabcdefn);
    const all = await rt.readRegisterAll(names.register);
    expect(all).toHaveLength(16);
    expect(all[3]).toBe(0xabcdefn);
    await expect(rt.readRegister("no_such_register", 0)).rejects.toMatchObject({ codeName: "INVALID_REGISTER_NAME" });
  });

  it("a service simple_switch does not register fails that call and that connection only", async () => {
    // simple_switch registers simple_pre_lag, not simple_pre; Thrift's
    // multiplexed processor answers an unknown service (newer Thrift: with a
    // TApplicationException) and then drops the connection.
    const other = await Bmv2Runtime.connect({ port, pre: "simple_pre" });
    try {
      await expect(other.mcGroupCreate(2)).rejects.toThrow(/Unknown service|closed/);
    } finally {
      other.client.destroy();
    }
    expect(await rt.getNumEntries(names.table)).toBe(0);
  });
});
