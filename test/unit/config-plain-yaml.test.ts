// The fast reader (src/config/plain-yaml.ts) against the `yaml` package: for
// every text it accepts, the package must parse the text without errors into
// the same tree (node kinds, values, sources, scalar types and formats, start
// offsets, key order), so the validators and their messages cannot tell the two
// apart. Checked on the repository's configs, on hand-written edge cases, and
// on generated files, well-formed and then mutated a character at a time.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { LineCounter, isMap, isPair, isScalar, isSeq, parseDocument, type Document } from "yaml";
import { forEachItem, lineStarts, readPlainYaml } from "../../src/config/plain-yaml.ts";
import { loadConfigFile, parseConfig } from "../../src/config/load.ts";
import { ConfigError } from "../../src/config/types.ts";

/** The first difference between two trees, or undefined. */
function treeDiff(a: unknown, b: unknown, path = "$"): string | undefined {
  if (isScalar(a) || isScalar(b)) {
    if (!isScalar(a) || !isScalar(b)) return `${path}: a scalar on one side only`;
    for (const k of ["value", "source", "type", "format", "minFractionDigits", "tag"] as const) {
      const x = (a as unknown as Record<string, unknown>)[k];
      const y = (b as unknown as Record<string, unknown>)[k];
      if (!Object.is(x, y)) return `${path}: ${k} ${JSON.stringify(x)} vs ${JSON.stringify(y)}`;
    }
    if (a.range?.[0] !== b.range?.[0]) return `${path}: starts at ${a.range?.[0]} vs ${b.range?.[0]}`;
    return undefined;
  }
  if (isMap(a) || isSeq(a)) {
    if (isMap(a) !== isMap(b) || isSeq(a) !== isSeq(b)) return `${path}: collection kinds differ`;
    const c = b as typeof a;
    if (a.range?.[0] !== c.range?.[0]) return `${path}: starts at ${a.range?.[0]} vs ${c.range?.[0]}`;
    if (Boolean(a.flow) !== Boolean(c.flow)) return `${path}: flow ${a.flow} vs ${c.flow}`;
    const ai = a.items as unknown[];
    const bi = c.items as unknown[];
    if (ai.length !== bi.length) return `${path}: ${ai.length} vs ${bi.length} entries`;
    for (let i = 0; i < ai.length; i++) {
      const x = ai[i];
      const y = bi[i];
      const d = isPair(x) && isPair(y) ? treeDiff(x.key, y.key, `${path}.key${i}`) ?? treeDiff(x.value, y.value, `${path}.value${i}`) : treeDiff(x, y, `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  return a === b ? undefined : `${path}: ${String(a)} vs ${String(b)}`;
}

const full = (text: string): Document.Parsed => parseDocument(text, { uniqueKeys: false, prettyErrors: false });

/** Accepted texts must read as the package reads them; returns whether it was accepted. */
function agrees(text: string): boolean {
  const mine = readPlainYaml(text);
  if (!mine) return false;
  const theirs = full(text);
  expect(theirs.errors.map((e) => e.message), `the package rejects text the reader accepted:\n${text}`).toEqual([]);
  expect(theirs.warnings, text).toEqual([]);
  expect(treeDiff(mine.contents, theirs.contents), text).toBeUndefined();
  return true;
}

const repoConfigs = [
  ...readdirSync("test/fixtures/config").map((f) => join("test/fixtures/config", f)),
  ...readdirSync("lab").filter((f) => f.endsWith(".yaml")).map((f) => join("lab", f)),
].filter((f) => f.endsWith(".yaml"));

describe("plain YAML reader", () => {
  it("reads the repository's configs as the yaml package does", () => {
    expect(repoConfigs.length).toBeGreaterThan(3);
    for (const f of repoConfigs) expect(agrees(readFileSync(f, "utf8")), f).toBe(true);
  });

  it("reads a generated 2,000-MAC config (one-line entries, read one at a time) as the package does", () => {
    const lines = ["switch: { name: s }", "vtep: { source_ip: 10.0.0.1 }", "uplinks: [{ name: eth0 }]", "ports:", "  - { name: h1, vni: 100 }", "vnis:", "  - vni: 100", "    static_macs:"];
    for (let i = 0; i < 2000; i++) lines.push(i % 2 ? `      - { mac: "02:00:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}", port: h1 }` : `      - {mac: '02:00:00:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}', remote: 10.0.0.2}   # r`);
    const text = lines.join("\n") + "\n";
    expect(agrees(text)).toBe(true);
    // the walk a validator does (one entry at a time) gives the same entries as `items`
    const doc = readPlainYaml(text)!;
    const macs = ((doc.contents as any).items[4].value.items[0].items[1].value) as any;
    const walked: unknown[] = [];
    forEachItem(macs, (n, i) => walked.push([i, n]));
    const items = macs.items as unknown[];
    expect(walked.length).toBe(2000);
    walked.forEach(([i, n]: any) => expect(treeDiff(n, items[i])).toBeUndefined());
  });

  const inside = [
    "a: 1",
    "a: 1\n",
    "a:\n  b: 2\n  c: [1, 2, 3]\n",
    "a:\n- 1\n- x\nb: 2\n",
    "a:\n  - 1\n  -   x\n  - { k: v }\n  - [ ]\n  - {}\n",
    "list:\n  - name: eth0\n    vni: 100\n  -   name: h2\n      vni: 200\n",
    "k: 0x1F\nl: 0o17\nm: 017\nn: 1e3\no: 1.50\np: -5\nq: +5\nr: .inf\ns: -.Inf\nt: .nan\nu: 1_000\nv: 12:30\n",
    "a: ~\nb: null\nc: Null\nd: NULL\ne: true\nf: True\ng: FALSE\nh: yes\ni: on\nj:\nk:   # nothing\n",
    'a: "x y"\nb: \'it\'\'s\'\nc: ""\nd: \'\'\n"e": 1\n\'f g\': 2\n',
    "a: x#y\nb: x #c\nc: -x\nd: :x\ne: ?x\nf: a:b\ng: 02:00:00:00:00:01\nh: a b c  \n",
    "# comment\n\n   # indented comment\na: 1 # trailing\n\nb:\n  # inside\n  c: 2\n",
    "vlans: { 10: 100, 20: 200 }\nx: [{ a: 1, b: [2, 3] }, [], {}]\ny: {a: 1}\nz: [a,b]\n",
    "10: a\n0x10: b\ntrue: c\nnull: d\na b: e\na-b: f\n",
    "a:\n    b:\n        c: 1\n    d: 2\n",
    "a: { k : v }\n",
    "- a\n- b\n",
    "a: 'x''y'''\n",
    "a: b:c\n",
    "a: x]\n",
  ];
  it.each(inside.map((t) => [JSON.stringify(t), t]))("reads %s as the package does", (_n, text) => {
    expect(agrees(text)).toBe(true);
  });

  const outside = [
    "", "# only a comment\n", "---\na: 1\n", "a: 1\n---\nb: 2\n", "%YAML 1.2\n---\na: 1\n",
    "a: &x 1\nb: *x\n", "a: !!str 1\n", "a: |\n  x\n", "a: >\n  x\n",
    "a: b\n  c\n", "a: 'b\n  c'\n", 'a: "b\\n"\n', "a: [1,\n  2]\n", "a: [1, 2,]\n", "a: {b: 1,}\n",
    "a:\n\tb: 1\n", "a: 1\r\nb: 2\r\n", "\uFEFFa: 1\n", "? a\n: b\n", "a: - b\n", "- - a\n", "-\n- a\n",
    "a: 1\n  b: 2\n", "a: b: c\n", "a : 1\n", "a: {b}\n", "a: [b: 1]\n", "a: {b:1}\n", "a: @x\n", "a: `x\n",
    "a: %x\n", "a: 'x\n", "a: \"x\n", "a: [x\n", "  a: 1\n", "a: 1\nb\n", "a:#x\n", "a: x\"y\n".replace("x\"y", "\"x\"#c"),
  ];
  it.each(outside.map((t) => [JSON.stringify(t), t]))("leaves %s to the package", (_n, text) => {
    expect(readPlainYaml(text)).toBeUndefined();
  });

  it("counts lines as the package's LineCounter does", () => {
    for (const text of ["", "a", "a\n", "a\n\nb\n", "\n\n", ...inside]) {
      const lc = new LineCounter();
      parseDocument(text, { lineCounter: lc });
      expect(lineStarts(text)).toEqual(lc.lineStarts.length ? lc.lineStarts : [0]);
    }
  });

  // ---- generated files

  const plainScalars = ["h1", "eth0", "10.0.0.1", "02:00:00:00:00:01", "0x1F", "0o17", "017", "1e3", "1.50", "-5", "+5", ".inf", ".nan", "~", "null", "Null", "true", "False", "yes", "1_000", "12:30", "-x", "a b", "a#b", "?x", ":x", "a:b", "x.y", "100", "0", "-0", "1.", ".5", "+.5e-3", "0b101"];
  const quotedScalars = ['"abc"', '"a b"', '"it\'s"', "'it''s'", '""', "''", '"#x"', "': x'", '"02:00:00:00:00:01"', "'10'"];
  const keys = ["a", "name", "vni", "static_macs", "10", "0x10", "a b", '"q"', "'s'", "true", "null", "a-b", "a_b", "port"];
  const scalar = fc.oneof(fc.constantFrom(...plainScalars), fc.constantFrom(...quotedScalars));
  const sp = fc.constantFrom("", " ", "  ");
  const comment = fc.constantFrom("", "", " # c", "   #x");

  const flow: fc.Memo<string> = fc.memo((d) =>
    d <= 1
      ? fc.oneof(scalar, fc.constant("[]"), fc.constant("{}"))
      : fc.oneof(
          { weight: 2, arbitrary: scalar },
          fc.tuple(sp, fc.array(fc.tuple(fc.constantFrom(...keys), sp, flow(d - 1)), { maxLength: 3 })).map(([s, es]) => `{${s}${es.map(([k, s2, v]) => `${k}:${s2 || " "}${v}`).join(`,${s}`)}${s}}`),
          fc.tuple(sp, fc.array(flow(d - 1), { maxLength: 3 })).map(([s, es]) => `[${s}${es.join(`,${s || " "}`)}${s}]`),
        ),
  );

  /** A block node at `indent`, as lines (the first one without its indentation). */
  const block: (indent: number, depth: number) => fc.Arbitrary<{ inline: string } | { lines: string[] }> = (indent, depth) =>
    depth <= 0
      ? flow(2).map((v) => ({ inline: v }))
      : fc.oneof(
          { weight: 3, arbitrary: flow(2).map((v) => ({ inline: v })) },
          fc.tuple(fc.uniqueArray(fc.constantFrom(...keys), { minLength: 1, maxLength: 4 }), fc.constantFrom(2, 4)).chain(([ks, step]) =>
            fc.tuple(...ks.map((k) => fc.tuple(block(indent + step, depth - 1), comment, fc.boolean()).map(([v, c, blank]) => ({ k, v, c, blank })))).map((es) => ({
              lines: es.flatMap(({ k, v, c, blank }) => [
                ...(blank ? [""] : []),
                ...("inline" in v ? [`${" ".repeat(indent + step)}${k}: ${v.inline}${c}`] : [`${" ".repeat(indent + step)}${k}:${c}`, ...v.lines]),
              ]),
            })),
          ),
          fc.tuple(fc.array(flow(2), { minLength: 1, maxLength: 5 }), fc.constantFrom(0, 2), comment).map(([items, step, c]) => ({
            lines: items.map((v) => `${" ".repeat(indent + step)}- ${v}${c}`),
          })),
          // entries that are mappings written in the compact form (`- name: eth0` / `  vni: 100`)
          fc.tuple(fc.array(fc.uniqueArray(fc.tuple(fc.constantFrom(...keys), flow(2)), { minLength: 1, maxLength: 3, selector: ([k]) => k }), { minLength: 1, maxLength: 3 }), fc.constantFrom(0, 2), fc.constantFrom(" ", "   ")).map(([entries, step, gap]) => ({
            lines: entries.flatMap((kvs) =>
              kvs.map(([k, v], j) => `${" ".repeat(indent + step)}${j === 0 ? `-${gap}` : " ".repeat(1 + gap.length)}${k}: ${v}`),
            ),
          })),
        );

  const docs = fc
    .tuple(fc.uniqueArray(fc.constantFrom(...keys), { minLength: 1, maxLength: 5 }), fc.array(block(0, 2), { minLength: 5, maxLength: 5 }))
    .map(([ks, vs]) =>
      ks
        .flatMap((k, i) => {
          const v = vs[i]!;
          return "inline" in v ? [`${k}: ${v.inline}`] : [`${k}:`, ...v.lines];
        })
        .join("\n") + "\n",
    );

  it("reads generated files as the package does (and accepts most of them)", () => {
    let accepted = 0;
    let total = 0;
    fc.assert(
      fc.property(docs, (text) => {
        total++;
        if (agrees(text)) accepted++;
      }),
      { numRuns: 400 },
    );
    // the generator stays inside the subset but for what the package itself rejects
    expect(accepted / total).toBeGreaterThan(0.5);
  });

  it("never accepts a mutated file the package reads otherwise", () => {
    const mutation = fc.tuple(fc.nat(), fc.constantFrom(":", "#", "-", "{", "}", "[", "]", ",", "'", '"', " ", "\n", "  ", "? ", "- ", ": ", "&", "*", "!", "|", "", "\t"));
    fc.assert(
      fc.property(docs, fc.array(mutation, { minLength: 1, maxLength: 3 }), (text, muts) => {
        let t = text;
        for (const [at, s] of muts) {
          const i = at % (t.length + 1);
          t = s === "" ? t.slice(0, i) + t.slice(i + 1) : t.slice(0, i) + s + t.slice(i);
        }
        agrees(t);
      }),
      { numRuns: 1500 },
    );
  });
});

describe("config loading through the reader", () => {
  it("gives the same config or the same problems as through the package alone", () => {
    // the loader takes the reader's tree when it can; a file the reader
    // declines (here: a tab in a comment) goes through the package
    const texts = repoConfigs.map((f) => readFileSync(f, "utf8"));
    texts.push(
      "switch: { name: s1 }\nvtep: { source_ip: 10.0.0.1 }\nuplinks: [{ name: eth0 }]\nports: [{ name: h1, vni: 100 }]\nvnis:\n  - vni: 100\n    static_macs:\n      - { mac: \"02:00:00:00:00:01\", port: h1 }\n      - { mac: \"02:00:00:00:00:01\", remote: 10.0.0.2 }\n      - { mac: \"02:00:00:00:00:02\", port: h2, remote: 10.0.0.3 }\n      - { mac: 01:00:00:00:00:03, port: eth0 }\n      - mac: \"02:00:00:00:00:04\"\n        port:\n      - { mac: \"02:00:00:00:00:05\", remote: 10.0.0.1 }\ntables: { fdb: 16 }\n",
    );
    expect(readPlainYaml(texts[texts.length - 1]!)).toBeDefined();
    for (const text of texts) {
      const viaPackage = text.replace(/\n/, " #\t\n");
      expect(readPlainYaml(viaPackage)).toBeUndefined();
      const outcome = (t: string) => {
        try {
          const c = parseConfig(t, "c.yaml");
          return { ok: c };
        } catch (e) {
          if (e instanceof ConfigError) return { problems: e.problems };
          throw e;
        }
      };
      expect(outcome(text)).toEqual(outcome(viaPackage));
    }
  });

  it("loads the repository's configs", () => {
    for (const f of repoConfigs.filter((x) => !x.includes("fixtures"))) expect(() => loadConfigFile(f)).not.toThrow();
  });
});
