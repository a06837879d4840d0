import { describe, expect, it } from "vitest";
import { eventCodec, structCodec, tableCodec } from "../../src/control/codec.ts";
import { tables } from "../../src/codegen/tables.ts";

describe("table codecs", () => {
  it("encode the FDB key as the C struct lays it out", () => {
    const k = tableCodec("fdb").key.encode({ vni: 100, mac: "02:00:00:00:00:01" });
    expect(k.toString("hex")).toBe("64000000" + "020000000001" + "0000");
  });

  it("put network-order fields in network order", () => {
    const g = tableCodec("globals").value.encode({ vtep_ip: "10.0.0.1", udp_port: 4789, uplink_mac: "02:00:00:00:00:0e", fib_ifindex: 3, replicator_ip: "10.0.0.101", igmp_rate: 100, no_neigh_ns: 0n });
    expect(g.subarray(0, 12).toString("hex")).toBe("0a000001" + "12b5" + "02000000000e");
    expect(g.readUInt32LE(12)).toBe(3);
    expect(g.subarray(16, 20).toString("hex")).toBe("0a000065");
  });

  it("round-trip every table's values", () => {
    const fdb = tableCodec("fdb");
    const v = { kind: 2, flags: 1, vlan: 4094, ifindex: 0, remote: "192.0.2.7", seen_ns: 123456789012n, event_ns: 1n };
    expect(fdb.value.decode(fdb.value.encode(v))).toEqual(v);
    const flood = tableCodec("flood");
    const f = { kind: 1, vlan: 10, ifindex: 42, remote: "0.0.0.0" };
    expect(flood.value.decode(flood.value.encode(f))).toEqual(f);
    expect(fdb.value.size).toBe(32);
    expect(tableCodec("vlans").key.size).toBe(8);
  });

  it("match packed values on some fields without decoding them (forEach's where)", () => {
    const c = tableCodec("fdb").value;
    const entry = (kind: number, remote: string) => c.encode({ kind, flags: 4, vlan: 0, ifindex: 0, remote, seen_ns: 0n, event_ns: 0n });
    const packed = Buffer.concat([entry(1, "0.0.0.0"), entry(2, "198.18.0.2"), entry(2, "198.18.0.3")]);
    const at = (m: (b: Buffer, o: number) => boolean) => [0, 1, 2].filter((i) => m(packed, i * c.size));
    expect(at(c.matcher({ kind: 2 }))).toEqual([1, 2]);
    expect(at(c.matcher({ kind: 2, remote: "198.18.0.3" }))).toEqual([2]);
    expect(at(c.matcher({ kind: 1, flags: 4 }))).toEqual([0]);
    expect(at(c.matcher({}))).toEqual([0, 1, 2]);
    expect(() => c.matcher({ nope: 1 } as never)).toThrow(/no field nope/);
    expect(() => c.matcher({ kind: 2 })(packed, 2 * c.size + 1)).toThrow(RangeError);
  });

  it("reject missing fields and short buffers", () => {
    const c = structCodec(tables.vnis.value);
    expect(() => c.encode({ flags: 1 } as never)).toThrow(/flood_count missing/);
    expect(() => c.decode(Buffer.alloc(4))).toThrow(/4 bytes, need 8/);
  });

  it("decode a data-path event", () => {
    const b = Buffer.alloc(eventCodec.size);
    b[0] = 2; // EVT_MOVE
    b.writeUInt16LE(10, 2);
    b.writeUInt32LE(100, 4);
    Buffer.from("020000000001", "hex").copy(b, 8);
    b.writeUInt32LE(7, 16);
    expect(eventCodec.decode(b)).toEqual({ kind: 2, vlan: 10, vni: 100, mac: "02:00:00:00:00:01", ifindex: 7, remote: "0.0.0.0" });
  });
});
