// A fast reader for the YAML most config files are written in: block
// mappings and sequences, one-line flow collections (`{ mac: "...", port: h1 }`)
// and one-line scalars, with comments. It builds the very node tree the `yaml`
// package composes for such text (Scalar / YAMLMap / YAMLSeq / Pair, same
// values, types, sources, formats and start offsets, scalars resolved by the
// package's own core-schema tags), so every validator and message is the same;
// it does so about ten times faster and with a fraction of the memory, which
// matters for a file with 100k static MACs.
//
// Anything outside that subset (anchors, aliases, tags, block scalars,
// multi-line scalars or flow collections, escapes in quotes, directives,
// several documents, tabs, CR, a BOM, and anything that is not valid YAML)
// makes it answer undefined: the caller then parses with the `yaml` package,
// which also explains every syntax error. test/unit/config-plain-yaml.test.ts
// checks the trees against the package's on generated and hand-written files.

import { Document, Pair, Scalar, YAMLMap, YAMLSeq, isScalar, type Node } from "yaml";

/** Thrown inside the reader when the text leaves the subset. */
class OutsideSubset extends Error {}

const NL = 10; // \n
const SP = 32; // space
const HASH = 35; // #
const COLON = 58; // :
const DASH = 45; // -
const DQ = 34; // "
const SQ = 39; // '
const COMMA = 44;
const LBRACE = 123;
const RBRACE = 125;
const LBRACK = 91;
const RBRACK = 93;

/** Characters a plain scalar cannot start with (in either context). */
const BAD_PLAIN_START = new Set([..."[]{},#&*!|>'\"%@`"].map((c) => c.charCodeAt(0)));

interface ScalarTag {
  default?: boolean | "key";
  test?: RegExp;
  format?: string;
  resolve(value: string, onError: (msg: string) => void, options: unknown): unknown;
}

let coreTags: { tags: ScalarTag[]; options: unknown } | undefined;

/** The core schema's scalar tags that resolve plain scalars by a test, in the
 *  package's order (what its composer tries, first match wins). */
function tags(): { tags: ScalarTag[]; options: unknown } {
  if (!coreTags) {
    const d = new Document();
    const schema = d.schema as unknown as { tags: (ScalarTag & { collection?: string })[] };
    coreTags = { tags: schema.tags.filter((t) => !t.collection && t.default === true && t.test), options: d.options };
  }
  return coreTags;
}

// The reader's nodes are the package's (instances of its classes, marked
// with its node-type symbol, so isScalar() & co. and every method work), with
// two differences: the mark sits on their prototype instead of being defined
// on each node (Object.defineProperty per node was a tenth of reading 100k
// MACs), and they keep their start and end offsets as numbers, making the
// `range` array when it is read (an array per node is a third of a big
// file's tree, and only an error or an interface name's place reads one).
function inherit(cls: { prototype: object }, from: { prototype: object }, sample: object): void {
  Object.setPrototypeOf(cls.prototype, from.prototype);
  for (const sym of Object.getOwnPropertySymbols(sample)) Object.defineProperty(cls.prototype, sym, { value: (sample as Record<symbol, unknown>)[sym] });
  if (from === YAMLMap || from === YAMLSeq) Object.defineProperty(cls.prototype, "schema", { value: undefined, writable: true, configurable: true });
  Object.defineProperty(cls.prototype, "range", {
    configurable: true,
    get(this: { start: number; end: number }) {
      return [this.start, this.end, this.end];
    },
    set(this: { start: number; end: number }, r: [number, number, number]) {
      this.start = r[0];
      this.end = r[1];
    },
  });
}
class ReadScalar {
  declare source: string;
  declare type: Scalar.Type;
  declare format: string;
  constructor(
    public value: unknown,
    public start: number,
    public end: number,
  ) {}
}
class ReadMap {
  flow = false;
  constructor(
    public items: Pair[],
    public start: number,
    public end: number,
  ) {}
}
class ReadSeq {
  flow = false;
  constructor(
    public items: unknown[],
    public start: number,
    public end: number,
  ) {}
}
class ReadPair {
  constructor(
    public key: unknown,
    public value: unknown,
  ) {}
}
inherit(ReadScalar, Scalar, new Scalar(null));
inherit(ReadMap, YAMLMap, new YAMLMap());
inherit(ReadSeq, YAMLSeq, new YAMLSeq());
Object.setPrototypeOf(ReadPair.prototype, Pair.prototype);
for (const sym of Object.getOwnPropertySymbols(new Pair(null))) Object.defineProperty(ReadPair.prototype, sym, { value: (new Pair(null) as unknown as Record<symbol, unknown>)[sym] });

const scalar = (value: unknown, start: number, end: number) => new ReadScalar(value, start, end) as unknown as Scalar;
const pair = (key: unknown, value: unknown) => new ReadPair(key, value) as unknown as Pair;

/** A block list whose entries each sit on one line (`- { mac: ..., port: h1 }`,
 *  `- 10.0.0.2`): the reader keeps where each starts and reads an entry again
 *  when it is walked, so a validator going through 100k of them holds one at a
 *  time, not the whole list. `items` still gives them all (read anew). */
class LazySeq {
  flow = false;
  private eager?: Node[];
  constructor(
    private readonly reader: Reader,
    private readonly at: Int32Array,
    public start: number,
    public end: number,
  ) {}
  get size(): number {
    return this.eager?.length ?? this.at.length;
  }
  forEachItem(f: (node: Node, i: number) => void): void {
    if (this.eager) return this.eager.forEach(f);
    for (let i = 0; i < this.at.length; i++) f(this.reader.itemAt(this.at[i]!), i);
  }
}
inherit(LazySeq, YAMLSeq, new YAMLSeq());
Object.defineProperty(LazySeq.prototype, "items", {
  configurable: true,
  get(this: LazySeq) {
    const out: Node[] = [];
    this.forEachItem((n) => out.push(n));
    return out;
  },
  set(this: { eager?: unknown[] }, items: unknown[]) {
    this.eager = items;
  },
});

/** Every entry of a sequence with its index, one at a time for a list the
 *  reader keeps unread (LazySeq). */
export function forEachItem(seq: YAMLSeq, f: (node: unknown, i: number) => void): void {
  if ((seq as unknown) instanceof LazySeq) (seq as unknown as LazySeq).forEachItem(f);
  else seq.items.forEach(f);
}

/** A list built by push() keeps room for more: the tree keeps exact-size copies. */
const exact = <T>(xs: T[]): T[] => (xs.length === 0 ? [] : xs.slice());

const fail = (): never => {
  throw new OutsideSubset();
};

class Reader {
  /** start of the line the reader looks at next */
  private pos = 0;
  private readonly tags = tags();
  private readonly len: number;

  constructor(private readonly s: string) {
    this.len = s.length;
  }

  document(): Node {
    const c = this.nextContent(0);
    if (c < 0 || this.indentAt(c) !== 0) fail();
    const root = this.blockNode(c);
    if (this.nextContent(this.pos) >= 0) fail();
    return root;
  }

  // ---- lines

  private lineStart(off: number): number {
    return this.s.lastIndexOf("\n", off - 1) + 1;
  }
  private indentAt(contentOff: number): number {
    return contentOff - this.lineStart(contentOff);
  }
  private lineEnd(off: number): number {
    const e = this.s.indexOf("\n", off);
    return e < 0 ? this.len : e;
  }

  /** The offset of the first character of the next line, from `lineStart` on,
   *  that is neither blank nor a comment; -1 at the end. Rejects document
   *  markers and directives. */
  private nextContent(lineStart: number): number {
    const s = this.s;
    let p = lineStart;
    while (p < this.len) {
      let q = p;
      while (q < this.len && s.charCodeAt(q) === SP) q++;
      const c = s.charCodeAt(q);
      if (q >= this.len) return -1;
      if (c === NL || c === HASH) {
        p = this.lineEnd(q) + 1;
        continue;
      }
      if (q === p && (c === 37 /* % */ || s.startsWith("---", q) || s.startsWith("...", q))) fail();
      return q;
    }
    return -1;
  }

  /** A `-` entry indicator at `off` (followed by a space or the line's end). */
  private isSeqEntry(off: number): boolean {
    if (this.s.charCodeAt(off) !== DASH) return false;
    const n = this.s.charCodeAt(off + 1);
    return off + 1 >= this.len || n === SP || n === NL;
  }

  /** After a value on the line: only spaces and a comment may follow. Moves to the next line. */
  private endLine(off: number): void {
    const s = this.s;
    let p = off;
    while (p < this.len && s.charCodeAt(p) === SP) p++;
    if (p < this.len && s.charCodeAt(p) !== NL) {
      if (s.charCodeAt(p) !== HASH || p === off) fail(); // `#` needs a space before it
    }
    this.pos = this.lineEnd(p) + 1;
  }

  // ---- block collections

  private blockNode(c: number): Node {
    if (this.isSeqEntry(c)) return this.blockSeq(c, this.indentAt(c));
    const key = this.implicitKey(c);
    if (!key) fail();
    return this.blockMap(c, this.indentAt(c));
  }

  private blockMap(first: number, indent: number): YAMLMap {
    const items: Pair[] = [];
    let c = first;
    for (;;) {
      const k = this.implicitKey(c) ?? fail();
      let p = k.after;
      while (p < this.len && this.s.charCodeAt(p) === SP) p++;
      const ch = this.s.charCodeAt(p);
      let value: Node;
      if (p >= this.len || ch === NL || ch === HASH) {
        // `key:` with nothing after it on the line
        if (ch === HASH && p === k.after) fail();
        this.pos = this.lineEnd(p) + 1;
        const n = this.nextContent(this.pos);
        const ni = n < 0 ? -1 : this.indentAt(n);
        if (n >= 0 && ni > indent) value = this.blockNode(n);
        else if (n >= 0 && ni === indent && this.isSeqEntry(n)) value = this.blockSeq(n, indent);
        else value = this.emptyScalar(p); // where the package puts it: after the spaces
      } else {
        value = this.inlineValue(p);
      }
      items.push(pair(k.node, value));
      c = this.nextContent(this.pos);
      if (c < 0) break;
      const ci = this.indentAt(c);
      if (ci < indent) break;
      if (ci > indent) fail();
      if (this.isSeqEntry(c)) fail();
    }
    return new ReadMap(exact(items), first, this.pos) as unknown as YAMLMap;
  }

  private blockSeq(first: number, indent: number): YAMLSeq {
    const items: Node[] = [];
    /** while every entry so far is on its own line (`- {...}`, `- value`): where each starts */
    let inline: number[] | undefined = [];
    const entry = (node: Node) => {
      if (inline) {
        // an entry that is a block: the list is built whole after all
        for (const at of inline) items.push(this.itemAt(at));
        inline = undefined;
      }
      items.push(node);
    };
    let c = first;
    for (;;) {
      let p = c + 1;
      while (p < this.len && this.s.charCodeAt(p) === SP) p++;
      const ch = this.s.charCodeAt(p);
      if (p >= this.len || ch === NL || ch === HASH) {
        // `-` alone on its line: the item is the block below it
        if (ch === HASH && p === c + 1) fail();
        this.pos = this.lineEnd(p) + 1;
        const n = this.nextContent(this.pos);
        if (n < 0 || this.indentAt(n) <= indent) fail(); // an empty item
        entry(this.blockNode(n));
      } else if (this.isSeqEntry(p)) {
        fail(); // `- - x`
      } else if (this.implicitKey(p)) {
        entry(this.blockMap(p, this.indentAt(p)));
      } else {
        const node = this.inlineValue(p); // read now to know it is in the subset, then let go
        if (inline) inline.push(p);
        else items.push(node);
      }
      c = this.nextContent(this.pos);
      if (c < 0) break;
      const ci = this.indentAt(c);
      if (ci < indent) break;
      if (ci > indent) fail();
      if (!this.isSeqEntry(c)) break; // the mapping this list is the value of goes on
    }
    if (inline) return new LazySeq(this, Int32Array.from(inline), first, this.pos) as unknown as YAMLSeq;
    return new ReadSeq(exact(items), first, this.pos) as unknown as YAMLSeq;
  }

  /** The entry of a one-line-entries list that starts at `at` (read again). */
  itemAt(at: number): Node {
    const pos = this.pos;
    try {
      return this.inlineValue(at);
    } finally {
      this.pos = pos;
    }
  }

  /** A one-line value after `key: ` or `- `: a flow collection or a scalar. */
  private inlineValue(p: number): Node {
    const ch = this.s.charCodeAt(p);
    let node: Node;
    let end: number;
    if (ch === LBRACE || ch === LBRACK) {
      [node, end] = this.flowCollection(p);
    } else if (ch === DQ || ch === SQ) {
      [node, end] = this.quoted(p);
    } else {
      [node, end] = this.plain(p, false);
    }
    this.endLine(end);
    return node;
  }

  /** `key:` at `off` (a scalar key on one line, then `:` and a space or the
   *  line's end), or undefined when the line is not a mapping entry. */
  private implicitKey(off: number): { node: Scalar; after: number } | undefined {
    const s = this.s;
    const ch = s.charCodeAt(off);
    let node: Scalar;
    let end: number;
    if (ch === DQ || ch === SQ) {
      [node, end] = this.quoted(off);
    } else {
      if (!this.plainStartOk(off, false)) return undefined;
      // the first `: ` (or `:` at the line's end) ends the key; ` #` or the line's end first: no key
      let p = off;
      for (;;) {
        const c = s.charCodeAt(p);
        if (p >= this.len || c === NL) return undefined;
        if (c === COLON) {
          const n = s.charCodeAt(p + 1);
          if (p + 1 >= this.len || n === SP || n === NL) break;
        }
        if (c === HASH && s.charCodeAt(p - 1) === SP) return undefined;
        p++;
      }
      if (s.charCodeAt(p - 1) === SP) fail(); // `key :`
      end = p;
      if (end - off > 1000) fail(); // not an implicit key
      node = this.plainScalar(off, end);
    }
    if (s.charCodeAt(end) !== COLON) {
      if (ch === DQ || ch === SQ) return undefined;
      fail();
    }
    const n = s.charCodeAt(end + 1);
    if (!(end + 1 >= this.len || n === SP || n === NL)) fail();
    return { node, after: end + 1 };
  }

  // ---- flow collections (one line)

  private flowCollection(open: number): [Node, number] {
    const s = this.s;
    const isMap = s.charCodeAt(open) === LBRACE;
    const close = isMap ? RBRACE : RBRACK;
    const items: unknown[] = [];
    let p = this.skipSpaces(open + 1);
    if (s.charCodeAt(p) !== close) {
      for (;;) {
        let node: Node;
        [node, p] = this.flowValue(p, isMap);
        p = this.skipSpaces(p);
        if (isMap) {
          // a key: `:` and a space, then the value
          if (!isScalar(node) || s.charCodeAt(p) !== COLON || s.charCodeAt(p + 1) !== SP) fail();
          let value: Node;
          [value, p] = this.flowValue(this.skipSpaces(p + 1), false);
          items.push(pair(node, value));
          p = this.skipSpaces(p);
        } else {
          if (s.charCodeAt(p) === COLON) fail(); // `[a: 1]`
          items.push(node);
        }
        const c = s.charCodeAt(p);
        if (c === close) break;
        if (c !== COMMA) fail();
        p = this.skipSpaces(p + 1);
        if (s.charCodeAt(p) === close) fail(); // a trailing comma
      }
    }
    const coll = isMap ? new ReadMap(exact(items) as Pair[], open, p + 1) : new ReadSeq(exact(items), open, p + 1);
    coll.flow = true;
    return [coll as unknown as Node, p + 1];
  }

  /** A value in a flow collection; `key`: a flow mapping's key, which `: ` ends. */
  private flowValue(p: number, key: boolean): [Node, number] {
    const ch = this.s.charCodeAt(p);
    if (ch === LBRACE || ch === LBRACK) {
      if (key) fail();
      return this.flowCollection(p);
    }
    if (ch === DQ || ch === SQ) return this.quoted(p);
    return this.plain(p, true, key);
  }

  private skipSpaces(p: number): number {
    while (this.s.charCodeAt(p) === SP) p++;
    return p;
  }

  // ---- scalars

  private plainStartOk(off: number, flow: boolean): boolean {
    const s = this.s;
    const c = s.charCodeAt(off);
    if (off >= this.len || c === NL || c === SP || BAD_PLAIN_START.has(c)) return false;
    if (c === DASH || c === COLON || c === 63 /* ? */) {
      const n = s.charCodeAt(off + 1);
      if (off + 1 >= this.len || n === SP || n === NL || (flow && (n === COMMA || n === RBRACE || n === RBRACK || n === LBRACE || n === LBRACK))) return false;
    }
    return true;
  }

  /** A plain scalar on one line; in flow context it ends at `,` `]` `}`, and a
   *  flow mapping's key at `: `. */
  private plain(off: number, flow: boolean, key = false): [Scalar, number] {
    const s = this.s;
    if (!this.plainStartOk(off, flow)) fail();
    let p = off;
    let end = off; // after the last non-space character
    for (;;) {
      const c = s.charCodeAt(p);
      if (p >= this.len || c === NL) break;
      if (c === HASH && s.charCodeAt(p - 1) === SP) break;
      if (c === COLON) {
        const n = s.charCodeAt(p + 1);
        // `: ` inside a value (a mapping where none may start), or `:` before a flow indicator
        if (key && n === SP) break;
        if (p + 1 >= this.len || n === SP || n === NL) fail();
        if (flow && (n === COMMA || n === RBRACE || n === RBRACK || n === LBRACE || n === LBRACK)) fail();
      }
      if (flow && (c === COMMA || c === RBRACE || c === RBRACK)) break;
      if (flow && (c === LBRACE || c === LBRACK)) fail();
      p++;
      if (c !== SP) end = p;
    }
    return [this.plainScalar(off, end), end];
  }

  private plainScalar(off: number, end: number): Scalar {
    const src = this.s.slice(off, end);
    let node: Scalar | undefined;
    for (const tag of this.tags.tags) {
      if (!tag.test!.test(src)) continue;
      const res = tag.resolve(src, fail, this.tags.options);
      // a tag that makes its own Scalar (floats keep their digits) gets its range set
      node = isScalar(res) ? Object.assign(res as Scalar, { range: [off, end, end] }) : scalar(res, off, end);
      if (tag.format) node.format = tag.format;
      break;
    }
    node ??= scalar(src, off, end);
    node.source = src;
    node.type = Scalar.PLAIN;
    return node;
  }

  /** A quoted scalar on one line, without escapes (`\` and multi-line quotes are left to the package). */
  private quoted(off: number): [Scalar, number] {
    const s = this.s;
    const q = s.charCodeAt(off);
    let value: string;
    let end: number;
    if (q === DQ) {
      const close = s.indexOf('"', off + 1);
      if (close < 0) fail();
      value = s.slice(off + 1, close);
      if (value.includes("\\") || value.includes("\n")) fail();
      end = close + 1;
    } else {
      let p = off + 1;
      value = "";
      for (;;) {
        const close = s.indexOf("'", p);
        if (close < 0) fail();
        value += s.slice(p, close);
        if (s.charCodeAt(close + 1) === SQ) {
          value += "'";
          p = close + 2;
          continue;
        }
        end = close + 1;
        break;
      }
      if (value.includes("\n")) fail();
    }
    const node = scalar(value, off, end);
    node.source = value;
    node.type = q === DQ ? Scalar.QUOTE_DOUBLE : Scalar.QUOTE_SINGLE;
    return [node, end];
  }

  /** The value of `key:` with nothing after it. */
  private emptyScalar(off: number): Scalar {
    const node = scalar(null, off, off);
    node.source = "";
    node.type = Scalar.PLAIN;
    return node;
  }
}

/** The document for `text` when it is in the subset (see the top of this
 *  file), else undefined: parse it with the `yaml` package instead. */
export function readPlainYaml(text: string): Document.Parsed | undefined {
  // tabs, CR line ends, a BOM: rare in configs, subtle in YAML
  if (/[\t\r\uFEFF]/.test(text)) return undefined;
  let root: Node;
  try {
    root = new Reader(text).document();
  } catch (e) {
    if (e instanceof OutsideSubset) return undefined;
    throw e;
  }
  const doc = new Document() as Document.Parsed;
  doc.contents = root as Document.Parsed["contents"];
  return doc;
}

/** Line starts of `text` for positions ({line, col}, 1-based, as the `yaml`
 *  package's LineCounter gives them for text without CR). */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}
