/**
 * A small, forgiving parser for POSIX/bash command lines, written for analysis rather
 * than execution. It splits lists (`;` `&&` `||` `&` newlines), pipelines (`|` `|&`),
 * subshells and brace groups; dequotes words (single, double, `$'...'` ANSI-C); collects
 * redirects and here-documents; and parses `$(...)`, backticks and `<(...)` / `>(...)`
 * recursively. Unterminated constructs are closed at the end of input instead of failing:
 * the shell would refuse them, and the classifier should still see what is there.
 */

/** A parsed script: pipelines in source order. */
export interface Script {
  readonly pipelines: Pipeline[];
}

/** Commands connected by `|`; `text` is the source slice. */
export interface Pipeline {
  readonly commands: SimpleCommand[];
  readonly text: string;
}

/** One command: its words, redirects and leading `NAME=value` assignments. */
export interface SimpleCommand {
  readonly words: Word[];
  readonly redirects: Redirect[];
  readonly assignments: Assignment[];
  readonly text: string;
}

/** A `NAME=value` word in front of a command (or alone). */
export interface Assignment {
  readonly name: string;
  readonly value: Word;
}

/** A dequoted word. `subs` are the scripts of substitutions inside it. */
export interface Word {
  readonly text: string;
  readonly subs: Substitution[];
}

/** A `$(...)` / backtick (`command`) or `<(...)` / `>(...)` (`process`) substitution. */
export interface Substitution {
  readonly kind: "command" | "process";
  readonly script: Script;
  readonly text: string;
}

/** A redirect such as `2>&1`, `> file`, `<<EOF` (with its body) or `<<< word`. */
export interface Redirect {
  /** The operator without the fd: `>`, `>>`, `>|`, `&>`, `&>>`, `<`, `<>`, `<<`, `<<-`, `<<<`, `>&`, `<&`. */
  readonly op: string;
  readonly fd: number | undefined;
  readonly target: Word;
  /** The body of a here-document. */
  readonly heredoc?: string;
}

const MAX_DEPTH = 12;

type Token =
  | { kind: "word"; word: Word; start: number; end: number }
  | { kind: "op"; op: string; start: number; end: number }
  | { kind: "redir"; op: string; fd: number | undefined; start: number; end: number };

const REDIR_OPS = ["&>>", "<<<", "<<-", "&>", ">>", ">|", "<>", "<<", ">&", "<&", ">", "<"];
const LIST_OPS = ["&&", "||", ";;", "|&", ";", "|", "&", "(", ")"];

/** Parses a command line or script. Never throws. */
export function parseShell(source: string, depth = 0): Script {
  if (depth > MAX_DEPTH) return { pipelines: [] };
  const tokens = new Lexer(source, depth).run();
  return group(tokens, source);
}

class Lexer {
  private i = 0;
  private readonly tokens: Token[] = [];
  private readonly pendingHeredocs: { delimiter: string; strip: boolean; index: number }[] = [];
  private readonly src: string;
  private readonly depth: number;

  constructor(src: string, depth: number) {
    this.src = src;
    this.depth = depth;
  }

  run(): Token[] {
    const s = this.src;
    while (this.i < s.length) {
      const c = s[this.i] as string;
      if (c === " " || c === "\t") {
        this.i++;
        continue;
      }
      if (c === "\n") {
        this.tokens.push({ kind: "op", op: "\n", start: this.i, end: this.i + 1 });
        this.i++;
        this.readHeredocBodies();
        continue;
      }
      if (c === "#") {
        while (this.i < s.length && s[this.i] !== "\n") this.i++;
        continue;
      }
      const fdMatch = /^(\d+)(?=[<>])/.exec(s.slice(this.i, this.i + 4));
      const at = fdMatch ? this.i + (fdMatch[1] as string).length : this.i;
      const redir = REDIR_OPS.find((op) => s.startsWith(op, at));
      if (redir && !s.startsWith("<(", at) && !s.startsWith(">(", at)) {
        const start = this.i;
        this.i = at + redir.length;
        this.tokens.push({
          kind: "redir",
          op: redir,
          fd: fdMatch ? Number(fdMatch[1]) : undefined,
          start,
          end: this.i,
        });
        if (redir === "<<" || redir === "<<-") this.queueHeredoc(redir === "<<-");
        continue;
      }
      const op = LIST_OPS.find((o) => s.startsWith(o, this.i));
      if (op) {
        this.tokens.push({ kind: "op", op, start: this.i, end: this.i + op.length });
        this.i += op.length;
        continue;
      }
      const start = this.i;
      const word = this.readWord();
      this.tokens.push({ kind: "word", word, start, end: this.i });
    }
    return this.tokens;
  }

  private queueHeredoc(strip: boolean): void {
    const s = this.src;
    while (s[this.i] === " " || s[this.i] === "\t") this.i++;
    const start = this.i;
    const word = this.readWord();
    this.tokens.push({ kind: "word", word, start, end: this.i });
    this.pendingHeredocs.push({ delimiter: word.text, strip, index: this.tokens.length - 1 });
  }

  private readHeredocBodies(): void {
    const s = this.src;
    for (const doc of this.pendingHeredocs.splice(0)) {
      const lines: string[] = [];
      while (this.i < s.length) {
        let end = s.indexOf("\n", this.i);
        if (end < 0) end = s.length;
        let line = s.slice(this.i, end);
        this.i = Math.min(end + 1, s.length);
        if (doc.strip) line = line.replace(/^\t+/, "");
        if (line === doc.delimiter) break;
        lines.push(line);
      }
      const token = this.tokens[doc.index];
      if (token?.kind === "word") (token as { heredoc?: string }).heredoc = lines.join("\n");
    }
  }

  /** Reads one word up to an unquoted blank or operator. */
  private readWord(): Word {
    const s = this.src;
    let text = "";
    const subs: Substitution[] = [];
    while (this.i < s.length) {
      const c = s[this.i] as string;
      if (c === " " || c === "\t" || c === "\n") break;
      if (";&|()".includes(c)) break;
      if ((c === "<" || c === ">") && s[this.i + 1] === "(") {
        const inner = this.readBalanced(this.i + 2);
        subs.push({ kind: "process", script: parseShell(inner.text, this.depth + 1), text: inner.text });
        text += "/dev/fd/63";
        this.i = inner.end;
        continue;
      }
      if (c === "<" || c === ">") break;
      if (c === "\\") {
        text += s[this.i + 1] ?? "";
        this.i += 2;
        continue;
      }
      if (c === "'") {
        const end = s.indexOf("'", this.i + 1);
        const stop = end < 0 ? s.length : end;
        text += s.slice(this.i + 1, stop);
        this.i = stop + 1;
        continue;
      }
      if (c === "$" && s[this.i + 1] === "'") {
        const [value, next] = readAnsiC(s, this.i + 2);
        text += value;
        this.i = next;
        continue;
      }
      if (c === '"' || (c === "$" && s[this.i + 1] === '"')) {
        this.i += c === "$" ? 2 : 1;
        text += this.readDoubleQuoted(subs);
        continue;
      }
      if (c === "$" || c === "`") {
        text += this.readDollarOrBacktick(subs);
        continue;
      }
      text += c;
      this.i++;
    }
    return { text, subs };
  }

  private readDoubleQuoted(subs: Substitution[]): string {
    const s = this.src;
    let text = "";
    while (this.i < s.length && s[this.i] !== '"') {
      const c = s[this.i] as string;
      if (c === "\\" && '"\\$`\n'.includes(s[this.i + 1] ?? "")) {
        text += s[this.i + 1];
        this.i += 2;
      } else if (c === "$" || c === "`") {
        text += this.readDollarOrBacktick(subs);
      } else {
        text += c;
        this.i++;
      }
    }
    this.i++;
    return text;
  }

  /** `$(...)`, `$((...))`, `${...}`, `$NAME` or a backtick substitution at `this.i`. */
  private readDollarOrBacktick(subs: Substitution[]): string {
    const s = this.src;
    if (s[this.i] === "`") {
      let end = this.i + 1;
      while (end < s.length && s[end] !== "`") end += s[end] === "\\" ? 2 : 1;
      const inner = s.slice(this.i + 1, end).replace(/\\([`\\$])/g, "$1");
      subs.push({ kind: "command", script: parseShell(inner, this.depth + 1), text: inner });
      this.i = end + 1;
      return "$(…)";
    }
    if (s.startsWith("$((", this.i)) {
      const inner = this.readBalanced(this.i + 2);
      this.i = inner.end;
      return `$(${inner.text})`;
    }
    if (s[this.i + 1] === "(") {
      const inner = this.readBalanced(this.i + 2);
      subs.push({ kind: "command", script: parseShell(inner.text, this.depth + 1), text: inner.text });
      this.i = inner.end;
      return "$(…)";
    }
    if (s[this.i + 1] === "{") {
      const end = s.indexOf("}", this.i + 2);
      const stop = end < 0 ? s.length : end + 1;
      const out = s.slice(this.i, stop);
      this.i = stop;
      return out;
    }
    const m = /^\$(?:[A-Za-z_][A-Za-z0-9_]*|[0-9#?@*$!-])?/.exec(s.slice(this.i)) as RegExpExecArray;
    this.i += m[0].length;
    return m[0];
  }

  /** Reads from `start` (just after an opening paren) to the matching `)`, honouring quotes. */
  private readBalanced(start: number): { text: string; end: number } {
    const s = this.src;
    let depth = 1;
    let j = start;
    while (j < s.length) {
      const c = s[j];
      if (c === "\\") j += 2;
      else if (c === "'") {
        const end = s.indexOf("'", j + 1);
        j = end < 0 ? s.length : end + 1;
      } else if (c === '"') {
        j++;
        while (j < s.length && s[j] !== '"') j += s[j] === "\\" ? 2 : 1;
        j++;
      } else if (c === "(") {
        depth++;
        j++;
      } else if (c === ")") {
        depth--;
        if (depth === 0) return { text: s.slice(start, j), end: j + 1 };
        j++;
      } else j++;
    }
    return { text: s.slice(start), end: s.length };
  }
}

const ANSI_C_ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  a: "\u0007",
  b: "\b",
  e: "\u001b",
  E: "\u001b",
  f: "\f",
  v: "\v",
  "\\": "\\",
  "'": "'",
  '"': '"',
  "?": "?",
};

/** Decodes a `$'...'` string starting after the opening quote; returns [value, index after the closing quote]. */
function readAnsiC(s: string, start: number): [string, number] {
  let out = "";
  let i = start;
  while (i < s.length && s[i] !== "'") {
    if (s[i] !== "\\") {
      out += s[i];
      i++;
      continue;
    }
    const next = s[i + 1] ?? "";
    const hex = /^x([0-9a-fA-F]{1,2})/.exec(s.slice(i + 1));
    const uni = /^[uU]([0-9a-fA-F]{1,8})/.exec(s.slice(i + 1));
    const oct = /^([0-7]{1,3})/.exec(s.slice(i + 1));
    if (hex) {
      out += String.fromCharCode(Number.parseInt(hex[1] as string, 16));
      i += 1 + hex[0].length;
    } else if (uni) {
      out += String.fromCodePoint(Math.min(Number.parseInt(uni[1] as string, 16), 0x10ffff));
      i += 1 + uni[0].length;
    } else if (oct) {
      out += String.fromCharCode(Number.parseInt(oct[1] as string, 8));
      i += 1 + oct[0].length;
    } else {
      out += ANSI_C_ESCAPES[next] ?? next;
      i += 2;
    }
  }
  return [out, i + 1];
}

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;

/** Groups tokens into pipelines of simple commands; `(`, `)`, `{`, `}` only separate commands. */
function group(tokens: Token[], source: string): Script {
  const pipelines: Pipeline[] = [];
  let commands: SimpleCommand[] = [];
  let current:
    | { words: Word[]; redirects: Redirect[]; assignments: Assignment[]; start: number; end: number }
    | undefined;
  let pipeStart = -1;
  let pipeEnd = -1;
  const endCommand = () => {
    if (
      current &&
      (current.words.length > 0 || current.redirects.length > 0 || current.assignments.length > 0)
    ) {
      commands.push({
        words: current.words,
        redirects: current.redirects,
        assignments: current.assignments,
        text: source.slice(current.start, current.end),
      });
    }
    current = undefined;
  };
  const endPipeline = () => {
    endCommand();
    if (commands.length > 0) pipelines.push({ commands, text: source.slice(pipeStart, pipeEnd) });
    commands = [];
    pipeStart = -1;
  };
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k] as Token;
    if (t.kind === "op") {
      // Parentheses (subshells, `f()`, case patterns) end a command but not the pipeline:
      // `(curl x) | sh` still pipes curl into sh.
      if (t.op === "|" || t.op === "|&" || t.op === "(" || t.op === ")") endCommand();
      else endPipeline();
      continue;
    }
    if (pipeStart < 0) pipeStart = t.start;
    pipeEnd = t.end;
    current ??= { words: [], redirects: [], assignments: [], start: t.start, end: t.end };
    current.end = t.end;
    if (t.kind === "redir") {
      const next = tokens[k + 1];
      if (next?.kind === "word") {
        k++;
        current.end = next.end;
        pipeEnd = next.end;
        const heredoc = (next as { heredoc?: string }).heredoc;
        current.redirects.push({
          op: t.op,
          fd: t.fd,
          target: next.word,
          ...(heredoc !== undefined ? { heredoc } : {}),
        });
      }
      continue;
    }
    const text = t.word.text;
    if (current.words.length === 0 && (text === "{" || text === "}")) continue;
    const assignment = current.words.length === 0 ? ASSIGNMENT.exec(text) : null;
    if (assignment) {
      current.assignments.push({
        name: assignment[1] as string,
        value: { text: assignment[2] as string, subs: t.word.subs },
      });
    } else current.words.push(t.word);
  }
  endPipeline();
  return { pipelines };
}
