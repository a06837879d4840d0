// Reachability helpers: ping and UDP send/receive between namespaces.
import type { Lab } from "./netns.ts";
import { type NsRef, PYTHON, isRunning, runAsync, sleep } from "./proc.ts";

export interface PingOptions {
  /** Echo requests to send (default 3). */
  count?: number;
  /** Seconds to wait for the last reply (ping -W, default 2). */
  timeoutS?: number;
  /** Seconds between requests (default 0.2; below 0.2 needs root, which kernel tests have). */
  intervalS?: number;
  /** ICMP payload size (ping -s). */
  size?: number;
  /** Source interface or address (ping -I). */
  from?: string;
  /** Set DF and forbid local fragmentation (ping -M do). */
  dontFragment?: boolean;
  ttl?: number;
}

export interface PingResult {
  sent: number;
  received: number;
  output: string;
}

/** Pings ip from ns; resolves with packets transmitted/received (never rejects on loss). Bounded by count*interval + timeout. */
export async function ping(lab: Lab, ns: NsRef, ip: string, opts: PingOptions = {}): Promise<PingResult> {
  void lab; // the lab owns ns; kept in the signature so helpers read alike
  const count = opts.count ?? 3;
  const timeoutS = opts.timeoutS ?? 2;
  const intervalS = opts.intervalS ?? 0.2;
  const args = ["-n", "-q", "-c", String(count), "-i", String(intervalS), "-W", String(timeoutS)];
  if (opts.size !== undefined) args.push("-s", String(opts.size));
  if (opts.from) args.push("-I", opts.from);
  if (opts.dontFragment) args.push("-M", "do");
  if (opts.ttl !== undefined) args.push("-t", String(opts.ttl));
  args.push(ip);
  const r = await runAsync(ns, "ping", args, { timeoutMs: (count * intervalS + timeoutS) * 1000 + 5000 });
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(r.stdout);
  if (!m) throw new Error(`ping ${ip} from ${ns ?? "root ns"}: unexpected output (status ${r.status}): ${r.stdout}${r.stderr}`);
  return { sent: Number(m[1]), received: Number(m[2]), output: r.stdout };
}

// ---------------------------------------------------------------------------
// UDP

/** At most this many datagrams are kept (payload and source) by a listener; all are counted. */
export const UDP_KEEP_MAX = 10_000;

// argv: bind port count timeout_s ; prints "ready" once bound, then one JSON line at the end.
const LISTENER = `
import socket, sys, time, json, signal
bind, port, count, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
keep = ${UDP_KEEP_MAX}
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind((bind, port))
s.settimeout(0.05)
stop = [False]
def on_term(*_):
    stop[0] = True
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)
print("ready", flush=True)
n, nbytes, got = 0, 0, []
deadline = time.time() + timeout
while not stop[0] and time.time() < deadline and (count <= 0 or n < count):
    try:
        d, a = s.recvfrom(65535)
    except socket.timeout:
        continue
    n += 1
    nbytes += len(d)
    if len(got) < keep:
        got.append([a[0], a[1], d.hex()])
print(json.dumps({"received": n, "bytes": nbytes, "got": got}), flush=True)
`;

// argv: dst port count interval_s bind srcport ; stdin: payload hex. Prints "sent N".
const SENDER = `
import socket, sys, time
dst, port, count, interval, bind, sport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], int(sys.argv[6])
payload = bytes.fromhex(sys.stdin.read().strip())
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
if bind or sport:
    s.bind((bind or "0.0.0.0", sport))
n = 0
for i in range(count):
    if i and interval > 0:
        time.sleep(interval)
    s.sendto(payload, (dst, port))
    n += 1
print("sent %d" % n)
`;

export interface UdpDatagram {
  srcIp: string;
  srcPort: number;
  payload: Buffer;
}

export interface UdpReceiveResult {
  received: number;
  bytes: number;
  /** The first UDP_KEEP_MAX datagrams. */
  datagrams: UdpDatagram[];
}

export interface UdpListenOptions {
  port: number;
  /** Default 0.0.0.0. */
  bindIp?: string;
  /** Stop after this many datagrams (default: only on timeout/stop). */
  count?: number;
  /** Listener lifetime bound (default 10 s). */
  timeoutMs?: number;
}

export interface UdpListener {
  /** Resolves when the listener ends: count reached, timeout, or stop(). */
  result(): Promise<UdpReceiveResult>;
  /** Ends the listener now and returns what it got. */
  stop(): Promise<UdpReceiveResult>;
}

/** Starts a UDP listener in ns; resolves once the socket is bound. The process is tracked by the lab. */
export async function udpListen(lab: Lab, ns: NsRef, opts: UdpListenOptions): Promise<UdpListener> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const child = lab.spawn(ns, PYTHON, ["-c", LISTENER, opts.bindIp ?? "0.0.0.0", String(opts.port), String(opts.count ?? 0), String(timeoutMs / 1000)]);
  child.stdin?.end();
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const readyBy = Date.now() + 10_000;
  while (!stdout.includes("ready")) {
    if (!isRunning(child)) {
      await exited;
      throw new Error(`udpListen ${opts.bindIp ?? "0.0.0.0"}:${opts.port} failed: ${stderr.trim()}`);
    }
    if (Date.now() > readyBy) throw new Error(`udpListen: listener not ready: ${stderr.trim()}`);
    await sleep(10);
  }
  // Hard bound in case python misbehaves: lifetime + slack.
  const killTimer = setTimeout(() => child.kill("SIGKILL"), timeoutMs + 5000);
  const done = exited.then((): UdpReceiveResult => {
    clearTimeout(killTimer);
    const line = stdout.split("\n").find((l) => l.startsWith("{"));
    if (!line) throw new Error(`udp listener ended without a result: ${stderr.trim()}`);
    const j = JSON.parse(line) as { received: number; bytes: number; got: Array<[string, number, string]> };
    return {
      received: j.received,
      bytes: j.bytes,
      datagrams: j.got.map(([srcIp, srcPort, hex]) => ({ srcIp, srcPort, payload: Buffer.from(hex, "hex") })),
    };
  });
  return {
    result: () => done,
    async stop() {
      if (isRunning(child)) child.kill("SIGTERM");
      return done;
    },
  };
}

export interface UdpSendOptions {
  dst: string;
  port: number;
  /** Datagrams to send (default 1, max 100000). */
  count?: number;
  /** Default 16 bytes of "vxgate-harness.." */
  payload?: Buffer;
  srcPort?: number;
  bindIp?: string;
  intervalMs?: number;
}

/** Sends count datagrams from ns; resolves with how many were sent. */
export async function udpSend(lab: Lab, ns: NsRef, opts: UdpSendOptions): Promise<number> {
  void lab;
  const count = opts.count ?? 1;
  if (count < 0 || count > 100_000) throw new Error(`udpSend: count ${count} out of range`);
  const intervalMs = opts.intervalMs ?? 0;
  const payload = opts.payload ?? Buffer.from("vxgate-harness..");
  const r = await runAsync(
    ns,
    PYTHON,
    ["-c", SENDER, opts.dst, String(opts.port), String(count), String(intervalMs / 1000), opts.bindIp ?? "", String(opts.srcPort ?? 0)],
    { input: payload.toString("hex") + "\n", timeoutMs: 30_000 + count * intervalMs },
  );
  const m = /sent (\d+)/.exec(r.stdout);
  if (r.status !== 0 || !m) throw new Error(`udpSend to ${opts.dst}:${opts.port} failed: ${r.stderr.trim()}`);
  return Number(m[1]);
}

export interface UdpExchangeOptions extends UdpSendOptions {
  /** Namespace the datagrams are sent from. */
  from: NsRef;
  /** Namespace the listener runs in. */
  to: NsRef;
  /** Listener bind address (default 0.0.0.0). */
  listenIp?: string;
  /** How long to wait for stragglers after sending (default 1000 ms). */
  waitMs?: number;
}

/** Listens in `to`, sends `count` datagrams from `from`, returns {sent, received}. */
export async function udpExchange(lab: Lab, opts: UdpExchangeOptions): Promise<{ sent: number; received: number; result: UdpReceiveResult }> {
  const count = opts.count ?? 1;
  const waitMs = opts.waitMs ?? 1000;
  const listener = await udpListen(lab, opts.to, {
    port: opts.port,
    bindIp: opts.listenIp,
    count,
    timeoutMs: 30_000 + count * (opts.intervalMs ?? 0) + waitMs,
  });
  let sent = 0;
  try {
    sent = await udpSend(lab, opts.from, opts);
  } catch (e) {
    await listener.stop();
    throw e;
  }
  const result = await Promise.race([listener.result(), sleep(waitMs).then(() => listener.stop())]);
  return { sent, received: result.received, result };
}
