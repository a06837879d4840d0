// What a process costs, read from /proc: resident memory and CPU time.
import { readdirSync, readFileSync } from "node:fs";

/** Peak (VmHWM) and current (VmRSS) resident set of a process, MB. */
export function rssOf(pid: number): { peak: number; now: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(s)?.[1] ?? NaN);
    return { peak: kb("VmHWM") / 1024, now: kb("VmRSS") / 1024 };
  } catch {
    return undefined;
  }
}

/**
 * CPU time of every thread of a process so far (user + system, ms), from each
 * task's schedstat (ns; /proc/PID/stat counts in 10 ms ticks, too coarse for
 * a half-second install). Threads that already ended are not counted.
 */
export function cpuMsOf(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        /* the thread ended meanwhile */
      }
    }
    return ns / 1e6;
  } catch {
    return undefined;
  }
}
