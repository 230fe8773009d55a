import type { SyntaxNode } from "./parser.ts";

/**
 * Words as the shell expands them: brace expansion, tilde, parameter and command
 * substitution (when statically known), word splitting of unquoted expansions, pathname
 * patterns, quote removal. What cannot be known before running becomes a hole.
 */

/** Marks a part of a word that is not statically known (never appears in real arguments). */
export const HOLE = "\u0000";

/** One argument after expansion. */
export interface Field {
  /** For rule matching: literal text, with HOLE for unknown parts and unquoted glob characters. */
  readonly match: string;
  /** For people and classifiers: literal text, with `$x` / `$(…)` where unknown, globs as written. */
  readonly text: string;
  /** True when nothing is unknown and no pathname pattern is left. */
  readonly known: boolean;
  /** Unquoted `*`, `?` or `[...]`: a pathname pattern the shell expands. */
  readonly glob: boolean;
  /** Holds a hole from an expansion whose value is unknown. */
  readonly dynamic: boolean;
  /** The text when every unknown part takes its written default (`${x:-rm}` → `rm`). */
  readonly fallback?: string | undefined;
}

type Atom =
  | { readonly kind: "char"; readonly ch: string; readonly quoted: boolean }
  | { readonly kind: "hole"; readonly display: string; readonly quoted: boolean; readonly fallback?: string }
  | { readonly kind: "value"; readonly text: string; readonly quoted: boolean };

/** What word expansion needs from the analysis around it. */
export interface WordScope {
  /** A variable's value, or undefined when unknown. */
  lookup(name: string): string | undefined;
  readonly home: string;
  /** The working directory when known (for `~+`). */
  readonly cwd: string | undefined;
  /** Field separators for word splitting; undefined when the line changes IFS. */
  readonly ifs: string | undefined;
  /** Analyses a `$(...)` / backtick / `<(...)` node; returns its output when statically known. */
  substitution(node: SyntaxNode): string | undefined;
  /** Reports a construct the analysis does not model (the word is then unknown). */
  anomaly(node: SyntaxNode, why: string): void;
}

const MAX_FIELDS = 256;
/** Characters that make an unquoted word more than its text. */
const SPECIAL = /[\\{}~*?[\]$`'"]/;
const GLOB_CHARS = new Set(["*", "?", "["]);

/** Expands a word node into fields (zero or more). */
export function expandWord(node: SyntaxNode, scope: WordScope): Field[] {
  // Most words are plain: no expansion, quoting or pattern to work out.
  const type = node.type;
  if (type === "word" || type === "number") {
    const text = node.text;
    if (!SPECIAL.test(text)) return [literalField(text)];
  } else if (type === "raw_string") {
    return [literalField(node.text.slice(1, -1))];
  } else if (type === "string") {
    const text = node.text;
    if (!/[\\$`]/.test(text)) return [literalField(text.slice(1, -1))];
  }
  const atoms: Atom[] = [];
  toAtoms(node, scope, atoms, false);
  const out: Field[] = [];
  for (const variant of braceExpand(atoms, 0, { left: MAX_FIELDS })) {
    for (const field of split(tilde(variant, scope, false), scope)) {
      out.push(toField(field));
      if (out.length >= MAX_FIELDS) return out;
    }
  }
  return out;
}

/** Expands the value of an assignment (`NAME=value`): no splitting, globbing or braces. */
export function expandAssignmentValue(node: SyntaxNode | null, scope: WordScope): Field {
  if (!node) return toField([]);
  const atoms: Atom[] = [];
  toAtoms(node, scope, atoms, false);
  return toField(tilde(atoms, scope, true), false);
}

/** A field made of plain text (for synthesized argv words). */
export function literalField(text: string): Field {
  return { match: text, text, known: true, glob: false, dynamic: false };
}

/** A field that is entirely unknown, shown as `display`. */
export function holeField(display: string): Field {
  return { match: HOLE, text: display, known: false, glob: false, dynamic: true };
}

function toAtoms(node: SyntaxNode, scope: WordScope, out: Atom[], quoted: boolean): void {
  switch (node.type) {
    case "word":
    case "number":
    case "extglob_pattern":
    case "regex":
      pushBare(node.text, out, quoted);
      return;
    case "brace_expression":
      pushBare(node.text, out, false);
      return;
    case "raw_string":
      out.push(EMPTY_QUOTED);
      pushChars(node.text.slice(1, -1), out, true);
      return;
    case "ansi_c_string":
      out.push(EMPTY_QUOTED);
      pushChars(decodeAnsiC(node.text.slice(2, -1)), out, true);
      return;
    case "string":
    case "translated_string":
      doubleQuoted(node, scope, out);
      return;
    case "concatenation": {
      let end = node.startIndex;
      for (const child of node.children) {
        if (!child) continue;
        if (child.startIndex !== end) scope.anomaly(node, "text between the parts of a word");
        toAtoms(child, scope, out, quoted);
        end = child.endIndex;
      }
      return;
    }
    case "simple_expansion":
    case "expansion":
      parameter(node, scope, out, quoted);
      return;
    case "command_substitution": {
      const value = scope.substitution(node);
      if (value === undefined) out.push({ kind: "hole", display: "$(…)", quoted });
      else out.push({ kind: "value", text: value, quoted });
      return;
    }
    case "process_substitution":
      scope.substitution(node);
      out.push({ kind: "hole", display: node.text.startsWith(">") ? ">(…)" : "<(…)", quoted: true });
      return;
    case "arithmetic_expansion":
      scope.substitution(node);
      out.push({ kind: "hole", display: "$((…))", quoted });
      return;
    case "$":
      out.push({ kind: "char", ch: "$", quoted });
      return;
    default:
      // An array `( ... )`, a subscript...: what it holds is not read, but what runs in it
      // (`x=( $(cmd) )`) still runs.
      scanSubstitutions(node, scope);
      scope.anomaly(node, `unexpected ${node.type} in a word`);
      out.push({ kind: "hole", display: node.text, quoted });
  }
}

/** Unquoted word text: backslash quotes the next character; backslash-newline vanishes. */
function pushBare(text: string, out: Atom[], quoted: boolean): void {
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === "\\" && i + 1 < text.length) {
      i++;
      if (text[i] !== "\n") out.push({ kind: "char", ch: text[i] as string, quoted: true });
      continue;
    }
    out.push({ kind: "char", ch, quoted });
  }
}

function pushChars(text: string, out: Atom[], quoted: boolean): void {
  for (const ch of text) out.push({ kind: "char", ch, quoted });
}

/** Keeps `""` and `''` as (empty) fields. */
const EMPTY_QUOTED: Atom = { kind: "value", text: "", quoted: true };

function doubleQuoted(node: SyntaxNode, scope: WordScope, out: Atom[]): void {
  out.push(EMPTY_QUOTED);
  const open = node.text.startsWith("$") ? node.startIndex + 2 : node.startIndex + 1;
  let at = open;
  const src = node.text;
  const base = node.startIndex;
  const literal = (from: number, to: number) => {
    if (to > from) pushChars(unescapeDouble(src.slice(from - base, to - base)), out, true);
  };
  const translated = node.type === "translated_string";
  for (const child of node.namedChildren) {
    if (!child) continue;
    const type = child.type;
    if (type === "string" && translated) {
      doubleQuoted(child, scope, out);
      return;
    }
    const start = child.startIndex;
    const end = child.endIndex;
    literal(at, start);
    if (type === "string_content") literal(start, end);
    else toAtoms(child, scope, out, true);
    at = end;
  }
  literal(at, node.endIndex - 1);
}

function unescapeDouble(text: string): string {
  return text.replace(/\\([$`"\\\n])/g, (_m, c: string) => (c === "\n" ? "" : c));
}

const NAMED = /^\$\{?([A-Za-z_][A-Za-z0-9_]*|[0-9]|[@*#?$!-])\}?$/;

function parameter(node: SyntaxNode, scope: WordScope, out: Atom[], quoted: boolean): void {
  const m = NAMED.exec(node.text);
  const value = m ? scope.lookup(m[1] as string) : undefined;
  if (value === undefined) {
    // Nested substitutions still run (`${x:-$(cmd)}`).
    for (const child of node.namedChildren) if (child) scanSubstitutions(child, scope);
    out.push({ kind: "hole", display: node.text, quoted, ...defaultOf(node) });
  } else out.push({ kind: "value", text: value, quoted });
}

/** The literal default of `${x:-word}` / `${x-word}` / `${x:=word}`, when written plainly. */
function defaultOf(node: SyntaxNode): { fallback: string } | Record<string, never> {
  if (node.type !== "expansion") return {};
  const m = /^\$\{[A-Za-z_][A-Za-z0-9_]*:?[-=]([A-Za-z0-9_./,+-]*)\}$/.exec(node.text);
  return m ? { fallback: m[1] as string } : {};
}

/** Runs `scope.substitution` on every substitution below `node` (their commands run). */
export function scanSubstitutions(node: SyntaxNode, scope: WordScope): void {
  if (
    node.type === "command_substitution" ||
    node.type === "process_substitution" ||
    node.type === "arithmetic_expansion"
  ) {
    scope.substitution(node);
    return;
  }
  for (const child of node.namedChildren) if (child) scanSubstitutions(child, scope);
}

/** `budget.left`: how many more words brace expansion may produce (it grows exponentially). */
function braceExpand(atoms: Atom[], depth: number, budget: { left: number }): Atom[][] {
  if (depth > 8 || budget.left <= 0) return [atoms];
  for (let i = 0; i < atoms.length; i++) {
    if (!isBare(atoms[i], "{")) continue;
    let level = 0;
    const commas: number[] = [];
    for (let j = i + 1; j < atoms.length; j++) {
      if (isBare(atoms[j], "{")) level++;
      else if (isBare(atoms[j], "}")) {
        if (level > 0) {
          level--;
          continue;
        }
        const prefix = atoms.slice(0, i);
        const suffix = atoms.slice(j + 1);
        if (commas.length > 0) {
          const bounds = [i, ...commas, j];
          const results: Atom[][] = [];
          for (let k = 0; k + 1 < bounds.length; k++) {
            const alt = atoms.slice((bounds[k] as number) + 1, bounds[k + 1]);
            const expanded = braceExpand([...prefix, ...alt, ...suffix], depth + 1, budget);
            results.push(...expanded);
            budget.left -= expanded.length;
            if (budget.left <= 0) break;
          }
          return results;
        }
        const range = rangeOf(atoms.slice(i + 1, j));
        if (range)
          return range.flatMap((item) =>
            budget.left <= 0
              ? []
              : braceExpand([...prefix, ...[...item].map(charAtom), ...suffix], depth + 1, budget),
          );
        break;
      } else if (level === 0 && isBare(atoms[j], ",")) commas.push(j);
    }
  }
  return [atoms];
}

function charAtom(ch: string): Atom {
  return { kind: "char", ch, quoted: true };
}

function isBare(atom: Atom | undefined, ch: string): boolean {
  return atom !== undefined && atom.kind === "char" && !atom.quoted && atom.ch === ch;
}

function rangeOf(inner: Atom[]): string[] | undefined {
  if (!inner.every((a) => a.kind === "char" && !a.quoted)) return undefined;
  const text = inner.map((a) => (a as { ch: string }).ch).join("");
  const m = /^(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])(?:\.\.(-?\d+))?$/.exec(text);
  if (!m) return undefined;
  const [from, to] = [m[1] as string, m[2] as string];
  const step = Math.max(1, Math.abs(Number(m[3] ?? 1)));
  const numeric = /^-?\d/.test(from);
  if (numeric !== /^-?\d/.test(to)) return undefined;
  const a = numeric ? Number(from) : from.charCodeAt(0);
  const b = numeric ? Number(to) : to.charCodeAt(0);
  const out: string[] = [];
  for (let v = a; a <= b ? v <= b : v >= b; v += a <= b ? step : -step) {
    out.push(numeric ? String(v) : String.fromCharCode(v));
    if (out.length >= MAX_FIELDS) break;
  }
  return out;
}

/** `~` and `~/...` become the home directory; `~+` the working directory; other forms are unknown. */
function tilde(atoms: Atom[], scope: WordScope, assignment: boolean): Atom[] {
  const starts = [0];
  if (assignment) {
    atoms.forEach((a, i) => {
      if (a.kind === "char" && !a.quoted && a.ch === ":") starts.push(i + 1);
    });
  }
  let out = atoms;
  for (const start of starts.reverse()) {
    if (!isBare(out[start], "~")) continue;
    let end = start + 1;
    while (end < out.length && out[end]?.kind === "char" && !(out[end] as { ch: string }).ch.match(/[/:]/))
      end++;
    const name = out
      .slice(start + 1, end)
      .map((a) => (a.kind === "char" && !a.quoted ? a.ch : "\u0001"))
      .join("");
    if (name.includes("\u0001")) continue;
    const home = scope.lookup("HOME");
    const replacement: Atom =
      name === ""
        ? home === undefined
          ? { kind: "hole", display: "~", quoted: true }
          : { kind: "value", text: home, quoted: true }
        : name === "+" && scope.cwd !== undefined
          ? { kind: "value", text: scope.cwd, quoted: true }
          : { kind: "hole", display: `~${name}`, quoted: true };
    out = [...out.slice(0, start), replacement, ...out.slice(end)];
  }
  return out;
}

/** Word splitting: unquoted expansion results split on IFS whitespace; empty ones vanish. */
function split(atoms: Atom[], scope: WordScope): Atom[][] {
  const fields: Atom[][] = [];
  let current: Atom[] = [];
  let exists = false;
  for (const atom of atoms) {
    if (atom.kind !== "value" || atom.quoted) {
      current.push(atom);
      exists = true;
      continue;
    }
    if (scope.ifs === undefined) {
      current.push({ kind: "hole", display: atom.text, quoted: false });
      exists = true;
      continue;
    }
    const separator = new RegExp(`[${scope.ifs.replace(/[\\\]^-]/g, "\\$&")}]+`);
    atom.text.split(separator).forEach((piece, index) => {
      if (index > 0) {
        if (exists) fields.push(current);
        current = [];
        exists = false;
      }
      if (piece !== "") {
        current.push({ kind: "value", text: piece, quoted: false });
        exists = true;
      }
    });
  }
  if (exists) fields.push(current);
  return fields;
}

function toField(atoms: Atom[], globbing = true): Field {
  let match = "";
  let text = "";
  let glob = false;
  let dynamic = false;
  let fallback: string | undefined = "";
  for (let i = 0; i < atoms.length; i++) {
    const atom = atoms[i] as Atom;
    if (atom.kind === "char") {
      const wild = globbing && !atom.quoted && GLOB_CHARS.has(atom.ch);
      glob ||= wild;
      // A bracket expression `[...]` is one pattern character.
      const close =
        wild && atom.ch === "["
          ? atoms.findIndex((a, k) => k > i + 1 && a.kind === "char" && !a.quoted && a.ch === "]")
          : -1;
      if (close > 0) {
        match += HOLE;
        for (; i < close; i++) text += (atoms[i] as { ch: string }).ch;
        text += "]";
        continue;
      }
      match += wild ? HOLE : atom.ch;
      text += atom.ch;
      if (fallback !== undefined) fallback += atom.ch;
    } else if (atom.kind === "hole") {
      dynamic = true;
      match += HOLE;
      text += atom.display;
      fallback = atom.fallback === undefined || fallback === undefined ? undefined : fallback + atom.fallback;
    } else {
      const wild = globbing && !atom.quoted && /[*?[]/.test(atom.text);
      glob ||= wild;
      match += wild ? atom.text.replace(/[*?[]/g, HOLE) : atom.text;
      text += atom.text;
      if (fallback !== undefined) fallback += atom.text;
    }
  }
  return {
    match,
    text,
    known: !glob && !dynamic,
    glob,
    dynamic,
    ...(dynamic && fallback !== undefined ? { fallback } : {}),
  };
}

const ANSI_C: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  a: "\u0007",
  b: "\b",
  e: "\u001b",
  E: "\u001b",
  f: "\f",
  v: "\v",
};

/** Decodes the body of `$'...'`. */
export function decodeAnsiC(body: string): string {
  return body.replace(
    /\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|c.|[\s\S])/g,
    (_m, esc: string) => {
      const k = esc[0] as string;
      if (k === "x" || k === "u" || k === "U")
        return String.fromCodePoint(Math.min(Number.parseInt(esc.slice(1), 16), 0x10ffff));
      if (/[0-7]/.test(k)) return String.fromCharCode(Number.parseInt(esc, 8) & 0xff);
      if (k === "c" && esc.length === 2) return String.fromCharCode((esc.charCodeAt(1) & 0x1f) >>> 0);
      return ANSI_C[k] ?? esc;
    },
  );
}
