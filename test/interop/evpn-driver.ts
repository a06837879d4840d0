// Runs one EvpnSpeaker in the current network namespace for the interop
// tests (started with `node --import tsx evpn-driver.ts CONFIG.json` inside the
// namespace; see startSpeaker in evpn-interop.ts).
// stdout: one JSON object per line: {"ev":"port", "call":[...]} for every
//   EvpnSwitchPort call, {"id":N,"result":...} answers, {"ev":"ready"}, and
//   {"ev":"sync","result":...} once initialSync resolves.
// stdin: one JSON command per line: {"id":N,"cmd":"learn"|"gone"|"present"|
//   "summary"|"routes"|"macs"|"consistency"|"sync"|"gr"|"stop"|"stopGraceful", ...}.
// Optional config (graceful restart tests): `forwardingPreserved`
// (SpeakerOptions), `localMacs` learned before start() (what the runtime does
// with the hosts it finds in an adopted fast path), `presenceFollowsLearning`
// (learn/gone also set what localMacPresent answers), `retryMaxMs`,
// `connectTimeoutMs`, `startAt` (epoch ms: start() then, so that two speakers
// connect to each other at the same moment).
// Killing the process (SIGKILL) is how those tests restart a switch.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import type { BgpConfig } from "../../src/control/evpn/config.ts";
import { createLogger } from "../../src/control/log.ts";
import { EvpnSpeaker, type EvpnSwitchPort } from "../../src/control/evpn/speaker.ts";
import { gracefulRestartOf } from "../../src/control/evpn/bgp/index.ts";

export interface DriverExtras {
  forwardingPreserved?: boolean;
  localMacs?: { vni: number; mac: string }[];
  presenceFollowsLearning?: boolean;
  retryMaxMs?: number;
  connectTimeoutMs?: number;
  startAt?: number;
}

interface DriverConfig extends DriverExtras {
  bgp: BgpConfig;
  vtep: string;
  vnis: number[];
}

const cfg = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as DriverConfig;
const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + "\n");
const present = new Set<string>();

const port: EvpnSwitchPort = {
  installRemoteMac: (vni, mac, vtep, info) => out({ ev: "port", call: ["installRemoteMac", vni, mac, vtep, info] }),
  removeRemoteMac: (vni, mac, vtep) => out({ ev: "port", call: ["removeRemoteMac", vni, mac, vtep] }),
  addFloodVtep: (vni, vtep) => out({ ev: "port", call: ["addFloodVtep", vni, vtep] }),
  removeFloodVtep: (vni, vtep) => out({ ev: "port", call: ["removeFloodVtep", vni, vtep] }),
  localMacPresent: (vni, mac) => present.has(`${vni}/${mac}`),
  deleteLocalMac: (vni, mac) => out({ ev: "port", call: ["deleteLocalMac", vni, mac] }),
  reportDuplicate: (vni, mac, detail) => out({ ev: "port", call: ["reportDuplicate", vni, mac, detail] }),
};

const log = createLogger({ level: (process.env.VXGATE_TEST_LOG as "debug") ?? "info", json: true, sink: (l) => process.stderr.write(l + "\n") });
const sp = new EvpnSpeaker(cfg.bgp, cfg.vtep, cfg.vnis, port, log, {
  retryBaseMs: 200,
  retryMaxMs: cfg.retryMaxMs ?? 2000,
  forwardingPreserved: !!cfg.forwardingPreserved,
  ...(cfg.connectTimeoutMs !== undefined ? { connectTimeoutMs: cfg.connectTimeoutMs } : {}),
});
for (const m of cfg.localMacs ?? []) {
  sp.localMacLearned(m.vni, m.mac);
  present.add(`${m.vni}/${m.mac}`);
}
void sp.initialSync.then((r) => out({ ev: "sync", result: r }));

createInterface({ input: process.stdin }).on("line", (line) => {
  let m: { id: number; cmd: string; vni?: number; mac?: string; opts?: Record<string, unknown>; on?: boolean };
  try {
    m = JSON.parse(line);
  } catch {
    return;
  }
  const reply = (result: unknown) => out({ id: m.id, result });
  switch (m.cmd) {
    case "learn":
      sp.localMacLearned(m.vni!, m.mac!, m.opts ?? {});
      if (cfg.presenceFollowsLearning) present.add(`${m.vni}/${m.mac}`);
      return reply(true);
    case "gone":
      sp.localMacGone(m.vni!, m.mac!);
      if (cfg.presenceFollowsLearning) present.delete(`${m.vni}/${m.mac}`);
      return reply(true);
    case "present":
      if (m.on) present.add(`${m.vni}/${m.mac}`);
      else present.delete(`${m.vni}/${m.mac}`);
      return reply(true);
    case "summary":
      return reply(sp.summary());
    case "routes":
      return reply(sp.routes());
    case "macs":
      return reply(sp.macTable());
    case "consistency":
      return reply(sp.checkConsistency());
    case "sync":
      void sp.initialSync.then(reply);
      return;
    case "gr":
      // the peers' Graceful Restart capability as received
      return reply(
        Object.fromEntries(
          cfg.bgp.neighbors.map((n) => {
            const o = sp.session(n.address)?.peerOpen;
            return [n.address, o ? (gracefulRestartOf(o.capabilities) ?? null) : undefined];
          }),
        ),
      );
    case "stop":
    case "stopGraceful":
      void sp.stop({ graceful: m.cmd === "stopGraceful" }).then(() => {
        reply(true);
        setTimeout(() => process.exit(0), 200);
      });
      return;
  }
});

const begin = () => void sp.start().then(() => out({ ev: "ready", port: sp.listenPort }));
if (cfg.startAt !== undefined) setTimeout(begin, Math.max(0, cfg.startAt - Date.now()));
else begin();
process.stdin.on("end", () => void sp.stop().then(() => process.exit(0)));
