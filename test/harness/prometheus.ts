// Scraped metrics, parsed by an independent Prometheus text-format parser
// (parse-prometheus-text-format), with look-ups for the tests.
import parsePrometheusTextFormat, { type PromFamily } from "parse-prometheus-text-format";

export class Scrape {
  readonly families: Map<string, PromFamily>;
  constructor(readonly text: string) {
    this.families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
  }

  family(name: string): PromFamily {
    const f = this.families.get(name);
    if (!f) throw new Error(`no metric family ${name} in the scrape`);
    return f;
  }

  /** The value of the one sample of `name` whose labels include `labels` (undefined when none). */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const hits = this.family(name).metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
    if (hits.length > 1) throw new Error(`${name}${JSON.stringify(labels)} matches ${hits.length} samples`);
    return hits[0]?.value === undefined ? undefined : Number(hits[0].value);
  }

  /** Every sample of `name` as [labels, value]. */
  samples(name: string): [Record<string, string>, number][] {
    return this.family(name).metrics.map((m) => [m.labels ?? {}, Number(m.value)]);
  }
}
