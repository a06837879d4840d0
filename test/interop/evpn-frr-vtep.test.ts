// FRR as a real VTEP (zebra + bgpd, advertise-all-vni, a kernel bridge and
// VXLAN device): the routes FRR originates from the kernel (type-3 for the
// VNI, type-2 for a MAC in the bridge FDB) program our switch port, and our
// type-2 route lands in FRR's kernel FDB (vxlan device -> our VTEP).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab } from "../harness/netns.ts";
import { bgpCfg, type SpeakerProc, startFrrVtep, startSpeaker } from "./evpn-interop.ts";

const FRR_MAC = "02:00:00:00:fe:01";
const OUR_MAC = "02:00:00:00:01:77";
const OUR_VTEP = "192.0.2.1";

describe("EVPN interop with FRR as a VTEP (zebra + kernel VXLAN)", () => {
  let lab: Lab;
  let sp: SpeakerProc;
  let fo: string;

  beforeAll(async () => {
    lab = new Lab("evpn-frr-vtep");
    const sw = lab.ns("sw");
    fo = lab.ns("fo");
    lab.veth(sw, "e0", fo, "e0");
    lab.addr(sw, "e0", "10.30.0.1/24");
    lab.addr(fo, "e0", "10.30.0.2/24");
    // FRR only uses routes whose next hop (our VTEP) it can reach
    lab.route(fo, "192.0.2.0/24", { via: "10.30.0.1" });
    // FRR's VTEP: br100 with vxlan100 (VNI 100, local 10.30.0.2) and a host port h0
    lab.exec(fo, "ip", ["link", "add", "br100", "type", "bridge"]);
    lab.exec(fo, "ip", ["link", "add", "vxlan100", "type", "vxlan", "id", "100", "local", "10.30.0.2", "dstport", "4789", "nolearning"]);
    lab.exec(fo, "ip", ["link", "set", "vxlan100", "master", "br100"]);
    lab.exec(fo, "ip", ["link", "add", "h0", "type", "veth", "peer", "name", "h1"]);
    lab.exec(fo, "ip", ["link", "set", "h1", "up"]);
    lab.exec(fo, "ip", ["link", "set", "h0", "master", "br100"]);
    for (const l of ["br100", "vxlan100", "h0"]) lab.exec(fo, "ip", ["link", "set", l, "up"]);
    lab.exec(fo, "bridge", ["fdb", "add", FRR_MAC, "dev", "h0", "master", "static"]);
    const frr = startFrrVtep(
      lab,
      fo,
      [
        "hostname fo",
        "router bgp 65000",
        " bgp router-id 10.30.0.2",
        " no bgp default ipv4-unicast",
        " neighbor 10.30.0.1 remote-as 65000",
        " neighbor 10.30.0.1 timers 3 9",
        " neighbor 10.30.0.1 timers connect 1",
        " address-family l2vpn evpn",
        "  neighbor 10.30.0.1 activate",
        "  advertise-all-vni",
        " exit-address-family",
        "",
      ].join("\n"),
    );
    await new Promise((r) => setTimeout(r, 1000)); // zebra up before bgpd connects
    frr.startBgpd();
    sp = startSpeaker(lab, sw, "vx", bgpCfg({ asn: 65000, routerId: "10.30.0.1", neighbors: [{ address: "10.30.0.2", remoteAsn: 65000 }] }), OUR_VTEP, [100]);
    await sp.ready;
  });

  afterAll(async () => {
    try {
      await sp?.stop();
    } catch {
      /* gone */
    }
    await lab?.dispose();
  });

  it("FRR's own type-3 and type-2 routes program our switch port", async () => {
    await until("flood VTEP from FRR's type-3", async () => sp.flood.get(100)?.has("10.30.0.2"));
    await until("FRR's MAC", async () => sp.remote.get(`100/${FRR_MAC}`));
    expect(sp.remote.get(`100/${FRR_MAC}`)?.vtep).toBe("10.30.0.2");
  });

  it("our type-2 route lands in FRR's kernel FDB and a withdrawal removes it", async () => {
    await sp.learn(100, OUR_MAC);
    await until("kernel fdb entry", async () => {
      const out = await lab.execAsync(fo, "bridge", ["fdb", "show", "dev", "vxlan100"]);
      return out.split("\n").some((l) => l.startsWith(OUR_MAC) && l.includes(`dst ${OUR_VTEP}`));
    });
    await until("head-end replication entry for our VTEP", async () => {
      const out = await lab.execAsync(fo, "bridge", ["fdb", "show", "dev", "vxlan100"]);
      return out.split("\n").some((l) => l.startsWith("00:00:00:00:00:00") && l.includes(`dst ${OUR_VTEP}`));
    });
    await sp.gone(100, OUR_MAC);
    await until("kernel fdb entry gone", async () => {
      const out = await lab.execAsync(fo, "bridge", ["fdb", "show", "dev", "vxlan100"]);
      return !out.includes(OUR_MAC);
    });
  });

  it("FRR withdraws when its MAC leaves the bridge", async () => {
    await lab.execAsync(fo, "bridge", ["fdb", "del", FRR_MAC, "dev", "h0", "master", "static"]);
    await until("FRR's MAC removed", async () => !sp.remote.has(`100/${FRR_MAC}`));
  });
});

async function until<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}
