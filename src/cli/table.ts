// Human-readable tables for `vxgate show`: aligned columns, "-" for empty.
export function renderTable(rows: Record<string, unknown>[], columns?: string[]): string {
  return [...tableLines(rows, columns)].join("");
}

/** The lines of renderTable's table (each with its newline), made one at a
 *  time: a 100k-row table is written out without ever being one string. The
 *  rows themselves are all needed first, for the column widths. */
export function* tableLines(rows: Record<string, unknown>[], columns?: string[]): Generator<string> {
  if (rows.length === 0) {
    yield "(none)\n";
    return;
  }
  const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown) => (v === undefined || v === null || v === "" ? "-" : String(v));
  const widths = cols.map((c) => c.length);
  for (const r of rows) cols.forEach((c, i) => (widths[i] = Math.max(widths[i]!, cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join("  ").trimEnd() + "\n";
  yield line(cols.map((c) => c.toUpperCase()));
  for (const r of rows) yield line(cols.map((c) => cell(r[c])));
}
