// Several features' RouteExtensions as the one object SpeakerOptions takes.
// Each feature (mirror, multicast, ...) keeps its own optional transitive
// attribute; the speaker sees them as one:
//   new EvpnSpeaker(..., { extensions: combineExtensions(mirror.evpn, mcast.evpn) })
import type { EvpnRoute, PathAttribute } from "./bgp/index.ts";
import type { RouteExtensions } from "./speaker.ts";

/**
 * One RouteExtensions calling each given one in order: `imet` / `mac` return
 * the concatenation of every extension's attributes (in argument order),
 * `multicast` the first answer that is not undefined (one feature owns
 * multicast), `received` is passed to each (all of them, even when one throws; the first
 * error is then rethrown after the last one ran). Undefined entries are skipped; undefined when
 * none is left (no extensions at all), the one itself when only one is. Each
 * extension owns its attribute code; two extensions adding the same code is a
 * programming error this does not check.
 */
export function combineExtensions(...exts: (RouteExtensions | undefined)[]): RouteExtensions | undefined {
  const list = exts.filter((e): e is RouteExtensions => e !== undefined);
  if (list.length === 0) return undefined;
  if (list.length === 1) return list[0];
  const imets = list.filter((e) => e.imet);
  const macs = list.filter((e) => e.mac);
  const receivers = list.filter((e) => e.received);
  const mcasts = list.filter((e) => e.multicast);
  const out: RouteExtensions = {};
  if (imets.length) out.imet = (vni: number): PathAttribute[] => imets.flatMap((e) => e.imet!(vni));
  if (macs.length) out.mac = (mac: string, vnis: readonly number[]): PathAttribute[] => macs.flatMap((e) => e.mac!(mac, vnis));
  if (mcasts.length) {
    out.multicast = (vni: number) => {
      for (const e of mcasts) {
        const m = e.multicast!(vni);
        if (m !== undefined) return m;
      }
      return undefined;
    };
  }
  if (receivers.length) {
    out.received = (key: string, route: EvpnRoute, best: { attrs: readonly PathAttribute[]; nextHop: string; vnis?: readonly number[] } | undefined): void => {
      // every extension hears of every change, even when an earlier one throws
      let failure: { error: unknown } | undefined;
      for (const e of receivers) {
        try {
          e.received!(key, route, best);
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure) throw failure.error;
    };
  }
  return out;
}
