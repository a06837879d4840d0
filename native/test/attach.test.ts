// Attaching to real interfaces: a veth pair whose host end stays in the root
// namespace (programs attach there) and whose peer sits in a namespace the
// test creates (frames are sent from there). Only raw L2 frames of a local
// experimental ethertype cross the pair.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BpfError, BpfLink, BpfMap, BpfObject, type BpfProgram } from "libbpf-ts-bindings";
import {
  bpffsScratch,
  createVeth,
  fixture,
  isRoot,
  linkDetails,
  removeFixtureDir,
  sendFrames,
  sh,
  sumPerCpuU64,
  u32,
  waitFor,
  type VethPair,
} from "./helpers.ts";

describe.skipIf(!isRoot)("attach", () => {
  let veth: VethPair;
  let scratch: ReturnType<typeof bpffsScratch>;
  // Everything a test attaches or opens, released in afterEach even on failure.
  const links: BpfLink[] = [];
  const objects: BpfObject[] = [];
  const maps: BpfMap[] = [];

  const open = (name: string): BpfObject => {
    const o = BpfObject.openFile(fixture(name));
    objects.push(o);
    o.load();
    return o;
  };
  const track = (l: BpfLink): BpfLink => {
    links.push(l);
    return l;
  };

  beforeAll(() => {
    scratch = bpffsScratch();
    veth = createVeth();
  });

  afterEach(() => {
    for (const l of links.splice(0)) {
      try {
        if (!l.closed) l.detach();
      } catch {
        /* already detached */
      }
      try {
        if (l.pinPath) l.unpin();
      } catch {
        /* already gone */
      }
      l.close();
    }
    for (const m of maps.splice(0)) m.close();
    for (const o of objects.splice(0)) o.close();
    // Pins a failed test left behind (a pinned link would keep its program attached).
    for (const f of readdirSync(scratch.dir)) rmSync(join(scratch.dir, f), { recursive: true, force: true });
  });

  afterAll(() => {
    try {
      veth?.cleanup();
    } finally {
      scratch?.remove();
      removeFixtureDir();
    }
  });

  const xdpTestFrames = (m: BpfMap) => sumPerCpuU64(m.lookupPerCpu(u32(1)));
  const tcTestFrames = (m: BpfMap) => m.lookup(u32(1))!.readBigUInt64LE(0);

  describe("XDP", () => {
    for (const mode of ["native", "generic"] as const) {
      it(`attaches in ${mode} mode and counts frames sent through the veth`, () => {
        const o = open("xdp_count");
        const link = track(o.program("xdp_count").attachXdp(veth.hostIfindex, { mode }));
        expect(link.kind).toBe("xdp");
        expect(link.mode).toBe(mode);
        expect(link.ifindex).toBe(veth.hostIfindex);
        expect(link.fd).toBeGreaterThan(0);
        const info = link.info();
        expect(info.progId).toBe(o.program("xdp_count").id);
        expect(info.ifindex).toBe(veth.hostIfindex);
        expect(linkDetails(veth.host)).toMatch(mode === "native" ? /prog\/xdp id \d+/ : /prog\/xdp id \d+|xdpgeneric/);
        expect(linkDetails(veth.host)).toContain(mode === "native" ? "xdp" : "xdpgeneric");

        sendFrames(veth.ns, veth.peer, 5);
        expect(xdpTestFrames(o.map("pkt_count"))).toBe(5n);
        const byProto = o.map("by_proto").lookup(Buffer.from([0x88, 0xb5]).reverse());
        // key is the host-order ethertype as a little-endian u16
        expect(byProto?.readBigUInt64LE(0)).toBe(5n);

        link.detach();
        expect(link.info().ifindex).toBe(0);
        expect(linkDetails(veth.host)).not.toMatch(/prog\/xdp/);
        sendFrames(veth.ns, veth.peer, 3);
        expect(xdpTestFrames(o.map("pkt_count"))).toBe(5n);
      });
    }

    it("'auto' picks native on veth; a second XDP program is refused", () => {
      const o = open("xdp_count");
      const link = track(o.program("xdp_count").attachXdp(veth.hostIfindex));
      expect(link.mode).toBe("native");
      const o2 = open("xdp_rewrite");
      const e = catchErr(() => o2.program("xdp_rewrite").attachXdp(veth.hostIfindex, { mode: "native" }));
      expect(e).toBeInstanceOf(BpfError);
      expect(["EBUSY", "EEXIST"]).toContain(e.code);
      // auto does not fall back to generic when the interface is busy
      const e2 = catchErr(() => o2.program("xdp_rewrite").attachXdp(veth.hostIfindex, { mode: "auto" }));
      expect(["EBUSY", "EEXIST"]).toContain(e2.code);
    });

    it("update() swaps the program of a live link in place, without detaching", () => {
      const o = open("xdp_count");
      const o2 = open("xdp_rewrite");
      const link = track(o.program("xdp_count").attachXdp(veth.hostIfindex, { mode: "native" }));
      const id = link.info().id;
      link.update(o2.program("xdp_rewrite"));
      // the same link (no detach), now running the other program
      expect(link.info()).toMatchObject({ id, ifindex: veth.hostIfindex, progId: o2.program("xdp_rewrite").id });
      sendFrames(veth.ns, veth.peer, 3);
      expect(xdpTestFrames(o.map("pkt_count"))).toBe(0n);
    });

    it("closing an unpinned link detaches the program", async () => {
      const o = open("xdp_count");
      const link = o.program("xdp_count").attachXdp(veth.hostIfindex, { mode: "native" });
      expect(linkDetails(veth.host)).toMatch(/prog\/xdp/);
      link.close();
      expect(link.closed).toBe(true);
      expect(() => link.fd).toThrow(/closed/);
      // link release is synchronous on close of the last fd
      expect(await waitFor(() => !/prog\/xdp/.test(linkDetails(veth.host)))).toBe(true);
    });

    it("validates arguments", () => {
      const o = open("xdp_count");
      const p = o.program("xdp_count");
      expect(() => p.attachXdp(0)).toThrow(TypeError);
      expect(() => p.attachXdp(1.5)).toThrow(TypeError);
      expect(() => p.attachXdp(veth.hostIfindex, { mode: "turbo" as "native" })).toThrow(TypeError);
      const e = catchErr(() => p.attachXdp(0x7ffffff0, { mode: "generic" }));
      expect(e.code).toBe("ENODEV");
      expect(e.message).toMatch(/no interface with ifindex/);
      const tc = open("tc_count");
      expect(() => tc.program("tc_count").attachXdp(veth.hostIfindex, { mode: "generic" })).toThrow(BpfError);
    });

    it("a pinned link keeps the program attached after the object and fds are closed; detach removes it", () => {
      const o = open("xdp_count");
      const linkPath = `${scratch.dir}/xdp-link`;
      const mapPath = `${scratch.dir}/xdp-pkt_count`;
      const link = o.program("xdp_count").attachXdp(veth.hostIfindex, { mode: "native" });
      link.pin(linkPath);
      expect(link.pinPath).toBe(linkPath);
      expect(() => link.pin(`${scratch.dir}/again`)).toThrow(/already pinned/);
      o.map("pkt_count").pin(mapPath);
      const progId = o.program("xdp_count").id;
      link.close();
      o.close();

      // Still attached: visible to iproute2 and still counting.
      expect(linkDetails(veth.host)).toMatch(new RegExp(`prog/xdp id ${progId}`));
      const counter = BpfMap.openPinned(mapPath);
      maps.push(counter);
      sendFrames(veth.ns, veth.peer, 4);
      expect(xdpTestFrames(counter)).toBe(4n);

      const again = track(BpfLink.openPinned(linkPath));
      expect(again.kind).toBe("xdp");
      expect(again.mode).toBe("native");
      expect(again.ifindex).toBe(veth.hostIfindex);
      expect(again.pinPath).toBe(linkPath);
      expect(again.info().progId).toBe(progId);
      again.detach();
      expect(linkDetails(veth.host)).not.toMatch(/prog\/xdp/);
      sendFrames(veth.ns, veth.peer, 2);
      expect(xdpTestFrames(counter)).toBe(4n);
      again.unpin();
      expect(existsSync(linkPath)).toBe(false);
      expect(() => again.unpin()).toThrow(/not pinned/);
      counter.unpin(mapPath);
    });

    it("openPinned refuses non-link pins", () => {
      const o = open("xdp_count");
      const path = `${scratch.dir}/not-a-link`;
      o.map("by_proto").pin(path);
      try {
        const e = catchErr(() => BpfLink.openPinned(path));
        expect(e.code).toBe("EINVAL");
        expect(e.message).toMatch(/pinned map, not a link/);
      } finally {
        o.map("by_proto").unpin(path);
      }
    });
  });

  describe("TC", () => {
    it("attaches at ingress with a tcx link and counts frames", () => {
      const o = open("tc_count");
      const p: BpfProgram = o.program("tc_count");
      const link = track(p.attachTc(veth.hostIfindex, "ingress"));
      expect(link.kind).toBe("tcx");
      expect(link.direction).toBe("ingress");
      expect(link.ifindex).toBe(veth.hostIfindex);
      expect(link.info().progId).toBe(p.id);
      sendFrames(veth.ns, veth.peer, 6);
      expect(tcTestFrames(o.map("tc_hits"))).toBe(6n);
      link.detach();
      sendFrames(veth.ns, veth.peer, 2);
      expect(tcTestFrames(o.map("tc_hits"))).toBe(6n);
    });

    it("update() swaps the program of a tcx link in place", () => {
      const o = open("tc_count");
      const o2 = open("tc_count");
      const link = track(o.program("tc_count").attachTc(veth.hostIfindex, "ingress"));
      const id = link.info().id;
      link.update(o2.program("tc_count"));
      expect(link.info()).toMatchObject({ id, progId: o2.program("tc_count").id });
      sendFrames(veth.ns, veth.peer, 4);
      expect(tcTestFrames(o.map("tc_hits"))).toBe(0n);
      expect(tcTestFrames(o2.map("tc_hits"))).toBe(4n);
    });

    it("XDP and tcx run together; a pinned tcx link survives close and is reopened", () => {
      const x = open("xdp_count");
      const t = open("tc_count");
      track(x.program("xdp_count").attachXdp(veth.hostIfindex, { mode: "native" }));
      const path = `${scratch.dir}/tcx-link`;
      const link = t.program("tc_count").attachTc(veth.hostIfindex, "ingress");
      link.pin(path);
      const hits = BpfMap.openPinned((t.map("tc_hits").pin(`${scratch.dir}/tc_hits`), `${scratch.dir}/tc_hits`));
      maps.push(hits);
      link.close();
      t.close();

      sendFrames(veth.ns, veth.peer, 3);
      expect(xdpTestFrames(x.map("pkt_count"))).toBe(3n);
      expect(tcTestFrames(hits)).toBe(3n);

      const again = track(BpfLink.openPinned(path));
      expect(again.kind).toBe("tcx");
      expect(again.direction).toBe("ingress");
      expect(again.ifindex).toBe(veth.hostIfindex);
      expect(again.mode).toBeUndefined();
      expect(again.info().ifindex).toBe(veth.hostIfindex);
      again.detach();
      expect(again.info().ifindex).toBe(0);
      again.unpin();
      hits.unpin(`${scratch.dir}/tc_hits`);
      sendFrames(veth.ns, veth.peer, 1);
      expect(tcTestFrames(hits)).toBe(3n);
      expect(xdpTestFrames(x.map("pkt_count"))).toBe(4n);
    });

    it("egress tcx links attach and report their direction", () => {
      const o = open("tc_count");
      const link = track(o.program("tc_count").attachTc(veth.hostIfindex, "egress"));
      expect(link.kind).toBe("tcx");
      expect(link.direction).toBe("egress");
      const path = `${scratch.dir}/tcx-egress`;
      link.pin(path);
      const again = track(BpfLink.openPinned(path));
      expect(again.direction).toBe("egress");
    });

    it("falls back to netlink clsact/cls_bpf (forced) — not pinnable, detach removes the filter", () => {
      const o = open("tc_count");
      const link = track(o.program("tc_count").attachTc(veth.hostIfindex, "ingress", { via: "netlink", priority: 7 }));
      expect(link.kind).toBe("tc-netlink");
      expect(link.tc).toEqual({ handle: 1, priority: 7 });
      expect(sh("tc", ["filter", "show", "dev", veth.host, "ingress"])).toMatch(/pref 7 bpf .*direct-action/s);
      const e = catchErr(() => link.pin(`${scratch.dir}/nope`));
      expect(e).toBeInstanceOf(BpfError);
      expect(e.code).toBe("EOPNOTSUPP");
      expect(e.message).toMatch(/cannot be pinned/);
      expect(() => link.info()).toThrow(BpfError);

      sendFrames(veth.ns, veth.peer, 4);
      expect(tcTestFrames(o.map("tc_hits"))).toBe(4n);

      // Re-attaching at the same priority replaces the filter (idempotent restart).
      const again = track(o.program("tc_count").attachTc(veth.hostIfindex, "ingress", { via: "netlink", priority: 7 }));
      expect(again.tc).toEqual({ handle: 1, priority: 7 });
      expect(sh("tc", ["filter", "show", "dev", veth.host, "ingress"]).match(/pref 7 bpf chain 0 handle/g)?.length).toBe(1);

      link.detach();
      expect(sh("tc", ["filter", "show", "dev", veth.host, "ingress"])).not.toMatch(/bpf/);
      sendFrames(veth.ns, veth.peer, 2);
      expect(tcTestFrames(o.map("tc_hits"))).toBe(4n);
      expect(() => again.detach()).toThrow(BpfError); // already gone
    });

    it("netlink without a priority lets the kernel pick one", () => {
      const o = open("tc_count");
      const link = track(o.program("tc_count").attachTc(veth.hostIfindex, "egress", { via: "netlink" }));
      expect(link.kind).toBe("tc-netlink");
      expect(link.tc!.priority).toBeGreaterThan(0);
      expect(link.tc!.handle).toBeGreaterThan(0);
      link.detach();
    });

    it("validates arguments", () => {
      const o = open("tc_count");
      const p = o.program("tc_count");
      expect(() => p.attachTc(veth.hostIfindex, "sideways" as "ingress")).toThrow(TypeError);
      expect(() => p.attachTc(veth.hostIfindex, "ingress", { via: "carrier-pigeon" as "tcx" })).toThrow(TypeError);
      expect(() => p.attachTc(veth.hostIfindex, "ingress", { priority: 70000 })).toThrow(TypeError);
      expect(() => p.attachTc(0, "ingress")).toThrow(TypeError);
      // An XDP program is not a TC program.
      const x = open("xdp_count");
      expect(() => x.program("xdp_count").attachTc(veth.hostIfindex, "ingress", { via: "tcx" })).toThrow(BpfError);
    });
  });
});

function catchErr(f: () => unknown): BpfError {
  try {
    f();
  } catch (e) {
    return e as BpfError;
  }
  throw new Error("expected an exception");
}
