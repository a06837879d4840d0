// The mirror entries a switch derives from its sessions and its forwarding
// table (src/control/mirror/desired.ts), without a kernel: every placement of
// host and server, every direction, one copy per server, shadowed sessions.
import { describe, expect, it } from "vitest";
import { constants } from "../../src/codegen/tables.ts";
import { mirrorDesired, type Location } from "../../src/control/mirror/desired.ts";
import type { MirrorSession } from "../../src/control/mirror/config.ts";

const H = "02:00:00:00:00:01"; // monitored host
const S = "02:00:00:00:00:09"; // server
const S2 = "02:00:00:00:00:0a";

const session = (over: Partial<MirrorSession> = {}): MirrorSession => ({
  name: "w",
  host: { mac: H, vni: 100 },
  server: { mac: S, vni: 100 },
  hostId: 7,
  direction: "both",
  match: "mac",
  ...over,
});

const LOCAL_H: Location = { kind: "local", ifindex: 10, vlan: 0 };
const LOCAL_S: Location = { kind: "local", ifindex: 11, vlan: 30 };
const REMOTE: Location = { kind: "remote", vtep: "198.18.0.3" };
const UNKNOWN: Location = { kind: "unknown" };

function derive(sessions: MirrorSession[], where: Record<string, Location>) {
  return mirrorDesired(sessions, (vni, mac) => where[`${vni}/${mac}`] ?? UNKNOWN, (s) => s.hostId % 100);
}

describe("mirror entries from sessions and the FDB", () => {
  const cases: [string, Location, Location, MirrorSession["direction"], number[], string[], boolean][] = [
    // name, host at, server at, direction, entry dirs, roles, termination
    ["host and server local", LOCAL_H, LOCAL_S, "both", [constants.MIRROR_SRC, constants.MIRROR_DST], ["source", "destination", "termination"], true],
    ["host local, server remote", LOCAL_H, REMOTE, "both", [constants.MIRROR_SRC, constants.MIRROR_DST], ["source", "destination"], false],
    ["host remote, server remote", REMOTE, REMOTE, "both", [constants.MIRROR_DST], ["destination"], false],
    ["host unknown, server local", UNKNOWN, LOCAL_S, "both", [constants.MIRROR_DST], ["destination", "termination"], true],
    ["from-host, host local", LOCAL_H, REMOTE, "from-host", [constants.MIRROR_SRC], ["source"], false],
    ["from-host, host remote: nothing to match here", REMOTE, REMOTE, "from-host", [], [], false],
    ["to-host, host local", LOCAL_H, REMOTE, "to-host", [constants.MIRROR_DST], ["destination"], false],
  ];
  it.each(cases)("%s", (_n, hostAt, serverAt, direction, dirs, roles, term) => {
    const d = derive([session({ direction })], { [`100/${H}`]: hostAt, [`100/${S}`]: serverAt });
    expect(d.mac.map(([k]) => k.dir)).toEqual(dirs);
    for (const [k] of d.mac) expect(k).toMatchObject({ vni: 100, mac: H });
    expect(d.placement.get("w")).toEqual({ host: hostAt, server: serverAt, roles });
    expect(d.term.length).toBe(term ? 1 : 0);
    if (term) expect(d.term[0]).toEqual([{ host_id: 7 }, { ifindex: 11, vlan: 30, slot: 7 }]);
    expect(d.vniFlags.get(100)).toBe(dirs.length ? constants.VNI_MIRROR_MAC : undefined);
  });

  it("points each entry at where the server is: a local port with its VLAN, a remote VTEP, or nowhere", () => {
    const at = (serverAt: Location) => derive([session()], { [`100/${S}`]: serverAt }).mac[0]![1];
    expect(at(LOCAL_S)).toMatchObject({ kind: constants.MIRROR_TO_LOCAL, ifindex: 11, vlan: 30, host_id: 7, slot: 7 });
    expect(at(REMOTE)).toMatchObject({ kind: constants.MIRROR_TO_REMOTE, remote: "198.18.0.3", ifindex: 0 });
    expect(at(UNKNOWN)).toMatchObject({ kind: constants.MIRROR_NO_SERVER });
  });

  it("keys match: ip sessions on the host's address, in their own table and flag", () => {
    const d = derive([session({ match: "ip", host: { mac: H, vni: 100, ip: "10.0.0.5" } })], { [`100/${H}`]: LOCAL_H });
    expect(d.mac).toEqual([]);
    expect(d.ip.map(([k]) => k)).toEqual([
      { vni: 100, ip: "10.0.0.5", dir: constants.MIRROR_SRC },
      { vni: 100, ip: "10.0.0.5", dir: constants.MIRROR_DST },
    ]);
    expect(d.vniFlags.get(100)).toBe(constants.VNI_MIRROR_IP);
  });

  it("gives sessions with the same server the same server id (one copy per frame per server), others another", () => {
    const other = "02:00:00:00:00:02";
    const d = derive(
      [session({ name: "a" }), session({ name: "b", host: { mac: other, vni: 100 }, hostId: 8 }), session({ name: "c", host: { mac: "02:00:00:00:00:03", vni: 100 }, server: { mac: S2, vni: 100 }, hostId: 9 })],
      {},
    );
    const server = (mac: string) => d.mac.find(([k]) => k.mac === mac)![1].server;
    expect(server(H)).toBe(server(other));
    expect(server("02:00:00:00:00:03")).not.toBe(server(H));
  });

  it("lets the first session keep an entry key two sessions need, and says which shadows the other", () => {
    const d = derive([session({ name: "first" }), session({ name: "second", server: { mac: S2, vni: 100 }, hostId: 8 })], { [`100/${H}`]: LOCAL_H });
    expect(d.mac.map(([, v]) => v.host_id)).toEqual([7, 7]);
    expect(d.placement.get("second")?.shadowedBy).toBe("first");
    expect(d.placement.get("first")?.shadowedBy).toBeUndefined();
  });

  it("flags only the VNIs that have entries", () => {
    const d = derive([session({ host: { mac: H, vni: 200 }, direction: "from-host" })], { [`200/${H}`]: REMOTE });
    expect([...d.vniFlags]).toEqual([]);
  });
});
