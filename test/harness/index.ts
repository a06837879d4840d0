// Kernel-test harness: namespaces/veths (netns), frame builders/parser
// (packets), raw injection (send), tcpdump+tshark capture (capture), ping/UDP
// helpers (ping). See test/kernel/harness.test.ts for a tour.
export * from "./netns.ts";
export * from "./packets.ts";
export * from "./send.ts";
export * from "./capture.ts";
export * from "./ping.ts";
export * from "./api.ts";
export * from "./kernel-vtep.ts";
export * from "./vxlan-mdb.ts";
export { type NsRef, type RunResult, type ExecOptions, PYTHON, sleep, onProcessExit } from "./proc.ts";
export * from "./mcast.ts";
