import { describe, expect, it } from "vitest";
import {
  arpReply,
  arpRequest,
  ethernet,
  ETH_P_IPV4,
  fromHex,
  icmpEcho,
  icmpEchoFrame,
  internetChecksum,
  ipv4,
  ipv4Addr,
  ipv4HeaderChecksum,
  IPPROTO_UDP,
  mac,
  parseFrame,
  udp,
  udpChecksum,
  udpFrame,
  vlanTag,
  vxlanEncap,
  vxlanHeader,
  vxlanSourcePort,
} from "../harness/packets.ts";
import { parsePcap, writePcap } from "../harness/capture.ts";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

describe("checksums", () => {
  it("RFC 1071 example: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2", () => {
    expect(internetChecksum(fromHex("0001 f203 f4f5 f6f7"))).toBe(~0xddf2 & 0xffff);
  });

  it("is independent of how the data is split, including odd-length pieces", () => {
    const data = fromHex("45 00 00 73 00 00 40 00 40 11 00 00 c0 a8 00 01 c0 a8 00 c7 ab");
    const whole = internetChecksum(data);
    for (let cut = 0; cut <= data.length; cut++) {
      expect(internetChecksum(data.subarray(0, cut), data.subarray(cut))).toBe(whole);
    }
    expect(internetChecksum(data.subarray(0, 3), data.subarray(3, 4), data.subarray(4, 9), data.subarray(9))).toBe(whole);
  });

  it("IPv4 header of a hand-computed example has checksum 0xb861", () => {
    // 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7, worked by hand:
    // 4500+0073+0000+4000+4011+c0a8+0001+c0a8+00c7 = 0x2479c -> 0x479e -> ~ = 0xb861
    const pkt = ipv4({
      src: "192.168.0.1",
      dst: "192.168.0.199",
      protocol: IPPROTO_UDP,
      ttl: 64,
      df: true,
      payload: Buffer.alloc(0x73 - 20),
    });
    expect(pkt.subarray(0, 20).toString("hex")).toBe("45000073000040004011b861c0a80001c0a800c7");
    expect(ipv4HeaderChecksum(pkt.subarray(0, 20))).toBe(0xb861);
    expect(internetChecksum(pkt.subarray(0, 20))).toBe(0); // a correct header sums to 0xffff
  });

  it("UDP checksum over the pseudo header matches a hand computation", () => {
    // pseudo: 0a00 0001 0a00 0002 0011 000a; udp: 04d2 162e 000a 0000 6869
    // sum = 0x9791 -> ~ = 0x686e
    const seg = udp({ srcPort: 1234, dstPort: 5678, payload: Buffer.from("hi"), srcIp: "10.0.0.1", dstIp: "10.0.0.2" });
    expect(seg.toString("hex")).toBe("04d2162e000a686e6869");
    expect(udpChecksum("10.0.0.1", "10.0.0.2", seg)).toBe(0x686e);
    expect(udp({ srcPort: 1, dstPort: 2, payload: Buffer.alloc(0) }).readUInt16BE(6)).toBe(0); // no IPs: no checksum
    expect(udp({ srcPort: 1, dstPort: 2, payload: Buffer.alloc(0), checksum: 0xbeef }).readUInt16BE(6)).toBe(0xbeef);
  });

  it("ICMP echo request id 1 seq 1 has checksum 0xf7fd", () => {
    expect(icmpEcho({ ident: 1, seq: 1 }).toString("hex")).toBe("0800f7fd00010001");
    expect(icmpEcho({ type: "reply", ident: 1, seq: 1 }).toString("hex")).toBe("0000fffd00010001");
  });
});

describe("builders produce known bytes", () => {
  it("ARP request", () => {
    const f = arpRequest({ srcMac: "02:00:00:00:00:01", srcIp: "10.0.0.1", targetIp: "10.0.0.2" });
    expect(f.toString("hex")).toBe(
      "ffffffffffff" + "020000000001" + "0806" +
        "0001" + "0800" + "06" + "04" + "0001" + "020000000001" + "0a000001" + "000000000000" + "0a000002",
    );
    expect(f.length).toBe(42);
    expect(arpRequest({ srcMac: "02:00:00:00:00:01", srcIp: "10.0.0.1", targetIp: "10.0.0.2", pad: true }).length).toBe(60);
  });

  it("ARP reply", () => {
    const f = arpReply({ srcMac: "02:00:00:00:00:02", srcIp: "10.0.0.2", dstMac: "02:00:00:00:00:01", dstIp: "10.0.0.1" });
    expect(f.toString("hex")).toBe(
      "020000000001" + "020000000002" + "0806" +
        "0001080006040002" + "020000000002" + "0a000002" + "020000000001" + "0a000001",
    );
  });

  it("802.1Q and 802.1ad tags", () => {
    expect(vlanTag({ id: 10, pcp: 5 }).toString("hex")).toBe("8100a00a");
    expect(vlanTag({ id: 4095, dei: true, tpid: 0x88a8 }).toString("hex")).toBe("88a81fff");
    const f = ethernet({
      dst: "ff:ff:ff:ff:ff:ff",
      src: "02:00:00:00:00:01",
      vlan: [{ id: 100, tpid: 0x88a8 }, { id: 20 }],
      ethertype: ETH_P_IPV4,
      payload: Buffer.alloc(0),
    });
    expect(f.toString("hex")).toBe("ffffffffffff02000000000188a8006481000014" + "0800");
    expect(() => vlanTag({ id: 4096 })).toThrow();
  });

  it("VXLAN header carries the I flag and the VNI in bytes 4..6", () => {
    expect(vxlanHeader({ vni: 100 }).toString("hex")).toBe("0800000000006400");
    expect(vxlanHeader({ vni: 0xabcdef }).toString("hex")).toBe("08000000abcdef00");
    expect(() => vxlanHeader({ vni: 1 << 24 })).toThrow();
  });

  it("VXLAN encapsulation: outer Eth/IPv4(DF)/UDP 4789/VXLAN + the untouched inner frame", () => {
    const inner = arpRequest({ srcMac: "02:00:00:00:01:01", srcIp: "192.168.1.1", targetIp: "192.168.1.2" });
    const f = vxlanEncap({
      outer: { srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02", srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 50000 },
      vni: 100,
      inner,
    });
    expect(f.length).toBe(14 + 20 + 8 + 8 + inner.length);
    expect(f.subarray(0, 14).toString("hex")).toBe("020000000002" + "020000000001" + "0800");
    const ip = f.subarray(14, 34);
    expect(ip.toString("hex")).toBe(
      "4500" + (20 + 8 + 8 + 42).toString(16).padStart(4, "0") + "0000" + "4000" + "4011" +
        ipv4HeaderChecksum(ip).toString(16).padStart(4, "0") + "0a000001" + "0a000002",
    );
    expect(internetChecksum(ip)).toBe(0);
    expect(f.subarray(34, 42).toString("hex")).toBe("c35012b5" + (8 + 8 + 42).toString(16).padStart(4, "0") + "0000");
    expect(f.subarray(42, 50).toString("hex")).toBe("0800000000006400");
    expect(f.subarray(50).equals(inner)).toBe(true);
  });

  it("VXLAN source port is deterministic and in the dynamic range", () => {
    const inner = icmpEchoFrame({ srcMac: "02:00:00:00:01:01", dstMac: "02:00:00:00:01:02", srcIp: "1.1.1.1", dstIp: "2.2.2.2", ident: 1, seq: 1 });
    const p = vxlanSourcePort(inner);
    expect(p).toBe(vxlanSourcePort(Buffer.from(inner)));
    expect(p).toBeGreaterThanOrEqual(49152);
    expect(p).toBeLessThanOrEqual(65535);
  });

  it("rejects malformed addresses", () => {
    expect(() => mac("02:00:00:00:00")).toThrow();
    expect(() => mac("zz:00:00:00:00:00")).toThrow();
    expect(() => ipv4Addr("10.0.0.256")).toThrow();
    expect(() => ipv4Addr("10.0.0")).toThrow();
    expect(ipv4Addr(0x0a000001).toString("hex")).toBe("0a000001");
  });
});

describe("parseFrame", () => {
  it("round-trips a tagged VXLAN frame with a tagged inner ICMP echo", () => {
    const inner = icmpEchoFrame({
      srcMac: "02:00:00:00:01:01",
      dstMac: "02:00:00:00:01:02",
      vlan: { id: 10, pcp: 3 },
      srcIp: "192.168.1.1",
      dstIp: "192.168.1.2",
      ttl: 17,
      ident: 7,
      seq: 9,
      payload: Buffer.from("hello"),
    });
    const f = vxlanEncap({
      outer: {
        srcMac: "02:00:00:00:00:01",
        dstMac: "02:00:00:00:00:02",
        vlan: { id: 200 },
        srcIp: "10.0.0.1",
        dstIp: "10.0.0.2",
        ttl: 5,
        udpChecksum: true,
      },
      vni: 4242,
      inner,
    });
    const p = parseFrame(f);
    expect(p.errors).toEqual([]);
    expect(p.eth).toEqual({ dst: "02:00:00:00:00:02", src: "02:00:00:00:00:01", ethertype: 0x0800 });
    expect(p.vlan).toEqual({ tpid: 0x8100, pcp: 0, dei: false, id: 200 });
    expect(p.ipv4).toMatchObject({ src: "10.0.0.1", dst: "10.0.0.2", ttl: 5, protocol: 17, df: true, checksumOk: true });
    expect(p.udp).toMatchObject({ dstPort: 4789, checksumOk: true });
    expect(p.vxlan).toEqual({ flags: 0x08, iFlag: true, vni: 4242, reserved1: 0, reserved2: 0 });
    const i = p.inner!;
    expect(i.eth.src).toBe("02:00:00:00:01:01");
    expect(i.vlan).toMatchObject({ id: 10, pcp: 3 });
    expect(i.ipv4).toMatchObject({ src: "192.168.1.1", dst: "192.168.1.2", ttl: 17, checksumOk: true });
    expect(i.icmp).toEqual({ type: 8, code: 0, checksum: i.icmp!.checksum, checksumOk: true, ident: 7, seq: 9 });
    expect(i.payload.toString()).toBe("hello");
  });

  it("flags bad checksums", () => {
    const f = udpFrame({ srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02", srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 1, dstPort: 2, payload: Buffer.from("x") });
    const badIp = Buffer.from(f);
    badIp[14 + 10]! ^= 0xff;
    expect(parseFrame(badIp).ipv4!.checksumOk).toBe(false);
    const badUdp = Buffer.from(f);
    badUdp[14 + 20 + 8]! ^= 0x01; // payload byte
    expect(parseFrame(badUdp).udp!.checksumOk).toBe(false);
    expect(parseFrame(f).udp!.checksumOk).toBe(true);
    expect(parseFrame(udpFrame({ srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02", srcIp: "10.0.0.1", dstIp: "10.0.0.2", srcPort: 1, dstPort: 2, udpChecksum: false })).udp!.checksumOk).toBeNull();
  });

  it("parses ARP and separates Ethernet padding", () => {
    const p = parseFrame(arpRequest({ srcMac: "02:00:00:00:00:01", srcIp: "10.0.0.1", targetIp: "10.0.0.2", pad: true }));
    expect(p.arp).toEqual({
      htype: 1,
      ptype: 0x0800,
      op: 1,
      senderMac: "02:00:00:00:00:01",
      senderIp: "10.0.0.1",
      targetMac: "00:00:00:00:00:00",
      targetIp: "10.0.0.2",
    });
    expect(p.trailer.length).toBe(18);
    const u = parseFrame(
      ethernet({
        dst: "02:00:00:00:00:02",
        src: "02:00:00:00:00:01",
        ethertype: ETH_P_IPV4,
        payload: ipv4({ src: "1.1.1.1", dst: "2.2.2.2", protocol: 99, payload: Buffer.from("ab") }),
        pad: true,
      }),
    );
    expect(u.payload.toString()).toBe("ab");
    expect(u.trailer.length).toBe(60 - 14 - 22);
  });

  it("never throws on truncated input", () => {
    const f = vxlanEncap({
      outer: { srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02", srcIp: "10.0.0.1", dstIp: "10.0.0.2" },
      vni: 1,
      inner: arpRequest({ srcMac: "02:00:00:00:01:01", srcIp: "192.168.1.1", targetIp: "192.168.1.2" }),
    });
    for (let n = 0; n < f.length; n++) {
      const p = parseFrame(f.subarray(0, n));
      expect(p.length).toBe(n);
      if (n < 14 + 20 + 8 + 8 + 28 + 14) {
        const errs = [...p.errors, ...(p.inner?.errors ?? [])];
        expect(errs.length).toBeGreaterThan(0);
      }
    }
  });
});

describe("pcap files", () => {
  it("writePcap/parsePcap round-trip, and a partial trailing record is ignored", () => {
    const dir = mkdtempSync(join(tmpdir(), "vxh-unit-"));
    try {
      const frames = [arpRequest({ srcMac: "02:00:00:00:00:01", srcIp: "10.0.0.1", targetIp: "10.0.0.2" }), Buffer.alloc(100, 7)];
      const file = join(dir, "x.pcap");
      writePcap(file, frames, 1000);
      const buf = readFileSync(file);
      const p = parsePcap(buf);
      expect(p.linkType).toBe(1);
      expect(p.records.map((r) => r.data)).toEqual(frames);
      expect(p.records.map((r) => r.time)).toEqual([1000, 1001]);
      expect(parsePcap(buf.subarray(0, buf.length - 1)).records.length).toBe(1);
      expect(() => parsePcap(Buffer.alloc(24, 0x0a))).toThrow(/not a pcap/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
