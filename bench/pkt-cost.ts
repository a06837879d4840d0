// Benchmark 1: per-packet cost of the XDP programs, by BPF_PROG_TEST_RUN.
//
// Builds the same ELF `vxgate run` would for a one-VNI switch (default tables,
// learning on) and, in the same run, the baseline programs of
// bench/xdp-harness.bpf.c. The timing happens in a child process
// (bench/pkt-worker.ts) entered into a namespace of its own, because
// xdp_md.ingress_ifindex and bpf_fib_lookup both resolve in the caller's
// network namespace: there the access port h1 and the uplink eth0 exist, the
// remote VTEP is routed via 192.0.2.1 and that next hop has a permanent
// neighbour entry, so the encap's FIB lookup succeeds.
//
// A second ELF is built from the same config with `mirror: { enabled: false }`
// (the match-mirror-encap stage not compiled in), so the encap can be measured
// with and without the stage in the same run; the mirror sessions of the
// config are applied by the worker one case at a time (see pkt-worker.ts).
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Lab } from "../test/harness/netns.ts";
import { runAsync } from "../test/harness/proc.ts";
import { udpFrame, vxlanEncap } from "../test/harness/packets.ts";
import { parseConfig } from "../src/config/load.ts";
import { pipelineFor } from "../src/codegen/pipeline.ts";
import { buildPipeline } from "../src/codegen/build.ts";
import { REPO } from "../lab/fabric.ts";
import type { WorkerResult, WorkerSpec } from "./pkt-worker.ts";
import { sleep } from "./stats.ts";

export interface PktCostOptions {
  repeat: number;
  rounds: number;
  /** where the ELF is cached (default: the runtime's cache dir) */
  cacheDir?: string;
  log: (s: string) => void;
}

export interface PktCostResult extends WorkerResult {
  vxgHash: string;
  /** the same switch built with mirror.enabled: false */
  vxgNoMirrorHash: string;
  repeat: number;
  rounds: number;
}

const VTEP = "198.18.0.1";
const REMOTE_VTEP = "198.18.0.2";
const LOCAL_HOST = "02:00:00:00:01:01";
const REMOTE_HOST = "02:00:00:00:02:01";
const NEXT_HOP = "192.0.2.1";
const NEXT_HOP_MAC = "02:00:00:00:fe:01";
const SPINE_MAC = "02:00:00:00:fe:02";
const UPLINK_MAC = "02:00:00:00:fe:03";
/** a second local host on h1: the session of the "not monitored" case watches it */
const OTHER_HOST = "02:00:00:00:01:02";
/** the monitoring server of both sessions, behind the remote VTEP (MIRROR_TO_REMOTE) */
const MIRROR_SERVER = "02:00:00:00:09:01";
/** session names in the config below, one per mirror case of the worker */
const SESSION_OTHER = "watch-other";
const SESSION_H1 = "watch-h1";

/**
 * mirror "sessions": the default build (mirror.enabled defaults to true) with
 * two sessions the worker applies one at a time; "disabled": the same switch
 * with the mirror stage not compiled in (no sessions allowed).
 */
function switchConfig(socket: string, mirror: "sessions" | "disabled"): string {
  const mirrorSection =
    mirror === "disabled"
      ? `mirror:
  enabled: false
`
      : `mirror:
  sessions:
    - name: ${SESSION_OTHER}
      host: { mac: "${OTHER_HOST}", vni: 100 }
      server: { mac: "${MIRROR_SERVER}", vni: 100 }
      host_id: 7
    - name: ${SESSION_H1}
      host: { mac: "${LOCAL_HOST}", vni: 100 }
      server: { mac: "${MIRROR_SERVER}", vni: 100 }
      host_id: 8
      direction: from-host
`;
  return `switch:
  name: bench-pkt
vtep:
  source_ip: ${VTEP}
uplinks:
  - name: eth0
ports:
  - { name: h1, vni: 100 }
vnis:
  - vni: 100
    flood: [${REMOTE_VTEP}, 198.18.0.3]
    static_macs:
      - { mac: "${LOCAL_HOST}", port: h1 }
      - { mac: "${REMOTE_HOST}", remote: ${REMOTE_VTEP} }
      - { mac: "${OTHER_HOST}", port: h1 }
      - { mac: "${MIRROR_SERVER}", remote: ${REMOTE_VTEP} }
management:
  socket: ${socket}
${mirrorSection}`;
}

/** clang flags as src/codegen/build.ts uses them for the vxgate ELF */
const CLANG = ["-target", "bpf", "-O2", "-g", "-Wall", "-Werror", "-I/usr/include/x86_64-linux-gnu"];

export async function runPktCost(opts: PktCostOptions): Promise<PktCostResult> {
  const lab = new Lab("bench-pkt");
  try {
    const dir = lab.tmpdir;
    const configText = switchConfig(join(dir, "unused.sock"), "sessions");
    const cfg = parseConfig(configText, "bench-switch.yaml");
    if (!cfg.mirror.enabled) throw new Error("bench config: mirror.enabled should default to true");
    const built = buildPipeline(pipelineFor(cfg), opts.cacheDir);
    opts.log(`   vxgate ELF ${built.hash} (${built.reused ? "cached" : "compiled now"}): ${built.objectPath}`);
    const noMirrorConfigText = switchConfig(join(dir, "unused.sock"), "disabled");
    const noMirrorPipeline = pipelineFor(parseConfig(noMirrorConfigText, "bench-switch-nomirror.yaml"));
    if (noMirrorPipeline.features.mirror) throw new Error("bench config: mirror.enabled: false still compiles the mirror stage");
    const builtNoMirror = buildPipeline(noMirrorPipeline, opts.cacheDir);
    opts.log(`   vxgate ELF without the mirror stage ${builtNoMirror.hash} (${builtNoMirror.reused ? "cached" : "compiled now"}): ${builtNoMirror.objectPath}`);
    const harnessObject = join(dir, "xdp-harness.bpf.o");
    execFileSync("clang", [...CLANG, "-c", join(REPO, "bench/xdp-harness.bpf.c"), "-o", harnessObject], { stdio: ["ignore", "pipe", "pipe"] });
    opts.log(`   baselines + tail-call harness compiled: ${harnessObject}`);

    // one namespace: access port h1 (peer h1p), uplink eth0 (peer s1), VTEP on lo
    const ns = lab.ns("sw", { forwarding: true });
    lab.veth(ns, "h1", ns, "h1p");
    lab.veth(ns, "eth0", ns, "s1", { macA: UPLINK_MAC, macB: SPINE_MAC });
    lab.addr(ns, "lo", `${VTEP}/32`);
    lab.addr(ns, "eth0", "192.0.2.2/30");
    lab.route(ns, `${REMOTE_VTEP}/32`, { via: NEXT_HOP });
    lab.neigh(ns, "eth0", NEXT_HOP, NEXT_HOP_MAC);

    const inner = udpFrame({
      dstMac: LOCAL_HOST,
      srcMac: REMOTE_HOST,
      srcIp: "198.51.100.2",
      dstIp: "198.51.100.1",
      srcPort: 40000,
      dstPort: 9,
      payload: Buffer.alloc(18, 0x5a),
    });
    const decapFrame = vxlanEncap({
      outer: { dstMac: UPLINK_MAC, srcMac: SPINE_MAC, srcIp: REMOTE_VTEP, dstIp: VTEP },
      vni: 100,
      inner,
    });
    const accessFrame = udpFrame({
      dstMac: REMOTE_HOST,
      srcMac: LOCAL_HOST,
      srcIp: "198.51.100.1",
      dstIp: "198.51.100.2",
      srcPort: 40000,
      dstPort: 9,
      payload: Buffer.alloc(18, 0x5a),
    });
    const spec: WorkerSpec = {
      vxgObject: built.objectPath,
      vxgNoMirrorObject: builtNoMirror.objectPath,
      harnessObject,
      configText,
      noMirrorConfigText,
      mirrorSessions: { other: SESSION_OTHER, monitored: SESSION_H1 },
      accessIf: "h1",
      uplinkIf: "eth0",
      accessFrame: accessFrame.toString("hex"),
      decapFrame: decapFrame.toString("hex"),
      decapInner: inner.toString("hex"),
      encap: { outerDstMac: NEXT_HOP_MAC, outerSrcMac: UPLINK_MAC, vtep: VTEP, remote: REMOTE_VTEP, vni: 100 },
      repeat: opts.repeat,
      rounds: opts.rounds,
    };
    const specPath = join(dir, "spec.json");
    writeFileSync(specPath, JSON.stringify(spec));
    opts.log(`   frames: access ${accessFrame.length} B (encap -> ${accessFrame.length + 50} B), uplink ${decapFrame.length} B (decap -> ${inner.length} B)`);
    opts.log(`   timing: ${opts.rounds} rounds x ${opts.repeat} runs per program, inside netns ${ns}`);

    const argv = [`--net=${lab.netnsPath(ns)}`, process.execPath, "--import", "tsx", join(REPO, "bench/pkt-worker.ts"), specPath];
    // an upper bound well above 9 programs x rounds x repeat x 1 us
    const timeoutMs = 60_000 + 9 * opts.rounds * opts.repeat * 0.001;
    for (let attempt = 1; ; attempt++) {
      const r = await runAsync(null, "nsenter", argv, { timeoutMs });
      const line = r.stdout.split("\n").find((l) => l.startsWith("RESULT "));
      if (r.status === 0 && line) {
        const res = JSON.parse(line.slice("RESULT ".length)) as WorkerResult;
        for (const p of res.programs) {
          opts.log(`   ${p.name} (${p.build}): ${p.xlatedInsns} insns after the verifier (xlated ${p.xlatedBytes} B), JITed ${p.jitedBytes} B`);
        }
        return { ...res, vxgHash: built.hash, vxgNoMirrorHash: builtNoMirror.hash, repeat: opts.repeat, rounds: opts.rounds };
      }
      const why = `${r.signal ? `killed by ${r.signal}` : `exit ${r.status}`}: ${(r.stderr || r.stdout).trim()}`;
      // another engineer may be rebuilding the addon: wait and retry a few times
      if (/native addon not built/.test(why) && attempt < 5) {
        opts.log(`   native addon not built (being rebuilt?); retrying in 60 s (${attempt}/4)`);
        await sleep(60_000);
        continue;
      }
      throw new Error(`per-packet worker failed (${why})`);
    }
  } finally {
    await lab.dispose();
  }
}
