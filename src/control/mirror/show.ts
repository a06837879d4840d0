// `vxgate show mirror`: one row per session with this switch's role in it,
// where the host and the server are as this switch sees them, and counters.
import { renderTable } from "../../cli/table.ts";
import type { MirrorRow } from "./feature.ts";

export function renderMirror(rows: MirrorRow[]): string {
  return renderTable(
    rows.map((r) => ({
      name: r.name,
      hostId: r.hostId,
      direction: r.direction,
      host: r.host,
      hostAt: r.hostAt,
      server: r.server,
      serverAt: r.serverAt,
      roles: r.roles.join(",") + (r.shadowedBy ? ` (shadowed by ${r.shadowedBy})` : ""),
      copies: `${r.counters.copiesLocal}/${r.counters.copiesRemote}`,
      terminated: r.counters.terminated,
      drops: `${r.counters.dropNoServer}/${r.counters.dropOversize}/${r.counters.dropOther}`,
      origin: r.origin,
    })),
    ["name", "hostId", "direction", "host", "hostAt", "server", "serverAt", "roles", "copies", "terminated", "drops", "origin"],
  ) + "copies = local/remote, drops = no server/oversize/other\n";
}
