// The bmv2 Thrift client: binary-protocol codecs, message framing, and the
// pipelining client against a fake server on 127.0.0.1.
import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import {
  type Codec,
  MessageFramer,
  MessageType,
  Reader,
  ThriftProtocolError,
  TType,
  Writer,
  applicationException,
  binary,
  bool,
  double,
  encodeMessage,
  field,
  i16,
  i32,
  i64,
  i8,
  list,
  map,
  optional,
  readMessageBegin,
  set,
  string,
  struct,
  writeMessage,
} from "../../src/control/targets/bmv2/thrift/protocol.ts";
import { Bmv2Error, ThriftApplicationError, ThriftClient, ThriftTransportError, defineMethod } from "../../src/control/targets/bmv2/thrift/client.ts";
import { Bmv2Runtime, fitWidth, match, portMap, standard } from "../../src/control/targets/bmv2/thrift/runtime.ts";

function roundTrip<R, W>(codec: Codec<R, W>, v: W): R {
  const w = new Writer(8);
  codec.write(w, v);
  const bytes = w.take();
  const r = new Reader(bytes);
  const out = codec.read(r);
  expect(r.remaining).toBe(0);
  return out;
}

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ""), "hex");

describe("bmv2 thrift: binary protocol codecs", () => {
  it("round-trips every primitive at its edges", () => {
    for (const v of [true, false]) expect(roundTrip(bool, v)).toBe(v);
    for (const v of [-128, -1, 0, 127]) expect(roundTrip(i8, v)).toBe(v);
    for (const v of [-32768, 0, 32767]) expect(roundTrip(i16, v)).toBe(v);
    for (const v of [-2147483648, -1, 0, 2147483647]) expect(roundTrip(i32, v)).toBe(v);
    for (const v of [-(1n << 63n), -1n, 0n, (1n << 63n) - 1n]) expect(roundTrip(i64, v)).toBe(v);
    expect(roundTrip(i64, Number.MAX_SAFE_INTEGER)).toBe(BigInt(Number.MAX_SAFE_INTEGER));
    for (const v of [0, -0, 1.5, -1e300, Number.MIN_VALUE, Infinity, -Infinity]) expect(Object.is(roundTrip(double, v), v)).toBe(true);
    expect(roundTrip(double, NaN)).toBeNaN();
    for (const v of ["", "t", "ingress.fdb", "μ-é-😀"]) expect(roundTrip(string, v)).toBe(v);
    for (const v of [Buffer.alloc(0), hex("00"), hex("0a0b0c0d0e0f"), Buffer.alloc(70_000, 0xa5)]) expect(roundTrip(binary, v).equals(v)).toBe(true);
  });

  it("round-trips lists, sets, maps and nested structs with optional fields", () => {
    expect(roundTrip(list(i32), [1, -2, 3])).toEqual([1, -2, 3]);
    expect(roundTrip(list(binary), [])).toEqual([]);
    expect(roundTrip(set(string), ["a", "b"])).toEqual(["a", "b"]);
    const m = new Map([
      ["k1", "v1"],
      ["k2", ""],
    ]);
    expect(roundTrip(map(string, string), m)).toEqual(m);
    expect(roundTrip(map(i16, list(i64)), new Map([[7, [1n, 2n]]]))).toEqual(new Map([[7, [1n, 2n]]]));
    const inner = struct("Inner", { key: field(1, binary), len: optional(2, i32) });
    const outer = struct("Outer", { a: field(1, i8), inners: field(2, list(inner)), flag: optional(3, bool), d: optional(9, double) });
    const v = { a: 5, inners: [{ key: hex("0102") }, { key: hex(""), len: 3 }], flag: false };
    expect(roundTrip(outer, v)).toEqual(v);
  });

  it("round-trips random values (property)", () => {
    const s = struct("S", {
      b: field(1, bool),
      x8: field(2, i8),
      x16: field(3, i16),
      x32: field(4, i32),
      x64: field(5, i64),
      d: field(6, double),
      str: field(7, string),
      bin: field(8, binary),
      l: field(9, list(i32)),
      m: field(10, map(string, i64)),
      o: optional(11, struct("O", { z: field(1, i32) })),
    });
    fc.assert(
      fc.property(
        fc.record({
          b: fc.boolean(),
          x8: fc.integer({ min: -128, max: 127 }),
          x16: fc.integer({ min: -32768, max: 32767 }),
          x32: fc.integer({ min: -2147483648, max: 2147483647 }),
          x64: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
          d: fc.double({ noNaN: true }),
          str: fc.string({ unit: "grapheme" }),
          bin: fc.uint8Array().map((a) => Buffer.from(a)),
          l: fc.array(fc.integer({ min: -2147483648, max: 2147483647 })),
          m: fc.dictionary(fc.string(), fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n })).map((o) => new Map(Object.entries(o))),
          o: fc.option(fc.record({ z: fc.integer({ min: 0, max: 100 }) }), { nil: undefined }),
        }),
        (v) => {
          const out = roundTrip(s, v);
          expect(out).toEqual(Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("rejects values that do not fit their type, naming it", () => {
    const w = new Writer();
    expect(() => i32.write(w, 2 ** 31)).toThrow(RangeError);
    expect(() => i32.write(w, 1.5)).toThrow(/i32/);
    expect(() => i8.write(w, 128)).toThrow(/i8/);
    expect(() => i64.write(w, 2 ** 60)).toThrow(/safe integer/);
    expect(() => i64.write(w, 1n << 63n)).toThrow(/out of range/);
    expect(() => binary.write(w, "ab" as unknown as Buffer)).toThrow(TypeError);
    const s = struct("Need", { a: field(1, i32) });
    expect(() => s.write(w, {} as { a: number })).toThrow(/Need\.a \(field 1\) is missing/);
  });

  it("encodes a multiplexed call byte for byte as the spec writes it", () => {
    // standard:bm_mt_delete_entry(cxt_id=0, table_name="t", entry_handle=7), seqid 1
    const bytes = encodeMessage(standard.bm_mt_delete_entry.wireName, MessageType.CALL, 1, standard.bm_mt_delete_entry.args, {
      cxt_id: 0,
      table_name: "t",
      entry_handle: 7,
    });
    const expected = [
      "80010001", // strict version 1 | message type CALL
      "0000001b", // name length 27
      "7374616e646172643a", // "standard:"
      "626d5f6d745f64656c6574655f656e747279", // "bm_mt_delete_entry"
      "00000001", // seqid 1
      "08" + "0001" + "00000000", // i32 field 1 (cxt_id) = 0
      "0b" + "0002" + "00000001" + "74", // string field 2 (table_name) = "t"
      "08" + "0003" + "00000007", // i32 field 3 (entry_handle) = 7
      "00", // STOP
    ].join("");
    expect(bytes.toString("hex")).toBe(expected);
  });

  it("reads a header and skips unknown fields of every type", () => {
    const wide = struct("Wide", {
      a: field(1, i32),
      b: field(2, list(struct("X", { m: field(1, map(string, set(i16))) }))),
      c: field(3, double),
      d: field(4, bool),
      e: field(5, i8),
      f: field(6, i64),
      g: field(7, binary),
    });
    const narrow = struct("Narrow", { a: field(1, i32), g: field(7, binary) });
    const msg = encodeMessage("svc:m", MessageType.REPLY, 42, wide, {
      a: 1,
      b: [{ m: new Map([["x", [1, 2]]]) }],
      c: 2.5,
      d: true,
      e: -1,
      f: 9n,
      g: hex("beef"),
    });
    const r = new Reader(msg);
    expect(readMessageBegin(r)).toEqual({ name: "svc:m", type: MessageType.REPLY, seqid: 42 });
    expect(narrow.read(r)).toEqual({ a: 1, g: hex("beef") });
    expect(r.remaining).toBe(0);
  });

  it("fails with ThriftProtocolError on every truncation and on hostile sizes", () => {
    const s = struct("S", { l: field(1, list(string)), m: field(2, map(i32, binary)) });
    const msg = encodeMessage("m", MessageType.REPLY, 1, s, { l: ["ab", "c"], m: new Map([[1, hex("ff")]]) });
    for (let n = 0; n < msg.length; n++) {
      expect(() => {
        const r = new Reader(msg.subarray(0, n));
        readMessageBegin(r);
        s.read(r);
      }).toThrow(ThriftProtocolError);
    }
    // list<string> claiming 2^31-1 elements in a 10-byte body
    expect(() => list(string).read(new Reader(hex("0b 7fffffff 00000000")))).toThrow(/cannot fit/);
    expect(() => binary.read(new Reader(hex("ffffffff")))).toThrow(/negative length/);
    expect(() => readMessageBegin(new Reader(hex("00000001 61 00 00000001")))).toThrow(/strict/);
    // 10,000 nested lists: an error, not a stack overflow
    const deep = Buffer.concat([...Array.from({ length: 10_000 }, () => hex("0f 00000001")), hex("08 00000000")]);
    expect(() => new Reader(deep).skip(TType.LIST)).toThrow(/nesting/);
  });
});

describe("bmv2 thrift: framing an unframed stream", () => {
  const body = struct("B", { s: field(0, string), l: optional(1, list(map(string, list(i64)))) });
  const messages = [
    encodeMessage("a", MessageType.REPLY, 1, body, { s: "x" }),
    encodeMessage("bb", MessageType.REPLY, 2, body, { s: "", l: [new Map([["k", [1n, 2n, 3n]]]), new Map()] }),
    encodeMessage("c", MessageType.EXCEPTION, 3, applicationException, { message: "boom", type: 6 }),
  ];
  const stream = Buffer.concat(messages);

  it("finds the same messages however the stream is cut", () => {
    for (let cut1 = 0; cut1 <= stream.length; cut1++) {
      for (const cut2 of [cut1, Math.min(stream.length, cut1 + 1), Math.min(stream.length, cut1 + 17)]) {
        const f = new MessageFramer();
        const got = [...f.push(stream.subarray(0, cut1)), ...f.push(stream.subarray(cut1, cut2)), ...f.push(stream.subarray(cut2))];
        expect(got).toEqual(messages);
        expect(f.buffered).toBe(0);
      }
    }
  });

  it("takes a stream one byte at a time", () => {
    const f = new MessageFramer();
    const got: Buffer[] = [];
    for (const b of stream) got.push(...f.push(Buffer.from([b])));
    expect(got).toEqual(messages);
  });

  it("fails and stays failed on a malformed stream", () => {
    const f = new MessageFramer();
    expect(() => f.push(Buffer.from("HTTP/1.1 400 Bad Request\r\n"))).toThrow(ThriftProtocolError);
    expect(() => f.push(messages[0]!)).toThrow(ThriftProtocolError);
    const g = new MessageFramer(1024);
    expect(() => g.push(hex("80010002 00000001 61 00000001 0b 0000 00100000"))).toThrow(/string length/);
  });
});

describe("bmv2 thrift: fuzzing the decoder", () => {
  const entries = standard.bm_mt_get_entries.result;

  function decodeAll(bytes: Buffer): void {
    const f = new MessageFramer(1 << 20);
    for (const m of f.push(bytes)) {
      const r = new Reader(m);
      readMessageBegin(r);
      entries.read(r, "standard:bm_mt_get_entries");
    }
  }

  const isError = (e: unknown): boolean => e instanceof Error;

  it("random bytes: only Errors, always terminates", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (a) => {
        const bytes = Buffer.from(a);
        try {
          decodeAll(bytes);
        } catch (e) {
          expect(isError(e)).toBe(true);
        }
        try {
          const r = new Reader(bytes);
          readMessageBegin(r);
          r.skip(TType.STRUCT);
        } catch (e) {
          expect(e).toBeInstanceOf(ThriftProtocolError);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("mutated real replies: only Errors, always terminates", () => {
    const good = replyBytes(standard.bm_mt_get_entries, 9, [
      sampleEntry(1),
      { ...sampleEntry(2), life: { timeout_ms: 1000, time_since_hit_ms: 5 } },
    ]);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.nat(good.length),
        (flips, cut) => {
          const bytes = Buffer.from(good);
          for (const [at, v] of flips) bytes[at] = v;
          try {
            decodeAll(bytes.subarray(0, cut));
            decodeAll(bytes);
          } catch (e) {
            expect(isError(e)).toBe(true);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("bmv2 thrift: helpers", () => {
  it("portMap puts port 0 last, like runtime_CLI.py", () => {
    expect(portMap([])).toBe("");
    expect(portMap([0])).toBe("1");
    expect(portMap([0, 2])).toBe("101");
    expect(portMap([3, 1])).toBe("1010");
    expect(portMap([1, 1])).toBe("10");
    expect(portMap([511])).toHaveLength(512);
    expect(() => portMap([512])).toThrow(RangeError);
    expect(() => portMap([-1])).toThrow(RangeError);
  });

  it("fitWidth restores the field width of shortest-form action data", () => {
    expect(fitWidth(hex("05"), 2)).toEqual(hex("0005"));
    expect(fitWidth(hex("00"), 4)).toEqual(hex("00000000"));
    expect(fitWidth(hex("0001ff"), 2)).toEqual(hex("01ff"));
    expect(() => fitWidth(hex("010000"), 2)).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------
// A fake bmv2: decodes calls with the same protocol code and answers them.

interface Call {
  name: string;
  seqid: number;
  /** the call's bytes after the header */
  args: Reader;
  socket: Socket;
}

interface Fake {
  port: number;
  server: Server;
  dataEvents: number;
  calls: number;
  close(): Promise<void>;
}

const fakes: Fake[] = [];
const clients: ThriftClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const f of fakes.splice(0)) await f.close();
});

async function fakeServer(onCall: (c: Call) => void): Promise<Fake> {
  const sockets = new Set<Socket>();
  const fake: Fake = {
    port: 0,
    server: createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
      const framer = new MessageFramer();
      socket.on("data", (chunk) => {
        fake.dataEvents++;
        for (const m of framer.push(chunk)) {
          fake.calls++;
          const r = new Reader(m);
          const h = readMessageBegin(r);
          onCall({ name: h.name, seqid: h.seqid, args: r, socket });
        }
      });
    }),
    dataEvents: 0,
    calls: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        fake.server.close(() => resolve());
      }),
  };
  await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
  fake.port = (fake.server.address() as AddressInfo).port;
  fakes.push(fake);
  return fake;
}

async function connect(port: number, opts: { replyTimeoutMs?: number } = {}): Promise<ThriftClient> {
  const c = await ThriftClient.connect({ port, ...opts });
  clients.push(c);
  return c;
}

/** What bmv2 sends back: the bare method name, REPLY, the result struct. */
function replyBytes<R>(method: { name: string }, seqid: number, success: R, returns?: Codec<R, R>): Buffer {
  const codec = returns ?? (list(BmMtEntryWire) as unknown as Codec<R, R>);
  const result = struct("result", { success: optional(0, codec) });
  return encodeMessage(method.name, MessageType.REPLY, seqid, result, { success });
}

const tableException = struct("result", { ouch: optional(1, struct("InvalidTableOperation", { code: field(1, i32) })) });

// The BmMtEntry layout, rebuilt here from the IDL so the test does not trust runtime.ts's copy.
const BmMtEntryWire = struct("BmMtEntry", {
  match_key: field(1, list(struct("BmMatchParam", { type: field(1, i32), exact: optional(2, struct("E", { key: field(1, binary) })) }))),
  options: field(2, struct("BmAddEntryOptions", { priority: optional(1, i32) })),
  entry_handle: field(3, i32),
  action_entry: field(
    4,
    struct("BmActionEntry", { action_type: field(1, i32), action_name: optional(2, string), action_data: optional(3, list(binary)) }),
  ),
  life: optional(5, struct("BmMtEntryLife", { timeout_ms: field(1, i32), time_since_hit_ms: field(2, i32) })),
});

function sampleEntry(h: number) {
  return {
    match_key: [{ type: 0, exact: { key: hex("0000000000" + h.toString(16).padStart(2, "0")) } }, { type: 0, exact: { key: hex("00000064") } }],
    options: { priority: -1 },
    entry_handle: h,
    action_entry: { action_type: 1, action_name: "Ingress.forward", action_data: [hex("03"), hex("00ff")] },
  };
}

const addEntryArgs = struct("args", {
  table: field(2, string),
  match_key: field(3, list(struct("BmMatchParam", { type: field(1, i32), exact: optional(2, struct("E", { key: field(1, binary) })) }))),
});

describe("bmv2 thrift: pipelining client against a fake server", () => {
  it("keeps 1000 calls in flight, sends them in few writes and matches replies by seqid", async () => {
    const N = 1000;
    const held: Call[] = [];
    const fake = await fakeServer((c) => {
      held.push(c);
      // Answer only once every call has arrived (proves they were all in
      // flight together), and in reverse order (proves seqid matching).
      if (held.length < N) return;
      const w = new Writer();
      for (const call of [...held].reverse()) {
        const args = addEntryArgs.read(call.args);
        const handle = args.match_key[0]!.exact!.key.readUInt32BE(0) * 2;
        writeMessage(w, "bm_mt_add_entry", MessageType.REPLY, call.seqid, struct("r", { success: optional(0, i32) }), { success: handle });
      }
      held[0]!.socket.write(w.take());
    });
    const rt = new Bmv2Runtime(await connect(fake.port));
    const key = (i: number): Buffer => {
      const b = Buffer.alloc(6);
      b.writeUInt32BE(i, 0);
      return b;
    };
    const calls = Array.from({ length: N }, (_, i) => rt.addEntry("Ingress.t", [match.exact(key(i)), match.exact(hex("00000001"))], "Ingress.forward", [hex("0003"), hex("000000ff")]));
    expect(rt.client.inFlight).toBe(N);
    const handles = await Promise.all(calls);
    expect(handles).toEqual(Array.from({ length: N }, (_, i) => i * 2));
    expect(rt.client.stats.socketWrites).toBe(1);
    expect(rt.client.stats.callsSent).toBe(N);
    expect(fake.calls).toBe(N);
    expect(rt.client.inFlight).toBe(0);
  });

  it("decodes a bm_mt_get_entries reply into table entries", async () => {
    const fake = await fakeServer((c) => {
      const e2 = { ...sampleEntry(2), life: { timeout_ms: 500, time_since_hit_ms: 20 } };
      c.socket.write(replyBytes(standard.bm_mt_get_entries, c.seqid, [sampleEntry(1), e2]));
    });
    const rt = new Bmv2Runtime(await connect(fake.port));
    const entries = await rt.getEntries("Ingress.t");
    expect(entries).toEqual([
      {
        handle: 1,
        key: [match.exact(hex("000000000001")), match.exact(hex("00000064"))],
        priority: -1,
        action: { kind: "action", name: "Ingress.forward", data: [hex("03"), hex("00ff")] },
      },
      {
        handle: 2,
        key: [match.exact(hex("000000000002")), match.exact(hex("00000064"))],
        priority: -1,
        action: { kind: "action", name: "Ingress.forward", data: [hex("03"), hex("00ff")] },
        life: { timeoutMs: 500, timeSinceHitMs: 20 },
      },
    ]);
  });

  it("maps an IDL exception to Bmv2Error and a TApplicationException to ThriftApplicationError; the connection lives on", async () => {
    const fake = await fakeServer((c) => {
      if (c.name === "standard:bm_mt_add_entry") {
        c.socket.write(encodeMessage("bm_mt_add_entry", MessageType.REPLY, c.seqid, tableException, { ouch: { code: 17 } }));
      } else if (c.name === "standard:bm_mt_delete_entry") {
        c.socket.write(encodeMessage("bm_mt_delete_entry", MessageType.REPLY, c.seqid, tableException, { ouch: { code: 99 } }));
      } else if (c.name === "standard:bm_get_config") {
        c.socket.write(encodeMessage("bm_get_config", MessageType.REPLY, c.seqid, struct("r", { success: optional(0, string) }), { success: "{}" }));
      } else {
        c.socket.write(
          encodeMessage(c.name, MessageType.EXCEPTION, c.seqid, applicationException, { message: `Invalid method name: '${c.name}'`, type: 1 }),
        );
      }
    });
    const rt = new Bmv2Runtime(await connect(fake.port));
    const dup = rt.addEntry("t", [match.exact(hex("01"))], "a", []);
    const unknownCode = rt.deleteEntry("t", 1);
    const unknownMethod = rt.client.call(defineMethod("standard", "bm_no_such_thing", {}, null), {});
    const after = rt.getConfig();

    const e = await dup.then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(Bmv2Error);
    const b = e as Bmv2Error;
    expect([b.exception, b.code, b.codeName, b.call]).toEqual(["InvalidTableOperation", 17, "DUPLICATE_ENTRY", "standard:bm_mt_add_entry"]);
    expect(b.message).toContain("InvalidTableOperation: DUPLICATE_ENTRY (code 17)");
    await expect(unknownCode).rejects.toMatchObject({ codeName: "UNKNOWN", code: 99 });
    await expect(unknownMethod).rejects.toBeInstanceOf(ThriftApplicationError);
    await expect(unknownMethod).rejects.toMatchObject({ typeName: "UNKNOWN_METHOD" });
    await expect(after).resolves.toBe("{}");
  });

  it("a value that does not encode rejects only its own call and leaves the stream intact", async () => {
    const fake = await fakeServer((c) => {
      c.socket.write(encodeMessage("bm_mt_delete_entry", MessageType.REPLY, c.seqid, struct("r", {}), {}));
    });
    const rt = new Bmv2Runtime(await connect(fake.port));
    const a = rt.deleteEntry("t", 1);
    const bad = rt.deleteEntry("t", 2 ** 40);
    const c = rt.deleteEntry("t", 3);
    await expect(bad).rejects.toThrow(RangeError);
    await expect(Promise.all([a, c])).resolves.toEqual([undefined, undefined]);
    expect(fake.calls).toBe(2);
  });

  it("a truncated reply and a closed connection reject every pending call, without hanging", async () => {
    const fake = await fakeServer((c) => {
      if (c.seqid !== 3) return;
      const full = replyBytes(standard.bm_mt_get_entries, 1, [sampleEntry(1)]);
      c.socket.end(full.subarray(0, full.length - 5));
    });
    const rt = new Bmv2Runtime(await connect(fake.port));
    const calls = [rt.getEntries("t"), rt.getEntries("t"), rt.getEntries("t")];
    const results = await Promise.allSettled(calls);
    for (const r of results) {
      expect(r.status).toBe("rejected");
      const err = (r as PromiseRejectedResult).reason as Error;
      expect(err).toBeInstanceOf(ThriftTransportError);
      expect(err.message).toMatch(/closed with 3 calls pending \(\d+ bytes of an incomplete reply\)/);
    }
    await expect(rt.getConfig()).rejects.toBeInstanceOf(ThriftTransportError);
  });

  it("a malformed reply rejects every pending call", async () => {
    const fake = await fakeServer((c) => {
      if (c.seqid === 2) c.socket.write("HTTP/1.1 400 Bad Request\r\n\r\n");
    });
    const rt = new Bmv2Runtime(await connect(fake.port));
    const results = await Promise.allSettled([rt.getConfig(), rt.getConfig()]);
    for (const r of results) expect((r as PromiseRejectedResult).reason.message).toMatch(/malformed reply: not a strict binary-protocol message/);
  });

  it("a reply that stops half way (connection kept open) times out", async () => {
    const fake = await fakeServer((c) => {
      const full = replyBytes(standard.bm_mt_get_entries, c.seqid, [sampleEntry(1)]);
      c.socket.write(full.subarray(0, 20));
    });
    const rt = new Bmv2Runtime(await connect(fake.port, { replyTimeoutMs: 200 }));
    const t0 = Date.now();
    await expect(rt.getEntries("t")).rejects.toThrow(/no reply for 200 ms with 1 calls pending/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("a reply with a seqid nobody waits for is a broken stream", async () => {
    const fake = await fakeServer((c) => {
      c.socket.write(encodeMessage("bm_get_config", MessageType.REPLY, c.seqid + 1000, struct("r", { success: optional(0, string) }), { success: "" }));
    });
    const rt = new Bmv2Runtime(await connect(fake.port));
    await expect(rt.getConfig()).rejects.toThrow(/matches no pending call/);
  });

  it("close() lets pending calls finish; connect() reports a refused port and can wait for a late server", async () => {
    const fake = await fakeServer((c) => {
      setTimeout(() => c.socket.write(encodeMessage("bm_get_config", MessageType.REPLY, c.seqid, struct("r", { success: optional(0, string) }), { success: "ok" })), 50);
    });
    const rt = new Bmv2Runtime(await connect(fake.port));
    const p = rt.getConfig();
    await rt.close();
    await expect(p).resolves.toBe("ok");
    await expect(rt.getConfig()).rejects.toBeInstanceOf(ThriftTransportError);

    const port = fake.port;
    await fake.close();
    fakes.splice(fakes.indexOf(fake), 1);
    await expect(ThriftClient.connect({ port, connectTimeoutMs: 500 })).rejects.toThrow(/cannot connect to bmv2 Thrift server at 127\.0\.0\.1:\d+: .*ECONNREFUSED/);

    const late = createServer((s) => s.end());
    setTimeout(() => late.listen(port, "127.0.0.1"), 200);
    try {
      const c = await ThriftClient.connect({ port, waitForServer: true, connectTimeoutMs: 5000 });
      c.destroy();
    } finally {
      await new Promise((r) => late.close(r));
    }
  });
});
