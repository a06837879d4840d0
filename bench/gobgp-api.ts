// A minimal client for gobgpd's gRPC API (package apipb, GoBGP 3.x), over a
// unix socket, with node:http2 and a hand-rolled protobuf codec: the bench
// needs four calls and no new dependency.
//
//   AddPathStream   what `gobgp mrt inject global` uses to load a table: here
//                   the paths carry the NLRI and the path attributes as wire
//                   bytes (Path.nlri_binary / Path.pattrs_binary), which gobgpd
//                   decodes with its own BGP parser (apiutil.GetNativeNlri)
//   GetTable        number of destinations in the global RIB
//   ListPeer        session state, flaps and message counters of one neighbor
//   EnablePeer / DisablePeer   `gobgp neighbor X enable|disable`
//   SetPolicyAssignment   the global export default (`gobgp global policy export
//                   set default accept|reject`)
//   ResetPeer       soft reset out (`gobgp neighbor X softresetout`): send the
//                   whole table again under the current export policy
//
// Field numbers are those of GoBGP 3.10's api/gobgp.proto (checked against the
// file descriptor embedded in /usr/bin/gobgpd).
import { connect as h2connect, type ClientHttp2Session } from "node:http2";
import { connect as netConnect } from "node:net";

// ---------------------------------------------------------------------------
// protobuf, just enough

function varint(n: number | bigint): Buffer {
  let v = BigInt(n);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

const tag = (field: number, wire: number) => varint((field << 3) | wire);

/** length-delimited field (bytes, string, embedded message) */
export function pbBytes(field: number, v: Buffer | string): Buffer {
  const b = typeof v === "string" ? Buffer.from(v) : v;
  return Buffer.concat([tag(field, 2), varint(b.length), b]);
}

/** varint field (int, enum, bool); proto3 default 0 is left out */
export function pbVarint(field: number, v: number): Buffer {
  return v === 0 ? Buffer.alloc(0) : Buffer.concat([tag(field, 0), varint(v)]);
}

export type PbFields = Map<number, (bigint | Buffer)[]>;

/** One message level: field number -> values (varints as bigint, length-delimited as Buffer). */
export function pbDecode(b: Buffer): PbFields {
  const out: PbFields = new Map();
  let i = 0;
  const rv = (): bigint => {
    let r = 0n;
    let s = 0n;
    for (;;) {
      const c = b[i++]!;
      r |= BigInt(c & 0x7f) << s;
      s += 7n;
      if (c < 0x80) return r;
    }
  };
  while (i < b.length) {
    const k = Number(rv());
    const f = k >> 3;
    let v: bigint | Buffer;
    switch (k & 7) {
      case 0:
        v = rv();
        break;
      case 1:
        v = b.subarray(i, i + 8);
        i += 8;
        break;
      case 2: {
        const l = Number(rv());
        v = b.subarray(i, i + l);
        i += l;
        break;
      }
      case 5:
        v = b.subarray(i, i + 4);
        i += 4;
        break;
      default:
        throw new Error(`protobuf: wire type ${k & 7} not supported`);
    }
    const l = out.get(f);
    if (l) l.push(v);
    else out.set(f, [v]);
  }
  return out;
}

const pbMsg = (m: PbFields, f: number): PbFields => pbDecode((m.get(f)?.[0] as Buffer | undefined) ?? Buffer.alloc(0));
const pbNum = (m: PbFields, f: number): number => Number((m.get(f)?.[0] as bigint | undefined) ?? 0n);

// ---------------------------------------------------------------------------
// apipb messages used here

/** apipb.Family{afi = 1, safi = 2}: L2VPN (25) / EVPN (70) */
const FAMILY_EVPN = Buffer.concat([pbVarint(1, 25), pbVarint(2, 70)]);

/** apipb.Path for the global table: family (9), nlri_binary (20), pattrs_binary (21) */
export function evpnPath(nlri: Buffer, attrs: Buffer[]): Buffer {
  return Buffer.concat([pbBytes(9, FAMILY_EVPN), pbBytes(20, nlri), ...attrs.map((a) => pbBytes(21, a))]);
}

export const SESSION_STATES = ["UNKNOWN", "IDLE", "CONNECT", "ACTIVE", "OPENSENT", "OPENCONFIRM", "ESTABLISHED"] as const;
export type SessionState = (typeof SESSION_STATES)[number];

export interface PeerView {
  state: SessionState;
  adminDown: boolean;
  /** times the session went down after being established */
  flaps: number;
  /** UPDATE messages sent / received (GoBGP's counters, current session) */
  sentUpdates: number;
  receivedUpdates: number;
}

// ---------------------------------------------------------------------------
// gRPC over HTTP/2 (length-prefixed messages, status in trailers)

function frame(msg: Buffer): Buffer {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(msg.length, 1);
  return Buffer.concat([h, msg]);
}

function unframe(b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i + 5 <= b.length) {
    const n = b.readUInt32BE(i + 1);
    out.push(b.subarray(i + 5, i + 5 + n));
    i += 5 + n;
  }
  return out;
}

export class GobgpApi {
  private h2?: ClientHttp2Session;

  constructor(readonly socketPath: string) {}

  /** the HTTP/2 connection, (re)opened on demand: gobgpd may not be listening yet */
  private get session(): ClientHttp2Session {
    if (!this.h2 || this.h2.destroyed || this.h2.closed) {
      const s = h2connect("http://gobgpd", { createConnection: () => netConnect(this.socketPath) });
      s.on("error", () => {
        /* surfaced by the calls */
      });
      this.h2 = s;
    }
    return this.h2;
  }

  close(): void {
    this.h2?.close();
  }

  /** One call; `body` yields the request messages (a client stream when more than one). */
  private call(method: string, body: Iterable<Buffer>, timeoutMs = 60_000): Promise<Buffer[]> {
    return new Promise((ok, fail) => {
      const req = this.session.request({
        ":method": "POST",
        ":path": `/apipb.GobgpApi/${method}`,
        "content-type": "application/grpc",
        te: "trailers",
      });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let message = "";
      const t = setTimeout(() => req.close(), timeoutMs);
      req.on("response", (h) => {
        if (h["grpc-status"] !== undefined) {
          status = String(h["grpc-status"]);
          message = String(h["grpc-message"] ?? "");
        }
      });
      req.on("trailers", (h) => {
        status = String(h["grpc-status"]);
        message = String(h["grpc-message"] ?? "");
      });
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", (e) => {
        clearTimeout(t);
        fail(e);
      });
      req.on("close", () => {
        clearTimeout(t);
        if (status === "0") ok(unframe(Buffer.concat(chunks)));
        else fail(new Error(`gobgpd ${method}: grpc-status ${status ?? "none"} ${decodeURIComponent(message)}`));
      });
      // write with back-pressure, then half-close
      const it = body[Symbol.iterator]();
      const pump = (): void => {
        for (;;) {
          const n = it.next();
          if (n.done) {
            req.end();
            return;
          }
          if (!req.write(frame(n.value))) {
            req.once("drain", pump);
            return;
          }
        }
      };
      pump();
    });
  }

  /** AddPathStream(TableType GLOBAL): `paths` (apipb.Path bytes) in requests of `perRequest`. */
  async addPaths(paths: readonly Buffer[], perRequest = 1000): Promise<void> {
    function* reqs(): Generator<Buffer> {
      for (let i = 0; i < paths.length; i += perRequest) {
        // table_type = 1 is GLOBAL = 0: left out
        yield Buffer.concat(paths.slice(i, i + perRequest).map((p) => pbBytes(3, p)));
      }
    }
    await this.call("AddPathStream", reqs(), 300_000);
  }

  /** GetTable(GLOBAL, EVPN).num_destination */
  async globalDestinations(): Promise<number> {
    const [r] = await this.call("GetTable", [pbBytes(2, FAMILY_EVPN)]);
    return pbNum(pbDecode(r ?? Buffer.alloc(0)), 1);
  }

  async peer(address: string): Promise<PeerView> {
    const [r] = await this.call("ListPeer", [pbBytes(1, address)], 10_000);
    if (!r) throw new Error(`gobgpd: no neighbor ${address}`);
    const peer = pbMsg(pbDecode(r), 1);
    const st = pbMsg(peer, 5);
    const msgs = pbMsg(st, 4);
    return {
      state: SESSION_STATES[pbNum(st, 13)] ?? "UNKNOWN",
      adminDown: pbNum(st, 15) === 1,
      flaps: pbNum(st, 17),
      sentUpdates: pbNum(pbMsg(msgs, 2), 2),
      receivedUpdates: pbNum(pbMsg(msgs, 1), 2),
    };
  }

  async enablePeer(address: string): Promise<void> {
    await this.call("EnablePeer", [pbBytes(1, address)], 10_000);
  }

  async disablePeer(address: string): Promise<void> {
    await this.call("DisablePeer", [pbBytes(1, address)], 10_000);
  }

  /** The global export policy's default action (PolicyAssignment name "global", direction EXPORT = 2; ACCEPT = 1, REJECT = 2). */
  async setExportDefault(action: "accept" | "reject"): Promise<void> {
    const assignment = Buffer.concat([pbBytes(1, "global"), pbVarint(2, 2), pbVarint(5, action === "accept" ? 1 : 2)]);
    await this.call("SetPolicyAssignment", [pbBytes(1, assignment)], 10_000);
  }

  /** ResetPeer{address, soft: true, direction: OUT = 1} */
  async softResetOut(address: string): Promise<void> {
    await this.call("ResetPeer", [Buffer.concat([pbBytes(1, address), pbVarint(3, 1), pbVarint(4, 1)])], 30_000);
  }
}
