import { createRequire } from "node:module";

/**
 * Shell command analysis for Bash rules, on a real Bash parser (mvdan/sh, see
 * docs/decisions/0500-shell-parser.md). A command line is split into the simple commands it
 * would run — across `&& || ; | |& &` and newlines, inside `$(...)`, backticks, `<(...)`,
 * `>(...)`, subshells, groups, loops, functions and here-documents — and the files it
 * redirects into. Leading `VAR=value` assignments and process wrappers (`timeout`, `time`,
 * `nice`, `nohup`, `stdbuf`, `command`) are stripped from each command; the literal
 * argument of `bash -c`, `sh -c` and `eval` is analysed as well.
 */
export type CommandAnalysis =
  | { readonly ok: true; readonly parts: CommandPart[]; readonly redirects: RedirectTarget[] }
  | { readonly ok: false; readonly error: string };

/** One simple command, as rules see it. */
export interface CommandPart {
  /** Arguments joined by single spaces, as written (quotes kept), wrappers stripped. */
  readonly text: string;
  /** Unquoted value of each argument; `undefined` where it depends on an expansion. */
  readonly argv: readonly (string | undefined)[];
}

/** A file a redirection reads or writes. */
export interface RedirectTarget {
  readonly op: string;
  /** The file as written (quotes removed), or `undefined` when it depends on an expansion. */
  readonly path: string | undefined;
  /** The redirection as written, for messages. */
  readonly text: string;
  readonly write: boolean;
}

interface Pos {
  Offset(): number;
}
interface SyntaxNode {
  Pos(): Pos;
  End(): Pos;
  [key: string]: unknown;
}
interface MvdanSyntax {
  NewParser(): { Parse(src: string, name: string): SyntaxNode };
  Walk(node: SyntaxNode, visit: (node: SyntaxNode | null) => boolean): void;
  NodeType(node: SyntaxNode): string;
}

interface Loaded {
  readonly syntax: MvdanSyntax;
  /** Reused: a parser keeps no state between Parse calls, and a fresh one costs allocations. */
  readonly parser: { Parse(src: string, name: string): SyntaxNode };
}

let loaded: Loaded | undefined;
/** Loads the parser on first use (about 1.5 MB of code; only Bash checks need it). */
function sh(): Loaded {
  if (!loaded) {
    const require = createRequire(import.meta.url);
    const syntax = (require("mvdan-sh") as { syntax: MvdanSyntax }).syntax;
    loaded = { syntax, parser: syntax.NewParser() };
  }
  return loaded;
}

const SHELLS = new Set(["sh", "bash", "zsh", "dash", "ksh"]);
const WRITE_OPS = new Set([">", ">>", ">|", "&>", "&>>", "<>"]);
const SPECIAL_FILES = /^\/dev\/(null|stdout|stderr|stdin|tty|fd\/\d+)$/;
const MAX_NESTING = 3;

const CACHE_SIZE = 512;
const cache = new Map<string, CommandAnalysis>();

/**
 * Parses and splits a command line. Never throws; a syntax error comes back as `ok: false`.
 * Pure, so recent results are cached (an agent repeats commands); treat them as read-only.
 */
export function analyzeCommand(command: string): CommandAnalysis {
  const hit = cache.get(command);
  if (hit) {
    cache.delete(command);
    cache.set(command, hit);
    return hit;
  }
  const parts: CommandPart[] = [];
  const redirects: RedirectTarget[] = [];
  const error = collect(command, parts, redirects, 0);
  const result: CommandAnalysis = error === undefined ? { ok: true, parts, redirects } : { ok: false, error };
  cache.set(command, result);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value as string);
  return result;
}

function collect(
  command: string,
  parts: CommandPart[],
  redirects: RedirectTarget[],
  depth: number,
): string | undefined {
  const { syntax, parser } = sh();
  const buf = Buffer.from(command, "utf8");
  const text = (node: SyntaxNode) => buf.subarray(node.Pos().Offset(), node.End().Offset()).toString("utf8");
  let file: SyntaxNode;
  try {
    file = parser.Parse(command, "");
  } catch (err) {
    const e = err as { Error?: () => string; message?: string };
    return `cannot parse the command: ${typeof e.Error === "function" ? e.Error() : (e.message ?? String(err))}`;
  }
  const nested: string[] = [];
  syntax.Walk(file, (node) => {
    if (!node) return true;
    switch (syntax.NodeType(node)) {
      case "CallExpr": {
        const words = node.Args as SyntaxNode[];
        if (words.length === 0) return true;
        const args = words.map((w) => ({ text: text(w), value: wordValue(syntax, w) }));
        const kept = stripWrappers(args);
        parts.push({ text: kept.map((a) => a.text).join(" "), argv: kept.map((a) => a.value) });
        const inner = innerScript(kept.map((a) => a.value));
        if (inner !== undefined) nested.push(inner);
        return true;
      }
      case "DeclClause": {
        const variant = (node.Variant as { Value: string }).Value;
        const args = (node.Args as SyntaxNode[]).map(text);
        parts.push({ text: [variant, ...args].join(" "), argv: [variant, ...args.map(() => undefined)] });
        return true;
      }
      case "Redirect": {
        const word = node.Word as SyntaxNode | null;
        if (!word) return true;
        const opPos = (node.OpPos as Pos).Offset();
        const op = buf.subarray(opPos, word.Pos().Offset()).toString("utf8").trim();
        const target = redirectTarget(op, text(word), wordValue(syntax, word), text(node));
        if (target) redirects.push(target);
        return true;
      }
      default:
        return true;
    }
  });
  if (depth < MAX_NESTING) {
    for (const script of nested) {
      const error = collect(script, parts, redirects, depth + 1);
      if (error !== undefined) return error;
    }
  }
  return undefined;
}

function redirectTarget(
  op: string,
  written: string,
  value: string | undefined,
  text: string,
): RedirectTarget | undefined {
  const fdDup = op === ">&" || op === "<&";
  if (fdDup && (value === undefined ? false : /^(\d+-?|-)$/.test(value))) return undefined;
  if (op === "<<" || op === "<<-" || op === "<<<") return undefined;
  const write = WRITE_OPS.has(op) || op === ">&";
  if (value !== undefined && SPECIAL_FILES.test(value)) return undefined;
  if (!write && op !== "<" && op !== "<&") return undefined;
  return { op, path: value === undefined ? undefined : value, text: text || `${op}${written}`, write };
}

/** The script run by `bash -c SCRIPT` / `sh -c SCRIPT` or `eval ARGS...`, when literal. */
function innerScript(argv: readonly (string | undefined)[]): string | undefined {
  const name = argv[0];
  if (name === "eval") {
    const rest = argv.slice(1);
    return rest.length > 0 && rest.every((a) => a !== undefined) ? rest.join(" ") : undefined;
  }
  if (name === undefined || !SHELLS.has(name.split("/").pop() ?? name)) return undefined;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === undefined || !arg.startsWith("-") || arg === "--") return undefined;
    if (/^-[a-zA-Z]*c[a-zA-Z]*$/.test(arg)) return argv[i + 1];
  }
  return undefined;
}

/** Drops process wrappers from the front of a command, keeping the last one if nothing follows. */
export function stripWrappers<T extends { readonly value: string | undefined }>(args: readonly T[]): T[] {
  let i = 0;
  for (;;) {
    const next = skipWrapper(
      args.map((a) => a.value),
      i,
    );
    if (next === undefined || next >= args.length) return args.slice(i);
    i = next;
  }
}

/** Index of the wrapped command when `argv[i]` is a wrapper, else undefined. */
function skipWrapper(argv: readonly (string | undefined)[], i: number): number | undefined {
  const name = argv[i];
  let j = i + 1;
  const flag = () => argv[j];
  switch (name) {
    case "nohup":
      return flag() === "--" ? j + 1 : j;
    case "time":
      while (flag() === "-p" || flag() === "--") j++;
      return j;
    case "command":
      if (flag() === "-v" || flag() === "-V") return undefined;
      while (flag() === "-p" || flag() === "--") j++;
      return j;
    case "nice":
      while (flag()?.startsWith("-")) {
        const f = flag() as string;
        if (f === "--") return j + 1;
        j += f === "-n" || f === "--adjustment" ? 2 : 1;
      }
      return j;
    case "stdbuf":
      while (flag()?.startsWith("-")) {
        const f = flag() as string;
        if (f === "--") return j + 1;
        j += /^-[ioe]$/.test(f) ? 2 : 1;
      }
      return j;
    case "timeout":
      while (flag()?.startsWith("-")) {
        const f = flag() as string;
        if (f === "--") {
          j++;
          break;
        }
        j += f === "-s" || f === "-k" || f === "--signal" || f === "--kill-after" ? 2 : 1;
      }
      return j + 1; // the duration
    default:
      return undefined;
  }
}

/**
 * The value of a word after quote removal, or undefined when it contains an expansion
 * (parameter, command, arithmetic, glob-free literals only). A leading `~` stays as written.
 */
function wordValue(syntax: MvdanSyntax, word: SyntaxNode): string | undefined {
  let out = "";
  for (const part of word.Parts as SyntaxNode[]) {
    switch (syntax.NodeType(part)) {
      case "Lit":
        out += unescapeBare(part.Value as string);
        break;
      case "SglQuoted":
        out += part.Value as string;
        break;
      case "DblQuoted":
        for (const inner of part.Parts as SyntaxNode[]) {
          if (syntax.NodeType(inner) !== "Lit") return undefined;
          out += (inner.Value as string).replace(/\\([$`"\\\n])/g, (_m, c: string) => (c === "\n" ? "" : c));
        }
        break;
      default:
        return undefined;
    }
  }
  return out;
}

function unescapeBare(value: string): string {
  return value.replace(/\\([\s\S])/g, (_m, c: string) => (c === "\n" ? "" : c));
}
