// Raw frame injection: frames go out of `ifname` inside `ns` through an
// AF_PACKET/SOCK_RAW socket, exactly as given (no padding, no checksum
// fix-ups). The frame appears as transmitted by ifname: on a veth it is
// received by the peer end.
import { type NsRef, PYTHON, runAsync } from "./proc.ts";

/** Upper bound on frames per call, so a runaway loop in a test can't flood anything. */
export const MAX_FRAMES_PER_CALL = 100_000;

// argv: ifname interval_seconds repeat ; stdin: one hex frame per line.
// Prints "first T" (CLOCK_MONOTONIC ns when the first frame was handed to the
// kernel) and "sent N" on success; exits 2 with the error on stderr otherwise.
const SENDER = `
import socket, sys, time
ifname, interval, repeat = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
frames = [bytes.fromhex(l.strip()) for l in sys.stdin.read().split() if l.strip()]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
n = 0
try:
    for r in range(repeat):
        for f in frames:
            if n and interval > 0:
                time.sleep(interval)
            s.send(f)
            if n == 0:
                print("first %d" % time.monotonic_ns())
            n += 1
except OSError as e:
    sys.stderr.write("send failed after %d frames: %s\\n" % (n, e))
    print("sent %d" % n)
    sys.exit(2)
print("sent %d" % n)
`;

export interface SendOptions {
  /** Pause between frames (default 0). */
  intervalMs?: number;
  /** Send the whole list this many times (default 1). */
  repeat?: number;
  /** Bound on the sender's run time (default 30 s + the intervals). */
  timeoutMs?: number;
}

/**
 * Sends each frame once (in order) out of ifname in ns. Resolves with the
 * number of frames sent once all of them have been handed to the kernel;
 * rejects if the interface doesn't exist or a send fails (e.g. frame larger
 * than MTU + 14).
 */
export async function sendFrames(ns: NsRef, ifname: string, frames: readonly Buffer[], opts: SendOptions = {}): Promise<number> {
  return (await sendFramesTimed(ns, ifname, frames, opts)).sent;
}

/**
 * sendFrames, also telling when the first frame left: CLOCK_MONOTONIC ns, the
 * clock of process.hrtime.bigint() (starting the sender takes tens of ms, so
 * a time taken before the call is not when the frame was on the wire).
 */
export async function sendFramesTimed(ns: NsRef, ifname: string, frames: readonly Buffer[], opts: SendOptions = {}): Promise<{ sent: number; firstSentNs: bigint }> {
  const repeat = opts.repeat ?? 1;
  const total = frames.length * repeat;
  if (!Number.isInteger(repeat) || repeat < 0) throw new Error(`bad repeat ${repeat}`);
  if (total > MAX_FRAMES_PER_CALL) throw new Error(`refusing to send ${total} frames (max ${MAX_FRAMES_PER_CALL})`);
  if (total === 0) return { sent: 0, firstSentNs: 0n };
  for (const f of frames) if (f.length < 14) throw new Error(`frame of ${f.length} bytes is shorter than an Ethernet header`);
  const intervalMs = opts.intervalMs ?? 0;
  const timeoutMs = opts.timeoutMs ?? 30_000 + intervalMs * total;
  const r = await runAsync(ns, PYTHON, ["-c", SENDER, ifname, String(intervalMs / 1000), String(repeat)], {
    input: frames.map((f) => f.toString("hex")).join("\n") + "\n",
    timeoutMs,
  });
  const m = /sent (\d+)/.exec(r.stdout);
  if (r.status !== 0 || !m) {
    const where = ns === null ? "" : ` in netns ${ns}`;
    throw new Error(`sendFrames on ${ifname}${where} failed (${r.signal ?? `exit ${r.status}`}): ${r.stderr.trim()}`);
  }
  return { sent: Number(m[1]), firstSentNs: BigInt(/first (\d+)/.exec(r.stdout)?.[1] ?? "0") };
}

/** Sends one frame. */
export function sendFrame(ns: NsRef, ifname: string, frame: Buffer, opts: SendOptions = {}): Promise<number> {
  return sendFrames(ns, ifname, [frame], opts);
}
