// YAML syntax errors, placed where a person would fix them. The `yaml` parser
// reports some mistakes where it gave up rather than where they were made: an
// unclosed `[`, `{` or quote where the file (or the block) ends; a key indented
// too deep at the value of the line above it; a first key or first list item
// indented wrong at the line after it, which is fine. This module moves those
// to the mistake (and says what it is), keeps the parser's message and
// position wherever they are already right, and drops what the parser reports
// after it has lost track of the structure.
//
// Only called for a file the parser rejected: it never finds errors of its own
// in a valid file, it explains the parser's.

import { Parser, type YAMLError } from "yaml";

export interface SyntaxProblem {
  offset: number; // into the text
  msg: string; // without the "YAML syntax error: " prefix
}

const CLOSER: Record<string, string> = { "[": "]", "{": "}" };

/** The lines of the text and how they are indented. Columns are 0-based here
 *  (messages add 1) and count characters, like the parser's. */
class Layout {
  private readonly starts: number[] = [0];

  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text[i] === "\n") this.starts.push(i + 1);
  }

  get count(): number {
    return this.starts.length;
  }
  /** 0-based line of an offset. */
  of(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
  start(line: number): number {
    return this.starts[line];
  }
  textOf(line: number): string {
    const end = line + 1 < this.starts.length ? this.starts[line + 1] - 1 : this.text.length;
    return this.text.slice(this.starts[line], end).replace(/\r$/, "");
  }
  /** Leading blanks (spaces and tabs) of a line. */
  lead(line: number): string {
    return /^[ \t]*/.exec(this.textOf(line))![0];
  }
  /** Column of the line's first character. */
  col(line: number): number {
    return this.lead(line).length;
  }
  /** The line without its leading blanks. */
  content(line: number): string {
    return this.textOf(line).slice(this.col(line));
  }
  /** Not blank, not only a comment. */
  isContent(line: number): boolean {
    const c = this.content(line);
    return c !== "" && !c.startsWith("#");
  }
  nextContent(line: number): number | undefined {
    for (let i = line + 1; i < this.count; i++) if (this.isContent(i)) return i;
    return undefined;
  }
  prevContent(line: number): number | undefined {
    for (let i = line - 1; i >= 0; i--) if (this.isContent(i)) return i;
    return undefined;
  }
  /** Offset of the line's first character. */
  firstChar(line: number): number {
    return this.start(line) + this.col(line);
  }

  /** A `- ` list item line. */
  dash(line: number): boolean {
    return /^-([ \t]|$)/.test(this.content(line));
  }
  /** The key the line starts with (after any `- `), if any. */
  key(line: number): string | undefined {
    const m = /^([^\s#:,[\]{}"'][^#]*?)[ \t]*:(?:[ \t]|$)/.exec(body(this.content(line)));
    return m ? m[1] : undefined;
  }
  /** Column of the line's key: after any `- `. */
  keyCol(line: number): number {
    return this.col(line) + /^(-[ \t]+)*/.exec(this.content(line))![0].length;
  }
  /** `key:` with its value on the lines below. */
  opener(line: number): boolean {
    return this.key(line) !== undefined && /:[ \t]*(#.*)?$/.test(this.content(line));
  }
  /** `key: value` on one line. */
  keyWithValue(line: number): boolean {
    return this.key(line) !== undefined && !this.opener(line);
  }

  private steps?: { key: number; seq: number };
  /** The file's usual indentation under a `key:`, for mappings and for lists. */
  step(kind: "key" | "seq"): number {
    if (!this.steps) {
      const keys = new Map<number, number>();
      const seqs = new Map<number, number>();
      for (let i = 0; i < this.count; i++) {
        if (!this.isContent(i) || !this.opener(i)) continue;
        const j = this.nextContent(i);
        if (j === undefined) continue;
        const d = this.col(j) - this.keyCol(i);
        if (this.dash(j) && d >= 0) seqs.set(d, (seqs.get(d) ?? 0) + 1);
        else if (!this.dash(j) && d > 0) keys.set(d, (keys.get(d) ?? 0) + 1);
      }
      const key = mode(keys) ?? 2;
      this.steps = { key, seq: mode(seqs) ?? key };
    }
    return this.steps[kind];
  }
}

function mode(counts: Map<number, number>): number | undefined {
  let best: number | undefined;
  let n = 0;
  for (const [d, k] of counts) if (k > n || (k === n && best !== undefined && d < best)) [best, n] = [d, k];
  return best;
}

/** The content of a line with `- ` indicators and a trailing comment taken off. */
function body(content: string): string {
  return content.replace(/^(-[ \t]+)+/, "").replace(/[ \t]+#.*$/, "");
}

// ---------------------------------------------------------------------------
// Unclosed flow collections and quotes

type Token = { type?: string; offset?: number; source?: string; start?: unknown; end?: unknown };

/** Flow collections and quoted scalars of the CST (the lexer's view of the text). */
function cstTokens(text: string): { flows: Token[]; quotes: Map<number, Token> } {
  const flows: Token[] = [];
  const quotes = new Map<number, Token>();
  const walk = (x: unknown): void => {
    if (Array.isArray(x)) {
      for (const y of x) walk(y);
      return;
    }
    if (x === null || typeof x !== "object") return;
    const t = x as Token;
    if (t.type === "flow-collection") flows.push(t);
    if ((t.type === "double-quoted-scalar" || t.type === "single-quoted-scalar") && t.offset !== undefined) quotes.set(t.offset, t);
    for (const v of Object.values(x)) if (v !== null && typeof v === "object") walk(v);
  };
  for (const tok of new Parser().parse(text)) walk(tok);
  return { flows, quotes };
}

/** Is a quoted scalar's source closed by its own quote? */
function quoteClosed(t: Token): boolean {
  const s = t.source ?? "";
  if (s.length < 2) return false;
  if (s[0] === "'") {
    // '' is an escaped quote: closed iff the run of quotes at the end is odd.
    return /'*$/.exec(s.slice(1))![0].length % 2 === 1;
  }
  return s.endsWith('"') && /\\*$/.exec(s.slice(1, -1))![0].length % 2 === 0;
}

/** Does a line hold block structure (a `key:` or a `- ` item) rather than more of a flow collection? */
function looksLikeBlock(layout: Layout, line: number): boolean {
  return layout.dash(line) || /^(---|\.\.\.)/.test(layout.content(line)) || layout.key(line) !== undefined;
}

type FlowScan =
  | { kind: "closed" }
  | { kind: "quote" } // an unclosed quote inside explains it
  | { kind: "unclosed"; at: number; missing: string };

/** Follow a flow collection from its opening bracket through the text until it
 *  closes, a bracket closes the wrong collection, or block structure resumes
 *  (a `key:` or `- ` no deeper than the line the bracket is on). */
function scanFlow(layout: Layout, open: number, quotes: Map<number, Token>): FlowScan {
  const text = layout.text;
  const stack = [open];
  const baseCol = layout.col(layout.of(open));
  let i = open + 1;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "\n") {
      const line = layout.of(i + 1);
      if (line !== layout.of(i) && layout.isContent(line) && layout.col(line) <= baseCol && looksLikeBlock(layout, line)) break;
      i++;
      continue;
    }
    if (ch === '"' || ch === "'") {
      const q = quotes.get(i);
      if (q) {
        if (!quoteClosed(q)) return { kind: "quote" };
        i += (q.source ?? "").length;
        continue;
      }
    }
    if (ch === "#" && /[ \t\n]/.test(text[i - 1] ?? "\n")) {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? text.length : nl;
      continue;
    }
    if (ch === "[" || ch === "{") stack.push(i);
    if (ch === "]" || ch === "}") {
      const top = stack.pop()!;
      if (CLOSER[text[top]] !== ch) return { kind: "unclosed", at: top, missing: CLOSER[text[top]] };
      if (stack.length === 0) return { kind: "closed" };
    }
    i++;
  }
  const missing = stack.map((o) => CLOSER[text[o]]).reverse().join("");
  return { kind: "unclosed", at: stack[0], missing };
}

/** Unclosed quotes and flow collections, at their opening character. */
function unclosed(layout: Layout): SyntaxProblem[] {
  const { flows, quotes } = cstTokens(layout.text);
  const out: SyntaxProblem[] = [];
  for (const q of quotes.values()) {
    if (!quoteClosed(q)) out.push({ offset: q.offset!, msg: `unclosed ${q.source![0]} opened here` });
  }
  for (const f of flows) {
    const start = f.start as Token | undefined;
    const end = f.end as Token[] | undefined;
    if (start?.offset === undefined || end?.[0]?.source === CLOSER[start.source ?? ""]) continue;
    // The lexer also ends a collection whose `]` is on a line not indented
    // enough; that one is closed, and the parser's message about it is right.
    const s = scanFlow(layout, start.offset, quotes);
    if (s.kind !== "unclosed") continue;
    const more = s.missing.length > 1 ? ` (missing ${s.missing})` : "";
    out.push({ offset: s.at, msg: `unclosed ${layout.text[s.at]} opened here${more}` });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Indentation

/** How a line is named in a message. */
function what(layout: Layout, line: number): string {
  if (layout.dash(line)) return "this list item";
  const k = layout.key(line);
  return k !== undefined ? `'${k}'` : "this line";
}
function whatOther(layout: Layout, line: number): string {
  const k = layout.key(line);
  return k !== undefined ? `'${k}'` : layout.dash(line) ? "the list item" : "the line";
}

/** A line is at column `col` (0-based) and belongs at `want`. */
function misplaced(layout: Layout, line: number, want: number, like: string): SyntaxProblem {
  return { offset: layout.firstChar(line), msg: `bad indentation: ${what(layout, line)} is at column ${layout.col(line) + 1}, not ${want + 1}${like}` };
}

/** A tab in the indentation of a line: that is the mistake. */
function tabIn(layout: Layout, line: number | undefined): SyntaxProblem | undefined {
  if (line === undefined) return undefined;
  const t = layout.lead(line).indexOf("\t");
  return t < 0 ? undefined : { offset: layout.start(line) + t, msg: "Tabs are not allowed as indentation" };
}

/** The parser found lines `a` (above) and `b` (below) at columns that do not
 *  fit together and blamed `b` (or the value of `a`). Which one is off?
 *  undefined: it cannot tell better than the parser. */
function blame(layout: Layout, a: number, b: number): SyntaxProblem | undefined {
  const ca = layout.col(a);
  const cb = layout.col(b);
  const p = layout.prevContent(a);

  // `a` is the first line under `p: ` and is off the file's step, while `b`
  // is where the step puts it: `a` is the mistake (the parser took its column
  // for the whole block and blames everything after it).
  if (p === undefined || layout.opener(p)) {
    const base = p === undefined ? 0 : layout.keyCol(p);
    if (layout.dash(a)) {
      const want = base + (p === undefined ? 0 : layout.step("seq"));
      if (layout.dash(b) && ca !== want && cb === want) return misplaced(layout, a, want, " like the one below it");
      // `b` a key of the item `a` starts: it lines up with where the key would be
      const keyAt = want + (layout.keyCol(a) - ca);
      if (layout.key(a) !== undefined && !layout.dash(b) && ca !== want && cb === keyAt) {
        return misplaced(layout, a, want, ` (where its ${whatOther(layout, a)} lines up with ${whatOther(layout, b)} below it)`);
      }
    } else if (layout.key(a) !== undefined && !layout.dash(b)) {
      const want = base + (p === undefined ? 0 : layout.step("key"));
      if (ca !== want && cb === want) return misplaced(layout, a, want, ` like ${whatOther(layout, b)} below it`);
    }
  }

  // `a` shallower than the keys around it: `p` above it and `b` below it are
  // at one column and their mapping goes on after `b`. `a` left it (and is
  // now a key of the mapping around it); `b` after it only looks too deep.
  if (p !== undefined && !layout.dash(a) && layout.key(a) !== undefined && !layout.dash(b) && ca < cb) {
    let next = layout.nextContent(b);
    while (next !== undefined && layout.col(next) > cb) next = layout.nextContent(next);
    const goesOn = next !== undefined && layout.col(next) === cb && !layout.dash(next);
    if (goesOn && layout.key(p) !== undefined && layout.keyCol(p) === cb) return misplaced(layout, a, cb, ` like ${whatOther(layout, p)} above it`);
  }

  // `b` deeper than `a` above it, which already has its value (`key: value`
  // or a `- value` item): `b` belongs with the nearest key left of it.
  const scalarItem = layout.dash(a) && layout.key(a) === undefined && /^[^\s[{|>'"][^\s]*$/.test(body(layout.content(a)));
  if ((layout.keyWithValue(a) || scalarItem) && !layout.dash(b) && layout.key(b) !== undefined && cb > (scalarItem ? ca : layout.keyCol(a))) {
    for (let s: number | undefined = a; s !== undefined; s = layout.prevContent(s)) {
      if (layout.key(s) !== undefined && layout.keyCol(s) < cb) return misplaced(layout, b, layout.keyCol(s), ` like ${whatOther(layout, s)} above it`);
      if (layout.col(s) === 0) break;
    }
  }
  return undefined;
}

/** The first line of the block `b` is in: the line after the nearest
 *  `key:` above `b` whose key is left of `b`. */
function blockStart(layout: Layout, b: number): number | undefined {
  for (let i = b - 1; i >= 0; i--) {
    if (!layout.isContent(i)) continue;
    if (layout.opener(i) && layout.keyCol(i) < layout.col(b)) return layout.nextContent(i);
    if (layout.col(i) === 0 && !layout.opener(i)) return undefined;
  }
  return layout.nextContent(-1);
}

// ---------------------------------------------------------------------------

interface Placed extends SyntaxProblem {
  /** The parser reads on correctly after this one (a tab, a missing ':'), so
   *  what it reports after it is worth reporting too. */
  local?: boolean;
}

/** Where each of the parser's errors belongs, and what to say there. */
export function placeSyntaxErrors(text: string, errors: readonly YAMLError[]): SyntaxProblem[] {
  const layout = new Layout(text);
  const openers = unclosed(layout);
  const explained = (offset: number) => openers.some((o) => o.offset <= offset);
  const placed: Placed[] = [...openers];

  // The parser often reports follow-ons at the same spot; "Implicit keys need
  // to be on a single line" always goes with a more telling one there.
  const reported = new Set<number>();
  const others = new Set(errors.filter((e) => e.code !== "MULTILINE_IMPLICIT_KEY").map((e) => e.pos[0]));
  for (const e of errors) {
    const offset = e.pos[0];
    if (reported.has(offset) || (e.code === "MULTILINE_IMPLICIT_KEY" && others.has(offset))) continue;
    reported.add(offset);
    const msg =
      e.code === "MULTIPLE_DOCS"
        ? "the file must hold a single YAML document"
        : e.message.replace(/ at line \d+, column \d+[\s\S]*$/, "").split("\n")[0];
    const line = layout.of(offset);
    const keep = () => placed.push({ offset, msg });

    if (/^Flow (sequence|map) in block collection must be sufficiently indented/.test(msg) || /^Missing closing ["']quote/.test(msg)) {
      // the unclosed opener says it better, where the mistake is
      if (!explained(offset)) keep();
      continue;
    }
    if (e.code === "TAB_AS_INDENT") {
      placed.push({ offset, msg, local: true });
      continue;
    }
    if (e.code === "MISSING_CHAR" && msg.startsWith("Implicit map keys need to be followed by map values")) {
      // a `key value` or `key:value` line: say which
      const src = body(text.slice(offset, Math.max(offset, e.pos[1])).split("\n")[0]);
      const word = /^([A-Za-z_][\w.-]*)[ \t]+\S/.exec(src);
      const glued = /^([A-Za-z_][\w.-]*):\S/.exec(src);
      const hint = word ? ` (missing ':' after '${word[1]}'?)` : glued ? ` (missing space after ':' in '${src.trim()}'?)` : "";
      placed.push({ offset, msg: msg + hint, local: true });
      continue;
    }
    if (e.code === "MULTILINE_IMPLICIT_KEY") {
      // `- value` with a deeper `key:` line after it: that line is the mistake
      const b = layout.nextContent(line);
      const fix = b !== undefined && layout.col(b) > layout.col(line) ? blame(layout, line, b) : undefined;
      if (fix) {
        placed.push(tabIn(layout, b) ?? fix);
        continue;
      }
      // a key without its ':' and more lines under it (`vtep`, `- name h1`)
      const word = /^([\w.-]+)([ \t]+[^:#\s][^:#]*)?[ \t]*(#.*)?$/.exec(body(layout.content(line)));
      const hint = word && offset === layout.start(line) + layout.keyCol(line) ? ` (missing ':' after '${word[1]}'?)` : "";
      placed.push({ offset, msg: msg + hint });
      continue;
    }

    // Indentation. The parser points at the value of the line above the
    // mistake, at a comment before it, or at a line after it.
    const compact = e.code === "BLOCK_AS_IMPLICIT_KEY" && msg.startsWith("Nested mappings are not allowed in compact mappings");
    const blockItem = e.code === "BLOCK_AS_IMPLICIT_KEY" && msg.startsWith("A block sequence may not be used as an implicit map key");
    const misaligned =
      (e.code === "BAD_INDENT" && /^All (mapping|sequence) items must start at the same column/.test(msg)) ||
      (e.code === "MISSING_CHAR" && msg.startsWith("Sequence item without - indicator"));
    if (!compact && !blockItem && !misaligned) {
      keep();
      continue;
    }
    // A value that ends its line (`key:`): the line below is the one meant.
    const rest = layout.textOf(line).slice(offset - layout.start(line)).replace(/^[ \t]*(#.*)?$/, "");
    const here = layout.isContent(line) && rest !== "" ? line : layout.nextContent(line);
    const tab = tabIn(layout, here) ?? (compact ? tabIn(layout, layout.nextContent(line)) : undefined);
    if (tab) {
      placed.push(tab);
      continue;
    }
    if (here === undefined) {
      keep();
      continue;
    }

    if (compact) {
      // `a: value` and a deeper line `b` below it, unless the `:` making the
      // nested mapping is on this line (`name: a: b`: the parser is right).
      const b = layout.nextContent(line);
      if (/:([ \t]|$)/.test(rest.replace(/[ \t]+#.*$/, "")) || b === undefined || layout.col(b) <= layout.col(line)) {
        keep();
        continue;
      }
      placed.push(blame(layout, line, b) ?? { offset, msg });
      continue;
    }

    // `b` (the line the parser means) against the line just above it, then
    // against the first line of its block.
    const b = here;
    const first = blockStart(layout, b);
    const above = layout.prevContent(b);
    const fix =
      (above !== undefined ? blame(layout, above, b) : undefined) ??
      (first !== undefined && first < b && first !== above ? blame(layout, first, b) : undefined);
    placed.push(fix ?? { offset: b === line ? offset : layout.start(b), msg });
  }

  // The document's first key indented (` switch:`): the parser takes that
  // column for the whole top level and stumbles at the next top-level key,
  // with messages of every kind.
  const top = layout.nextContent(-1);
  if (top !== undefined && layout.col(top) > 0) {
    let b: number | undefined;
    for (let i = top + 1; i < layout.count && b === undefined; i++) if (layout.isContent(i) && layout.col(i) < layout.col(top)) b = i;
    const fix = b !== undefined && placed.every((p) => p.offset >= layout.start(b)) ? blame(layout, top, b) : undefined;
    if (fix) placed.push(fix);
  }

  // In file order, one per position. After a problem the parser cannot read
  // past, what it says is about its own confusion: the first problem is
  // always reported, later ones only while every one so far was local.
  placed.sort((x, y) => x.offset - y.offset);
  const out: SyntaxProblem[] = [];
  const seen = new Set<number>();
  for (const p of placed) {
    if (seen.has(p.offset)) continue;
    seen.add(p.offset);
    if (out.length > 0 && !p.local) break;
    out.push({ offset: p.offset, msg: p.msg });
    if (!p.local) break;
  }
  return out;
}
