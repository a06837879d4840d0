// A request to a switch's management API (HTTP/JSON on its Unix socket),
// for the write side that Fabric.api (GET views) does not cover.
import { request } from "node:http";

export function apiRequest(socketPath: string, method: "GET" | "POST" | "DELETE", path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((ok, fail) => {
    const req = request({ socketPath, method, path, agent: false, headers: { "content-type": "application/json" } }, (res) => {
      let data = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (data += c));
      res.on("end", () => ok({ status: res.statusCode ?? 0, body: data ? JSON.parse(data) : undefined }));
    });
    req.on("error", fail);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
