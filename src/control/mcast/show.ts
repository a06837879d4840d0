// `vxgate show mcast` (one row per installed (VNI, S/*, G): local member and
// mrouter ports, remote member VTEPs with where each came from, counters) and
// `vxgate show igmp groups|ports|querier` (the snooping state per VNI).
import { renderTable } from "../../cli/table.ts";
import type { McastRow } from "./feature.ts";

type Json = { [k: string]: unknown };

export function renderMcast(rows: McastRow[]): string {
  return (
    renderTable(
      rows.map((r) => ({
        vni: r.vni,
        source: r.source,
        group: r.group === "0.0.0.0" ? "(mrouters)" : r.group,
        ports: r.localPorts.join(",") || "-",
        mrouters: r.mrouterPorts.join(",") || "-",
        remotes: r.remotes.map((x) => `${x.vtep}${x.from.length ? `(${x.from.join("+")})` : ""}`).join(",") || "-",
        frames: String(r.counters.frames),
        copies: `${r.counters.copiesLocal}/${r.counters.copiesRemote}`,
      })),
      ["vni", "source", "group", "ports", "mrouters", "remotes", "frames", "copies"],
    ) + "copies = local/remote\n"
  );
}

/** A cell for nested values: lists joined, objects as k=v. */
function cell(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => (typeof x === "object" && x !== null ? Object.entries(x as Json).map(([k, y]) => `${k}=${String(y)}`).join(" ") : String(x))).join("; ") || "-";
  if (typeof v === "object" && v !== null) return Object.entries(v as Json).map(([k, y]) => `${k}=${String(y)}`).join(" ");
  return v;
}

export function renderIgmp(rows: Json[]): string {
  if (rows.length === 0) return "(none)\n";
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return renderTable(rows.map((r) => Object.fromEntries(cols.map((c) => [c, cell(r[c])]))), cols);
}
