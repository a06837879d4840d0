// The lab's multicast step: receivers on two switches join a group with a
// socket (their kernels send IGMP), a sender on a third streams to it, and each
// receiver counts what arrives while each switch's fast path counts the copies
// it made; then one receiver leaves and the copies to its switch stop.
import type { ChildProcess } from "node:child_process";
import type { Fabric } from "./fabric.ts";
import type { McastRow } from "../src/control/mcast/feature.ts";

export const GROUP = "239.1.1.1";
const PORT = 9200;

/** A socket that joins GROUP on `ip` and counts datagrams until SIGTERM. */
const RECEIVER = `import socket,signal,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind(("${GROUP}",${PORT}))
s.setsockopt(socket.IPPROTO_IP,socket.IP_ADD_MEMBERSHIP,socket.inet_aton("${GROUP}")+socket.inet_aton(sys.argv[1]))
n=[0]
def done(*_):
  print("received",n[0],flush=True); sys.exit(0)
signal.signal(signal.SIGTERM,done)
print("joined",flush=True)
s.settimeout(300)
while True:
  try:
    s.recv(2048); n[0]+=1
  except socket.timeout:
    done()
`;

/** Sends `count` datagrams to GROUP from `ip`, one every 5 ms. */
const SENDER = `import socket,sys,time
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP,socket.IP_MULTICAST_IF,socket.inet_aton(sys.argv[1]))
s.setsockopt(socket.IPPROTO_IP,socket.IP_MULTICAST_TTL,1)
for i in range(int(sys.argv[2])):
  s.sendto(b"lab multicast %d" % i,("${GROUP}",${PORT})); time.sleep(0.005)
print("sent",sys.argv[2],flush=True)
`;

export interface Receiver {
  host: string;
  /** leave the group (the socket closes: the kernel sends the leave) and say how many datagrams arrived */
  leave(): Promise<number>;
}

export async function joinGroup(fabric: Fabric, host: string, ip: string): Promise<Receiver> {
  const p: ChildProcess = fabric.lab.spawn(fabric.hostNs(host), "python3", ["-c", RECEIVER, ip], { stdio: "pipe" });
  let out = "";
  p.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  const exited = new Promise<void>((ok) => p.once("exit", () => ok()));
  for (let i = 0; !out.includes("joined"); i++) {
    if (p.exitCode !== null || i > 500) throw new Error(`${host}: could not join ${GROUP}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return {
    host,
    async leave() {
      p.kill("SIGTERM");
      await exited;
      return Number(/received (\d+)/.exec(out)?.[1] ?? NaN);
    },
  };
}

export async function sendToGroup(fabric: Fabric, host: string, ip: string, count: number): Promise<void> {
  const p = fabric.lab.spawn(fabric.hostNs(host), "python3", ["-c", SENDER, ip, String(count)], { stdio: "pipe" });
  await new Promise<void>((ok, fail) => p.once("exit", (c) => (c === 0 ? ok() : fail(new Error(`${host}: sender exited ${c}`)))));
}

/** Wait (bounded) until `sw` has the remote members `vteps` for GROUP in VNI 100. */
export async function waitRemotes(fabric: Fabric, sw: string, vteps: string[], timeoutMs = 10_000): Promise<boolean> {
  const want = JSON.stringify([...vteps].sort());
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    const row = (await fabric.api<McastRow[]>(sw, "mcast")).find((r) => r.vni === 100 && r.group === GROUP && r.source === "*");
    if (JSON.stringify((row?.remotes.map((r) => r.vtep) ?? []).sort()) === want) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Copies one switch's fast path made, by kind (for the step's report). */
export async function copies(fabric: Fabric, sw: string): Promise<{ local: bigint; remote: bigint }> {
  const c = await fabric.api<Record<string, { packets: string }>>(sw, "counters");
  return { local: BigInt(c.mcast_local_copy?.packets ?? "0"), remote: BigInt(c.mcast_remote_copy?.packets ?? "0") };
}
