// The management section: an HTTP listener on an address other than loopback
// only together with management.token_file, a file holding the bearer token
// that exists, is a regular non-empty file and is not readable by everyone.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/config/types.ts";

const BASE = ["switch:", "  name: leaf1", "vtep:", "  source_ip: 10.0.0.1", "uplinks:", "  - name: eth0", "management:"];
const load = (...lines: string[]) => parseConfig([...BASE, ...lines].join("\n"), "t.yaml");
const problems = (...lines: string[]): string[] => {
  try {
    load(...lines);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
};

let dir: string;
let token: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "vxg-token-"));
  token = join(dir, "token");
  writeFileSync(token, "s3cret\n");
  chmodSync(token, 0o600);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("management.http and token_file", () => {
  it("accepts any address together with a token_file", () => {
    expect(load("  http: 10.1.2.3:8080", `  token_file: ${token}`).management).toEqual({ socket: "/run/vxgate/leaf1.sock", http: { host: "10.1.2.3", port: 8080 }, tokenFile: token });
    expect(load("  http: 0.0.0.0:9100", `  token_file: ${token}`).management.http).toEqual({ host: "0.0.0.0", port: 9100 });
    expect(load('  http: "[2001:DB8::1]:9100"', `  token_file: ${token}`).management.http).toEqual({ host: "2001:db8::1", port: 9100 });
  });

  it("keeps loopback without a token, and takes one there too", () => {
    expect(load("  http: 127.0.0.1:8080").management).toEqual({ socket: "/run/vxgate/leaf1.sock", http: { host: "127.0.0.1", port: 8080 } });
    expect(load("  http: 127.0.0.1:8080", `  token_file: ${token}`).management.tokenFile).toBe(token);
  });

  it("refuses another address without a token_file, pointing at http", () => {
    expect(problems("  http: 0.0.0.0:9100")).toEqual([
      "t.yaml:8:9: http host 0.0.0.0 is not a loopback address (127.0.0.0/8 or [::1]): another address needs token_file (a file holding the bearer token HTTP clients must send)",
    ]);
    expect(problems("  http: not-an-ip:80")).toEqual(["t.yaml:8:9: http host not-an-ip is not an IP address (IPv4, or IPv6 in brackets)"]);
  });

  it("checks the token file: absolute, present, a regular file, not world-readable, not empty", () => {
    expect(problems("  http: 10.1.2.3:8080", "  token_file: token")).toEqual(['t.yaml:9:15: token_file must be an absolute path, got "token"']);
    expect(problems("  http: 10.1.2.3:8080", `  token_file: ${dir}/missing`)).toEqual([`t.yaml:9:15: token_file ${dir}/missing cannot be read (ENOENT)`]);
    mkdirSync(join(dir, "d"));
    expect(problems("  http: 10.1.2.3:8080", `  token_file: ${dir}/d`)).toEqual([`t.yaml:9:15: token_file ${dir}/d is not a regular file`]);
    chmodSync(token, 0o644);
    expect(problems("  http: 10.1.2.3:8080", `  token_file: ${token}`)).toEqual([`t.yaml:9:15: token_file ${token} is readable by everyone (mode 0644): chmod o-rwx ${token}`]);
    chmodSync(token, 0o640);
    writeFileSync(token, " \n");
    expect(problems("  http: 10.1.2.3:8080", `  token_file: ${token}`)).toEqual([`t.yaml:9:15: token_file ${token} is empty: it must hold the bearer token`]);
  });
});
