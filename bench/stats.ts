// Small numeric helpers shared by the benchmarks.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function min(xs: readonly number[]): number {
  return xs.length ? Math.min(...xs) : NaN;
}

export function max(xs: readonly number[]): number {
  return xs.length ? Math.max(...xs) : NaN;
}

/** (max - min) / median, as a percentage: how far apart the rounds were. */
export function spreadPct(xs: readonly number[]): number {
  const m = median(xs);
  return m ? ((max(xs) - min(xs)) / m) * 100 : NaN;
}

export function fmt(x: number, digits = 1): string {
  if (!Number.isFinite(x)) return "-";
  return x.toFixed(digits);
}

/** 1234567 -> "1,234,567" */
export function fmtInt(x: number): string {
  if (!Number.isFinite(x)) return "-";
  return Math.round(x).toLocaleString("en-US");
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
