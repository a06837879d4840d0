// `vxgate show bgp summary | evpn routes | evpn mac`: the speaker's rows
// (EvpnSpeaker.summary() / routes() / macTable(), plain JSON-able objects,
// printed as they are for --json) and their human tables.

import { renderTable } from "../../cli/table.ts";
import type { MacRow } from "./macs.ts";
import type { RouteRow, SummaryRow } from "./speaker.ts";

export type { MacRow } from "./macs.ts";
export type { RouteRow, SummaryRow } from "./speaker.ts";

function duration(s: number | undefined): string | undefined {
  if (s === undefined) return undefined;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`;
}

export function renderBgpSummary(rows: SummaryRow[]): string {
  return renderTable(
    rows.map((r) => ({
      neighbor: r.neighbor,
      as: r.remoteAs,
      type: r.type + (r.role === "rr-client" ? " (rr-client)" : "") + (r.smet ? " smet" : ""),
      state: r.idleReason ? `${r.state} (${r.idleReason}; ${r.restartInSeconds !== undefined ? `restart in ${r.restartInSeconds} s` : "until reset"})` : r.state,
      up: duration(r.upSeconds),
      pfxRcvd: r.pfxRcvd,
      pfxSent: r.pfxSent,
      msgRcvd: r.msgRcvd,
      msgSent: r.msgSent,
      flaps: r.flaps,
      agg: r.aggregation ? "on" : "off",
      gr: r.gracefulRestart,
      description: r.description,
      lastError: r.lastError,
    })),
    ["neighbor", "as", "type", "state", "up", "pfxRcvd", "pfxSent", "msgRcvd", "msgSent", "flaps", "agg", "gr", "description", "lastError"],
  );
}

export function renderEvpnRoutes(rows: RouteRow[]): string {
  return renderTable(
    rows.map((r) => ({
      best: (r.stale ? "S" : "") + (r.best ? "*>" : "*"),
      route: r.route.replace(/ rd .*$/, ""),
      rd: r.rd,
      vni: r.vni,
      nextHop: r.nextHop,
      from: r.from,
      rt: r.rts,
      seq: r.type === 2 ? `${r.seq}${r.sticky ? " sticky" : ""}` : undefined,
      multiVni: r.multiVni,
    })),
    ["best", "route", "rd", "vni", "nextHop", "from", "rt", "seq", "multiVni"],
  );
}

export function renderEvpnMacs(rows: MacRow[]): string {
  return renderTable(
    rows.map((r) => ({ ...r, sticky: r.sticky ? "yes" : "no" })),
    ["vni", "mac", "type", "vtep", "seq", "sticky", "ip", "moves", "frozen"],
  );
}

/** The three EVPN views, by the names `vxgate show` uses ("bgp summary", "evpn routes", "evpn mac"). */
export type EvpnView = "bgp/summary" | "evpn/routes" | "evpn/mac";
export const EVPN_VIEWS: readonly EvpnView[] = ["bgp/summary", "evpn/routes", "evpn/mac"];

/** Rows of a view (for the management API: GET /v1/bgp/summary, /v1/evpn/routes, /v1/evpn/mac). */
export function evpnView(sp: { summary(): SummaryRow[]; routes(): RouteRow[]; macTable(): MacRow[] }, v: EvpnView): unknown[] {
  switch (v) {
    case "bgp/summary":
      return sp.summary();
    case "evpn/routes":
      return sp.routes();
    case "evpn/mac":
      return sp.macTable();
  }
}

/** Human table of a view's rows (what `vxgate show` prints without --json). */
export function renderEvpnView(v: EvpnView, rows: unknown): string {
  switch (v) {
    case "bgp/summary":
      return renderBgpSummary(rows as SummaryRow[]);
    case "evpn/routes":
      return renderEvpnRoutes(rows as RouteRow[]);
    case "evpn/mac":
      return renderEvpnMacs(rows as MacRow[]);
  }
}
