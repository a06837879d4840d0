// The link watcher takes each change from `ip -o monitor link`'s own line
// (no full `ip link show` per flap): up needs UP and LOWER_UP, a deleted or
// renamed port is down, other interfaces are ignored, and the changes of one
// turn of the event loop reach the listener once.
import { describe, expect, it } from "vitest";
import { LinkWatcher } from "../../src/control/l2/links.ts";
import { quietLog } from "./evpn-helpers.ts";

/** A watcher of h1 and h2, both up, fed monitor lines by hand (no `ip` runs). */
function watcher() {
  const changes: string[][] = [];
  const w = new LinkWatcher(["h1", "h2"], (down) => changes.push([...down].sort()), quietLog);
  const inner = w as unknown as { child: object; hear(line: string): void; names: Map<number, string> };
  inner.child = {}; // as if started
  inner.names.set(7, "h1").set(8, "h2");
  const hear = async (...lines: string[]) => {
    for (const l of lines) inner.hear(l);
    await new Promise((r) => setImmediate(r));
  };
  return { w, changes, hear };
}

const line = (ifindex: number, name: string, flags: string, deleted = false) =>
  `${deleted ? "Deleted " : ""}${ifindex}: ${name}@if3: <${flags}> mtu 1500 qdisc noqueue state UP group default \\    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff`;

describe("link watcher", () => {
  it("follows carrier and admin state from the monitor's lines, once per turn", async () => {
    const { w, changes, hear } = watcher();
    await hear(line(7, "h1", "NO-CARRIER,BROADCAST,MULTICAST,UP"), line(9, "eth0", "BROADCAST,MULTICAST"));
    expect([...w.portsDown]).toEqual(["h1"]);
    await hear(line(8, "h2", "BROADCAST,MULTICAST"), line(7, "h1", "BROADCAST,MULTICAST,UP,LOWER_UP"));
    expect([...w.portsDown]).toEqual(["h2"]);
    // a flap within one turn: the last line wins, and nothing changed
    await hear(line(8, "h2", "BROADCAST,MULTICAST,UP,LOWER_UP"), line(8, "h2", "NO-CARRIER,BROADCAST,MULTICAST,UP"));
    expect(changes).toEqual([["h1"], ["h2"]]);
  });

  it("a deleted port is down; a port renamed away is down, and back under its name it is up", async () => {
    const { w, hear } = watcher();
    await hear(line(7, "h1", "BROADCAST,MULTICAST", true));
    expect([...w.portsDown]).toEqual(["h1"]);
    await hear(line(8, "h2x", "BROADCAST,MULTICAST,UP,LOWER_UP"));
    expect([...w.portsDown].sort()).toEqual(["h1", "h2"]);
    await hear(line(8, "h2", "BROADCAST,MULTICAST,UP,LOWER_UP"));
    expect([...w.portsDown]).toEqual(["h1"]);
  });
});
