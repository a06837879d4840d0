// MAC mobility (RFC 7432 §15) in the MAC table: sequence numbers, the
// equal-sequence tie-break, sticky MACs, the local-presence check and
// duplicate detection with a fake clock.
import { describe, expect, it } from "vitest";
import { beats, MacTable, type ClaimHolder } from "../../src/control/evpn/macs.ts";
import { quietLog, RecordingPort } from "./evpn-helpers.ts";

const M = "02:00:00:00:00:01";
const LOCAL = "192.0.2.5";

function table(moves = 5, seconds = 180) {
  const port = new RecordingPort();
  const changed: string[] = [];
  let t = 1_000_000;
  const clock = { now: () => t, advance: (s: number) => (t += s * 1000) };
  const table = new MacTable(LOCAL, port, { dupDetectMoves: moves, dupDetectSeconds: seconds }, quietLog, (vni, mac, urgent) => changed.push(`${vni} ${mac}${urgent ? " urgent" : ""}`), clock.now);
  // each route's best path holds what it claims (the speaker hands it on); here one holder per route
  const holders = new Map<string, ClaimHolder>();
  const mt = {
    table,
    setClaims(source: string, claims: Parameters<MacTable["setClaims"]>[3]) {
      let h = holders.get(source);
      if (!h) holders.set(source, (h = {}));
      table.setClaims(source, h, h, claims);
    },
    learnLocal: table.learnLocal.bind(table),
    forgetLocal: table.forgetLocal.bind(table),
    clearFrozen: table.clearFrozen.bind(table),
    rows: table.rows.bind(table),
    installed: table.installed.bind(table),
    local: table.local.bind(table),
    isFrozen: table.isFrozen.bind(table),
  };
  return { mt, port, changed, clock };
}
const claim = (vtep: string, seq: number, sticky = false) => ({ vni: 100, mac: M, claim: { vtep, seq, sticky } });

describe("winner selection", () => {
  it("sticky, then higher sequence, then lower VTEP IP", () => {
    expect(beats({ vtep: "10.0.0.9", seq: 0, sticky: true }, { vtep: "10.0.0.1", seq: 9, sticky: false })).toBe(true);
    expect(beats({ vtep: "10.0.0.9", seq: 3, sticky: false }, { vtep: "10.0.0.1", seq: 2, sticky: false })).toBe(true);
    expect(beats({ vtep: "10.0.0.2", seq: 3, sticky: false }, { vtep: "10.0.0.10", seq: 3, sticky: false })).toBe(true);
    expect(beats({ vtep: "10.0.0.10", seq: 3, sticky: false }, { vtep: "10.0.0.2", seq: 3, sticky: false })).toBe(false);
  });

  it("installs the best remote claim and follows it", () => {
    const { mt, port } = table();
    mt.setClaims("r1", [claim("10.0.0.1", 0)]);
    mt.setClaims("r2", [claim("10.0.0.2", 1)]);
    mt.setClaims("r3", [claim("10.0.0.3", 1)]);
    expect(port.remote.get(`100/${M}`)).toEqual({ vtep: "10.0.0.2", seq: 1, sticky: false });
    mt.setClaims("r2", []);
    expect(port.remote.get(`100/${M}`)).toEqual({ vtep: "10.0.0.3", seq: 1, sticky: false });
    mt.setClaims("r3", []);
    mt.setClaims("r1", []);
    expect(port.remote.size).toBe(0);
    expect(port.calls.at(-1)).toBe(`remove 100 ${M} 10.0.0.1`);
  });
});

describe("mobility", () => {
  it("a local learn of a remotely held MAC advertises sequence + 1 and removes the remote entry", () => {
    const { mt, port, changed } = table();
    mt.setClaims("r1", [claim("10.0.0.1", 4)]);
    mt.learnLocal(100, M);
    expect(mt.local(100, M)?.seq).toBe(5);
    expect(changed).toEqual([`100 ${M} urgent`]);
    expect(port.remote.size).toBe(0);
  });

  it("a higher remote sequence deletes the local entry when the host is gone", () => {
    const { mt, port } = table();
    mt.learnLocal(100, M);
    mt.setClaims("r1", [claim("10.0.0.1", 1)]);
    expect(port.deleted).toEqual([`100/${M}`]);
    expect(mt.local(100, M)).toBeUndefined();
    expect(port.remote.get(`100/${M}`)?.vtep).toBe("10.0.0.1");
  });

  it("a higher remote sequence while the host is still here is a duplicate: report, re-claim with seq + 1", () => {
    const { mt, port, changed } = table();
    port.present.add(`100/${M}`);
    mt.learnLocal(100, M);
    mt.setClaims("r1", [claim("10.0.0.1", 3)]);
    expect(port.deleted).toEqual([]);
    expect(port.duplicates).toEqual([`100/${M}`]);
    expect(mt.local(100, M)?.seq).toBe(4);
    expect(changed.at(-1)).toBe(`100 ${M} urgent`);
    expect(port.remote.size).toBe(0);
  });

  it("equal sequence: the lower originator IP wins", () => {
    const { mt, port } = table();
    mt.learnLocal(100, M); // local VTEP 192.0.2.5, seq 0
    mt.setClaims("hi", [claim("192.0.2.9", 0)]);
    expect(mt.local(100, M)).toBeDefined(); // 192.0.2.5 < 192.0.2.9: we keep it
    mt.setClaims("lo", [claim("192.0.2.1", 0)]);
    expect(mt.local(100, M)).toBeUndefined(); // 192.0.2.1 wins
    expect(port.remote.get(`100/${M}`)?.vtep).toBe("192.0.2.1");
  });

  it("sticky MACs never move", () => {
    const { mt, port } = table();
    mt.learnLocal(100, M, { sticky: true });
    mt.setClaims("r1", [claim("10.0.0.1", 9)]);
    expect(mt.local(100, M)).toBeDefined();
    expect(port.deleted).toEqual([]);
    expect(port.duplicates).toEqual([`100/${M}`]);
    // and a remote static MAC is not taken over by a local learn
    const t2 = table();
    t2.mt.setClaims("r1", [claim("10.0.0.1", 0, true)]);
    t2.mt.learnLocal(100, M);
    expect(t2.mt.local(100, M)).toBeUndefined();
    expect(t2.port.remote.get(`100/${M}`)).toEqual({ vtep: "10.0.0.1", seq: 0, sticky: true });
    expect(t2.port.duplicates).toEqual([`100/${M}`]);
  });

  it("duplicate detection: N moves within M seconds freeze the MAC and report it once", () => {
    const { mt, port, clock } = table(3, 60);
    // remote <-> local ping-pong: learn (move 1), remote wins (move 2), learn (move 3) -> frozen
    mt.setClaims("r1", [claim("10.0.0.1", 0)]);
    mt.learnLocal(100, M);
    clock.advance(1);
    mt.setClaims("r1", [claim("10.0.0.1", 2)]);
    clock.advance(1);
    mt.learnLocal(100, M);
    expect(mt.isFrozen(100, M)).toBe(true);
    expect(port.calls.filter((c) => c.startsWith("duplicate"))).toHaveLength(1);
    expect(port.calls.find((c) => c.startsWith("duplicate"))).toMatch(/frozen: 3 moves in 60 s/);
    // frozen: a higher remote sequence no longer moves it
    const seq = mt.local(100, M)!.seq;
    mt.setClaims("r1", [claim("10.0.0.1", seq + 5)]);
    expect(mt.local(100, M)?.seq).toBe(seq);
    expect(mt.clearFrozen(100, M)).toBe(true);
    expect(mt.local(100, M)).toBeUndefined(); // unfrozen: the remote claim wins now
  });

  it("moves spread over more than M seconds do not freeze", () => {
    const { mt, clock } = table(3, 60);
    for (let i = 0; i < 4; i++) {
      mt.setClaims("r1", [claim("10.0.0.1", i * 2 + 1)]);
      clock.advance(40);
      mt.learnLocal(100, M);
      clock.advance(40);
    }
    expect(mt.isFrozen(100, M)).toBe(false);
  });
});
