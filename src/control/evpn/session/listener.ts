// The passive side: one TCP listener (bgp.listen, default 0.0.0.0:179) that
// hands each accepted connection to the session configured for the remote
// address. Connections from unknown addresses are closed at once (nothing is
// sent: an unconfigured peer learns nothing about us).

import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../../log.ts";
import type { BgpSession } from "./session.ts";

/** "::ffff:10.0.0.1" -> "10.0.0.1"; IPv6 lower-cased. */
export function normalizeAddress(a: string | undefined): string {
  if (!a) return "";
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  return m ? m[1]! : a.toLowerCase();
}

export class BgpListener {
  private server?: Server;
  constructor(
    private readonly lookup: (remote: string) => BgpSession | undefined,
    private readonly log: Logger,
  ) {}

  /** Resolves with the bound port once listening. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((ok, fail) => {
      const srv = createServer({ noDelay: true }, (sock) => this.onConnection(sock));
      srv.once("error", fail);
      srv.listen({ host, port, exclusive: true }, () => {
        srv.off("error", fail);
        srv.on("error", (e) => this.log.error("listener error", { error: e.message }));
        this.server = srv;
        const addr = srv.address();
        ok(typeof addr === "object" && addr ? addr.port : port);
      });
    });
  }

  private onConnection(sock: Socket): void {
    const remote = normalizeAddress(sock.remoteAddress);
    const s = this.lookup(remote);
    if (!s) {
      this.log.info("connection from an unconfigured address refused", { from: remote });
      sock.destroy();
      return;
    }
    sock.on("error", () => {}); // the session attaches its own handlers
    s.acceptIncoming(sock);
  }

  close(): Promise<void> {
    const srv = this.server;
    this.server = undefined;
    if (!srv) return Promise.resolve();
    return new Promise((ok) => srv.close(() => ok()));
  }
}
