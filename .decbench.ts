import { announceStream, parseRd } from "./bench/bgp-blaster.ts";
import { UpdateFastPath } from "./src/control/evpn/bgp/fast-update.ts";
const spec = { asn: 65000, vni: 100, rd: parseRd("198.18.0.2:1"), nextHop: "198.18.0.2" } as any;
const mode = (process.argv[2] ?? "one") as "one" | "many";
const st = announceStream(spec, mode, 0, 100000, false, 64 * 1024);
const buf = Buffer.concat(st.chunks);
for (let round = 0; round < 8; round++) {
  const fp = new UpdateFastPath({ ebgp: false }, { withdrawnRoutes: false });
  let n = 0;
  const t0 = process.hrtime.bigint();
  for (let off = 0; off < buf.length; ) {
    const len = buf.readUInt16BE(off + 16);
    const f = fp.decode(buf, off + 19, off + len);
    if (f) n += f.announcedKeys.length;
    off += len;
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(mode, "round", round, n, "routes", ms.toFixed(1), "ms", fp.stats);
}
