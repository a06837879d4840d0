// TCP sockets with TCP-MD5 (RFC 2385) and GTSM (RFC 5082) options, handed to
// Node: over loopback, a listener (net.Server.listen({ fd })) and outgoing
// sockets (net.Socket({ fd }) + connect()) with matching, wrong and missing
// keys, IPv4-mapped keys on a dual-stack listener, minimum TTLs on both ends,
// the saved SYN's TTL, argument/kernel errors and fd ownership.
import { readdirSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { BpfError, closeFd, savedSynTtl, setTcpMd5Key, socketFd, tcpListenerFd, tcpSocket, tcpSocketFd, type TcpListenerOptions, type TcpSecurityOptions } from "../lib/index.ts";

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** An echo server on a listener made by the addon; `synTtl` records each accepted SYN's TTL. */
async function listen(host: string, opts: TcpListenerOptions) {
  const synTtls: (number | undefined)[] = [];
  const fd = tcpListenerFd(host, 0, opts);
  const srv = createServer((s) => {
    synTtls.push(savedSynTtl(socketFd(s)!));
    s.on("error", () => {});
    s.on("data", (d) => s.write(`echo:${d}`));
  });
  servers.push(srv);
  await new Promise<void>((ok, fail) => {
    srv.once("error", fail);
    srv.listen({ fd }, () => ok());
  });
  return { srv, port: (srv.address() as { port: number }).port, synTtls };
}

/** "echo:hi" when a connection with these options is accepted and answers, "timeout"/"error CODE" otherwise. */
function dial(host: string, port: number, opts: TcpSecurityOptions, ms = 700): Promise<string> {
  return new Promise((done) => {
    const s: Socket = tcpSocket(host.includes(":") ? 6 : 4, opts);
    const t = setTimeout(() => {
      s.destroy();
      done("timeout");
    }, ms);
    s.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      done(`error ${e.code}`);
    });
    s.connect({ host, port }, () => {
      s.write("hi");
      s.once("data", (d) => {
        clearTimeout(t);
        s.destroy();
        done(String(d));
      });
    });
  });
}

const fdCount = () => readdirSync("/proc/self/fd").length;
const key = (address: string, password: string) => ({ address, password });

describe("TCP-MD5 (TCP_MD5SIG)", () => {
  it("a connection signed with the listener's key for our address is accepted; a wrong or missing key is not", async () => {
    const { port } = await listen("127.0.0.1", { md5: [key("127.0.0.1", "s3cret pass")] });
    expect(await dial("127.0.0.1", port, { md5: [key("127.0.0.1", "s3cret pass")] })).toBe("echo:hi");
    expect(await dial("127.0.0.1", port, { md5: [key("127.0.0.1", "s3cret pasS")] })).toBe("timeout");
    expect(await dial("127.0.0.1", port, {})).toBe("timeout");
  });

  it("a signed SYN to a listener without a key for us is dropped", async () => {
    const { port } = await listen("127.0.0.1", { md5: [key("127.0.0.9", "for someone else")] });
    expect(await dial("127.0.0.1", port, { md5: [key("127.0.0.1", "x")] })).toBe("timeout");
    // ... while an unsigned one from an address without a key is accepted as usual
    expect(await dial("127.0.0.1", port, {})).toBe("echo:hi");
  });

  it("a dual-stack listener keys IPv4 peers by their v4-mapped address", async () => {
    const { srv, port } = await listen("::", { md5: [key("127.0.0.1", "four"), key("::1", "six")] });
    expect(srv.address()).toMatchObject({ address: "::", family: "IPv6" });
    expect(await dial("127.0.0.1", port, { md5: [key("127.0.0.1", "four")] })).toBe("echo:hi");
    expect(await dial("::1", port, { md5: [key("::1", "six")] })).toBe("echo:hi");
    expect(await dial("::1", port, { md5: [key("::1", "four")] })).toBe("timeout");
  });

  it("keys can be added to and removed from a live listener", async () => {
    const fd = tcpListenerFd("127.0.0.1", 0, {});
    const srv = createServer((s) => s.on("data", (d) => s.write(`echo:${d}`)).on("error", () => {}));
    servers.push(srv);
    await new Promise<void>((ok) => srv.listen({ fd }, ok));
    const port = (srv.address() as { port: number }).port;
    setTcpMd5Key(fd, "127.0.0.1", "later");
    expect(await dial("127.0.0.1", port, {})).toBe("timeout");
    expect(await dial("127.0.0.1", port, { md5: [key("127.0.0.1", "later")] })).toBe("echo:hi");
    setTcpMd5Key(fd, "127.0.0.1", null);
    setTcpMd5Key(fd, "127.0.0.1", null); // absent: no error
    expect(await dial("127.0.0.1", port, {})).toBe("echo:hi");
  });
});

describe("GTSM (IP_TTL / IP_MINTTL)", () => {
  it("the listener drops SYNs below its minimum TTL; accepted connections report their SYN's TTL", async () => {
    const { port, synTtls } = await listen("127.0.0.1", { ttl: 255, minTtl: 254, saveSyn: true });
    expect(await dial("127.0.0.1", port, { ttl: 255 })).toBe("echo:hi");
    expect(await dial("127.0.0.1", port, { ttl: 254 })).toBe("echo:hi");
    expect(await dial("127.0.0.1", port, {})).toBe("timeout"); // the default TTL (64)
    expect(synTtls).toEqual([255, 254]);
  });

  it("a connecting socket drops a SYN-ACK below its minimum TTL", async () => {
    const plain = await listen("127.0.0.1", { saveSyn: true });
    expect(await dial("127.0.0.1", plain.port, { ttl: 255, minTtl: 255 })).toBe("timeout");
    const gtsm = await listen("127.0.0.1", { ttl: 255 });
    expect(await dial("127.0.0.1", gtsm.port, { ttl: 255, minTtl: 255 })).toBe("echo:hi");
    // without TCP_SAVE_SYN there is no saved SYN
    expect(plain.synTtls).toEqual([]);
  });

  it("IPv6: hop limit and minimum hop count", async () => {
    const { port, synTtls } = await listen("::1", { ttl: 255, minTtl: 255, saveSyn: true });
    expect(await dial("::1", port, { ttl: 255 })).toBe("echo:hi");
    expect(await dial("::1", port, {})).toBe("timeout");
    expect(synTtls).toEqual([255]);
  });
});

describe("errors and fd ownership", () => {
  it("bind and listen failures are BpfErrors with the errno's code; nothing leaks", async () => {
    const { port } = await listen("127.0.0.1", {});
    const before = fdCount();
    const e = (() => {
      try {
        tcpListenerFd("127.0.0.1", port, { md5: [key("127.0.0.2", "k")] });
      } catch (err) {
        return err as BpfError;
      }
    })();
    expect(e).toBeInstanceOf(BpfError);
    expect(e).toMatchObject({ code: "EADDRINUSE", op: `bind 127.0.0.1:${port}` });
    expect(fdCount()).toBe(before);
  });

  it("bad arguments throw TypeError without leaking the socket", () => {
    const before = fdCount();
    expect(() => tcpSocketFd(4, { md5: [key("not-an-ip", "k")] })).toThrow(TypeError);
    expect(() => tcpSocketFd(4, { md5: [key("10.0.0.1", "x".repeat(81))] })).toThrow(/longer than 80 bytes/);
    expect(() => tcpSocketFd(4, { md5: [key("10.0.0.1", "")] })).toThrow(/empty/);
    expect(() => tcpSocketFd(4, { ttl: 0 })).toThrow(/ttl must be in 1..255/);
    expect(() => tcpSocketFd(4, { minTtl: 256 })).toThrow(/minTtl must be in 0..255/);
    expect(() => tcpSocketFd(7 as 4)).toThrow(/family must be 4 or 6/);
    expect(() => tcpSocketFd(4, { md5: [key("2001:db8::1", "k")] })).toThrow(expect.objectContaining({ code: "EAFNOSUPPORT" }));
    expect(fdCount()).toBe(before);
    const fd = tcpSocketFd(6, { md5: [key("10.0.0.1", "k"), key("2001:db8::1", "k")], ttl: 255, minTtl: 254 });
    expect(fdCount()).toBe(before + 1);
    closeFd(fd);
    expect(fdCount()).toBe(before);
  });

  it("the Socket owns the fd: destroying it while it connects (or after a refusal) closes it", async () => {
    const before = fdCount();
    const s = tcpSocket(4, { ttl: 255 });
    s.on("error", () => {});
    s.connect({ host: "192.0.2.77", port: 179 }); // TEST-NET-1: never answers
    await new Promise((r) => setTimeout(r, 50));
    s.destroy();
    await new Promise((r) => s.once("close", r));
    expect(await dial("127.0.0.1", 1, {})).toBe("error ECONNREFUSED");
    await new Promise((r) => setTimeout(r, 20));
    expect(fdCount()).toBe(before);
  });

  it("localAddress: Node binds the prepared socket before connecting", async () => {
    const { srv, port } = await listen("127.0.0.1", { md5: [key("127.0.0.1", "k")] });
    const peers: string[] = [];
    srv.on("connection", (c) => peers.push(c.remoteAddress!));
    const s = tcpSocket(4, { md5: [key("127.0.0.1", "k")] });
    await new Promise<void>((ok, fail) => {
      s.once("error", fail);
      s.connect({ host: "127.0.0.1", port, localAddress: "127.0.0.1" }, ok);
    });
    expect(s.localAddress).toBe("127.0.0.1");
    s.destroy();
    expect(peers).toEqual(["127.0.0.1"]);
  });
});
