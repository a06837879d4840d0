// Structured log lines: one JSON object per line on stderr (journald keeps
// them as they are), or "time level msg k=v" when the reader is a terminal.
// Per-event lines (a MAC learned, moved, aged) are debug: at info a switch
// logs what it does as a whole, never one line per table entry.
export const LEVELS = ["debug", "info", "warn", "error"] as const;
export type Level = (typeof LEVELS)[number];

export function isLevel(s: string): s is Level {
  return (LEVELS as readonly string[]).includes(s);
}
export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, f?: Fields): void;
  info(msg: string, f?: Fields): void;
  warn(msg: string, f?: Fields): void;
  error(msg: string, f?: Fields): void;
  child(f: Fields): Logger;
}

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(opts: { level?: Level; json?: boolean; base?: Fields; sink?: (line: string) => void } = {}): Logger {
  const min = ORDER[opts.level ?? "info"];
  const json = opts.json ?? !process.stderr.isTTY;
  const sink = opts.sink ?? ((line: string) => process.stderr.write(line + "\n"));
  const base = opts.base ?? {};
  const emit = (level: Level, msg: string, f: Fields = {}) => {
    if (ORDER[level] < min) return;
    const rec = { time: new Date().toISOString(), level, msg, ...base, ...f };
    if (json) sink(JSON.stringify(rec, (_k, v) => (typeof v === "bigint" ? v.toString() : v)));
    else {
      const kv = Object.entries({ ...base, ...f })
        .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x))}`)
        .join(" ");
      sink(`${rec.time} ${level.toUpperCase().padEnd(5)} ${msg}${kv ? " " + kv : ""}`);
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (f) => createLogger({ ...opts, base: { ...base, ...f } }),
  };
}
