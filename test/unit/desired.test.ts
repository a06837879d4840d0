import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { desiredState } from "../../src/control/l2/desired.ts";
import { constants } from "../../src/codegen/tables.ts";

const cfg = parseConfig(readFileSync(join(import.meta.dirname, "../fixtures/config/full.yaml"), "utf8"), "full.yaml");
const ifindex: Record<string, number> = { eth0: 2, eth1: 3, h1: 10, h2: 11, trunk1: 12, trunk2: 13 };
// each port's MAC: 02:00:00:00:00:<ifindex>
const macOf = (n: string) => `02:00:00:00:00:${ifindex[n]!.toString(16).padStart(2, "0")}`;
const want = desiredState(
  cfg,
  (n) => {
    const i = ifindex[n];
    if (i === undefined) throw new Error(`no ${n}`);
    return i;
  },
  undefined,
  macOf,
);

describe("desired table state from a config", () => {
  it("publishes the VTEP and the first uplink for next-hop lookups", () => {
    expect(want.globals).toMatchObject({ vtep_ip: "10.0.0.1", udp_port: 4789, uplink_mac: "02:00:00:00:00:02", fib_ifindex: 2 });
  });

  it("classifies ports: uplinks, untagged VNIs, trunk VLANs", () => {
    // an uplink carries its MAC: the outer destination of VXLAN for us
    expect(want.ports.get(2)).toEqual({ role: constants.PORT_ROLE_UPLINK, mac: "02:00:00:00:00:02", vni: 0 });
    expect(want.ports.get(12)).toEqual({ role: constants.PORT_ROLE_ACCESS, mac: "02:00:00:00:00:0c", vni: 0 });
    expect(want.ports.get(13)).toEqual({ role: constants.PORT_ROLE_ACCESS, mac: "02:00:00:00:00:0d", vni: 300 });
    expect(want.vlans).toContainEqual([{ ifindex: 12, vlan: 20 }, { vni: 200 }]);
    expect(want.vlans).toContainEqual([{ ifindex: 13, vlan: 30 }, { vni: 100 }]);
  });

  it("builds each VNI's flood list: local members with their VLAN, then remote VTEPs", () => {
    expect(want.flood.get(100)).toEqual([
      { kind: constants.FLOOD_LOCAL, vlan: 0, ifindex: 10, remote: "0.0.0.0" },
      { kind: constants.FLOOD_LOCAL, vlan: 10, ifindex: 12, remote: "0.0.0.0" },
      { kind: constants.FLOOD_LOCAL, vlan: 30, ifindex: 13, remote: "0.0.0.0" },
      { kind: constants.FLOOD_REMOTE, vlan: 0, ifindex: 0, remote: "10.0.0.2" },
      { kind: constants.FLOOD_REMOTE, vlan: 0, ifindex: 0, remote: "10.0.0.3" },
    ]);
    // full.yaml has a bgp: section, so the overlay's MACs come from EVPN: local learning only
    expect(want.vnis.get(100)).toEqual({ flags: constants.VNI_LEARN_LOCAL, flood_count: 5 });
    expect(want.vnis.get(200)!.flags).toBe(0); // learning: false
  });

  it("floods and learns from the overlay when there is no BGP", () => {
    const plain = desiredState({ ...cfg, bgp: undefined }, (n) => ifindex[n]!, undefined, macOf);
    expect(plain.vnis.get(100)!.flags).toBe(constants.VNI_LEARN_LOCAL | constants.VNI_LEARN_REMOTE);
  });

  it("adds EVPN-learned VTEPs to flood lists and the admission list, without duplicates", () => {
    const added = desiredState(
      cfg,
      (n) => ifindex[n]!,
      {
        flood: new Map([[100, ["10.0.0.3", "10.0.0.9"]]]),
        admit: new Map([[300, ["10.0.0.7"]]]),
      },
      macOf,
    );
    expect(added.flood.get(100)!.filter((f) => f.kind === constants.FLOOD_REMOTE).map((f) => f.remote)).toEqual(["10.0.0.2", "10.0.0.3", "10.0.0.9"]);
    expect(added.vnis.get(100)!.flood_count).toBe(6);
    expect(added.vteps).toContainEqual([{ vni: 300, remote: "10.0.0.7" }, { refs: 1 }]);
  });

  it("admits remote VTEPs per VNI, counting every reason", () => {
    // 10.0.0.2 is in VNI 100's flood list and the next hop of a static MAC
    expect(want.vteps).toContainEqual([{ vni: 100, remote: "10.0.0.2" }, { refs: 2 }]);
    expect(want.vteps).toContainEqual([{ vni: 200, remote: "10.0.0.2" }, { refs: 1 }]);
    expect(want.vteps.find(([k]) => k.vni === 300)).toBeUndefined();
  });

  it("installs static MACs with the port's VLAN for that VNI", () => {
    const trunkMac = want.staticFdb.find(([k]) => k.mac === "02:aa:bb:cc:dd:ee")!;
    expect(trunkMac[0].vni).toBe(200);
    expect(trunkMac[1]).toMatchObject({ kind: constants.FDB_LOCAL, flags: constants.FDB_STATIC, vlan: 20, ifindex: 12 });
    const remote = want.staticFdb.find(([k]) => k.mac === "02:00:00:00:02:01")!;
    expect(remote[1]).toMatchObject({ kind: constants.FDB_REMOTE, flags: constants.FDB_STATIC, remote: "10.0.0.2" });
  });
});
