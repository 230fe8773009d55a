import { INLINE_CODE_FLAGS, INTERPRETERS, KEYWORDS, SHELLS, SSH_VALUED, WRAPPERS } from "./command-tables.ts";
import {
  type Substitution as ParsedSubstitution,
  parseShell,
  type Redirect,
  type Script,
  type SimpleCommand,
  type Word,
} from "./shell-parse.ts";

/**
 * What a command line runs, after wrappers are peeled off: every simple command (from the
 * top level, substitutions, `sh -c` strings, `eval`, `find -exec`, `xargs`, `ssh host cmd`,
 * here-documents fed to a shell, and shell strings inside interpreter code) becomes an
 * Invocation, and the pipelines they form are kept for flow rules (`curl | sh`).
 */
export interface Invocation {
  /** The command as written after unwrapping (`/usr/bin/rm`, `./install.sh`). */
  readonly path: string;
  /** Its basename, e.g. `rm`. Empty for assignment- or redirect-only commands. */
  readonly name: string;
  readonly args: readonly string[];
  /** Words of `args`, with their substitutions. */
  readonly argWords: readonly Word[];
  readonly redirects: readonly Redirect[];
  /** Wrappers removed in front of it (`sudo`, `env`, `timeout`...). */
  readonly via: readonly string[];
  /** Source text of the simple command it came from. */
  readonly text: string;
  /** Invocations of each substitution in its words and redirects (`$(...)`, `<(...)`). */
  readonly substitutions: readonly Substitution[];
}

/** The flattened invocations of one substitution. */
export interface Substitution {
  readonly kind: "command" | "process";
  readonly invocations: readonly Invocation[];
}

/** Everything a command line runs. */
export interface Analysis {
  readonly invocations: readonly Invocation[];
  /** Every pipeline with two or more commands, as invocations in order. */
  readonly pipelines: readonly (readonly Invocation[])[];
  /** Inline interpreter code (`python -c`, `perl -e`...) with the invocation that runs it. */
  readonly code: readonly { readonly invocation: Invocation; readonly code: string }[];
  /** Every shell source that was parsed: the command line and each nested script. */
  readonly scripts: readonly string[];
}

export { INTERPRETERS, SHELLS } from "./command-tables.ts";

/** The basename of a command path. */
export function baseCommand(word: string): string {
  const i = word.lastIndexOf("/");
  return i < 0 ? word : word.slice(i + 1);
}

/** Analyzes a normalized command line. Never throws. */
export function analyze(source: string): Analysis {
  const out: Out = { invocations: [], pipelines: [], code: [], scripts: [] };
  collectSource(source, new Map(), out, 0);
  return out;
}

type Out = {
  invocations: Invocation[];
  pipelines: Invocation[][];
  code: Analysis["code"][number][];
  scripts: string[];
  /** Files this command line writes with literal content (`echo ... > x.sh`, heredocs), by path. */
  written?: Map<string, string>;
};

/** Shell variables known so far, with the substitutions their values came from (`x=$(curl ...)`). */
type Vars = Map<string, Word>;

function collectSource(source: string, vars: Vars, out: Out, depth: number): void {
  if (depth > 8) return;
  out.scripts.push(source);
  collect(parseShell(source), vars, out, depth);
}

function collect(script: Script, vars: Vars, out: Out, depth: number): void {
  for (const pipeline of script.pipelines) {
    const stage: Invocation[] = [];
    for (const command of pipeline.commands) {
      const inv = toInvocation(command, vars, out, depth);
      if (inv) {
        stage.push(inv);
        out.invocations.push(inv);
        nested(inv, vars, out, depth);
      }
    }
    if (stage.length > 1) {
      out.pipelines.push(stage);
      // `echo 'rm -rf /' | sh`: the echoed text is the script.
      stage.forEach((inv, k) => {
        const prev = stage[k - 1];
        if (k > 0 && prev && (prev.name === "echo" || prev.name === "printf") && feedsShell(inv)) {
          const text = prev.args.filter((a) => !/^-[neE]+$/.test(a)).join(" ");
          collectSource(text.replace(/\\n/g, "\n").replace(/\\t/g, " "), new Map(vars), out, depth + 1);
        }
      });
    }
  }
}

/** Replaces known `$NAME` / `${NAME}` references; the word inherits the values' substitutions. */
function expand(word: Word, vars: Vars): Word {
  if (!word.text.includes("$")) return word;
  const subs: ParsedSubstitution[] = [...word.subs];
  const text = word.text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, a, b) => {
    const value = vars.get(a ?? b);
    if (!value) return m;
    subs.push(...value.subs);
    return value.text;
  });
  return { text, subs };
}

/** Unquoted-style word splitting for a command word that was only a variable (`c="rm -rf /"; $c`). */
function splitExpanded(original: readonly Word[], expanded: Word[]): Word[] {
  const first = original[0];
  const head = expanded[0];
  if (!first || !head || !/^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$/.test(first.text) || !/\s/.test(head.text))
    return expanded;
  const parts = head.text
    .trim()
    .split(/\s+/)
    .map((text, i) => ({ text, subs: i === 0 ? head.subs : [] }));
  return [...parts, ...expanded.slice(1)];
}

/** Collects the substitutions of `words` into `out` too, and returns them per substitution. */
function subsOf(words: readonly Word[], vars: Vars, out: Out, depth: number): Substitution[] {
  const subs: Substitution[] = [];
  for (const word of words) {
    for (const sub of word.subs) {
      const inner: Out = { invocations: [], pipelines: [], code: [], scripts: [] };
      out.scripts.push(sub.text);
      collect(sub.script, new Map(vars), inner, depth + 1);
      subs.push({ kind: sub.kind, invocations: inner.invocations });
      out.invocations.push(...inner.invocations);
      out.pipelines.push(...inner.pipelines);
      out.code.push(...inner.code);
      out.scripts.push(...inner.scripts);
    }
  }
  return subs;
}

function toInvocation(command: SimpleCommand, vars: Vars, out: Out, depth: number): Invocation | undefined {
  for (const a of command.assignments)
    if (command.words.length === 0) vars.set(a.name, expand(a.value, vars));
  const words = splitExpanded(
    command.words,
    command.words.map((w) => expand(w, vars)),
  );
  let i = 0;
  const via: string[] = [];
  const wrapperAt: number[] = [];
  while (i < words.length) {
    const w = (words[i] as Word).text;
    const base = baseCommand(w);
    if (KEYWORDS.has(w)) {
      i++;
      continue;
    }
    if (w === "function") {
      i += 2;
      continue;
    }
    if (w === "export" || w === "declare" || w === "local" || w === "readonly" || w === "typeset") {
      for (const arg of words.slice(i + 1)) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(arg.text);
        if (m) vars.set(m[1] as string, { text: m[2] as string, subs: arg.subs });
      }
    }
    const wrapper = WRAPPERS[base];
    if (!wrapper) break;
    if (base === "command" && /^-[a-zA-Z]*[vV]/.test(words[i + 1]?.text ?? "")) return undefined;
    if (base === "env" && words[i + 1]?.text === "-S" && words[i + 2]) {
      collectSource(words[i + 2]?.text ?? "", new Map(vars), out, depth + 1);
    }
    via.push(base);
    wrapperAt.push(i);
    i = skipOptions(words, i + 1, wrapper.valued, wrapper.leadingArgs ?? 0, base === "env");
    if (base === "watch" && i === words.length - 1) {
      collectSource((words[i] as Word).text, new Map(vars), out, depth + 1);
      return undefined;
    }
  }
  // A wrapper with nothing to wrap is the command itself (`env`, `sudo -i`, `time`).
  if (i >= words.length && wrapperAt.length > 0) {
    i = wrapperAt.pop() as number;
    via.pop();
  }
  const rest = words.slice(i);
  const first = rest[0];
  const redirectWords = command.redirects.map((r) => r.target);
  // Substitutions run even in assignment-only commands (`x=$(curl ...)`).
  const assignmentWords = command.assignments.map((a) => a.value);
  const substitutions = subsOf([...words, ...redirectWords, ...assignmentWords], vars, out, depth);
  if (!first && via.length === 0 && command.redirects.length === 0 && substitutions.length === 0)
    return undefined;
  return {
    path: first?.text ?? "",
    name: first ? baseCommand(first.text).toLowerCase() : "",
    args: rest.slice(1).map((w) => w.text),
    argWords: rest.slice(1),
    redirects: command.redirects,
    via,
    text: command.text,
    substitutions,
  };
}

function skipOptions(
  words: readonly Word[],
  start: number,
  valued: readonly string[],
  leadingArgs: number,
  env: boolean,
): number {
  let i = start;
  while (i < words.length) {
    const w = (words[i] as Word).text;
    if (w === "--") return i + 1 + leadingArgs;
    if (env && /^[A-Za-z_][A-Za-z0-9_]*=/.test(w)) {
      i++;
      continue;
    }
    if (!w.startsWith("-") || w === "-") break;
    const flag = w.includes("=") ? w.slice(0, w.indexOf("=")) : w;
    i += valued.includes(flag) && !w.includes("=") ? 2 : 1;
  }
  return Math.min(i + leadingArgs, words.length);
}

/** Re-enters nested command text: `sh -c`, `eval`, `su -c`, `ssh host cmd`, `find -exec`, heredocs, inline code. */
function nested(inv: Invocation, vars: Vars, out: Out, depth: number): void {
  const { name, args } = inv;
  const recurse = (text: string) => collectSource(text, new Map(vars), out, depth + 1);
  // Scripts written earlier in the same line and then run: analyze what they contain.
  out.written ??= new Map();
  for (const r of inv.redirects) {
    if (!/^(>|>>|>\|)$/.test(r.op) || r.fd !== undefined) continue;
    const heredoc = inv.redirects.find((h) => h.heredoc !== undefined)?.heredoc;
    if (name === "echo" || name === "printf")
      out.written.set(r.target.text.replace(/^\.\//, ""), args.join(" "));
    else if (name === "cat" && heredoc !== undefined)
      out.written.set(r.target.text.replace(/^\.\//, ""), heredoc);
  }
  const runs =
    SHELLS.has(name) || name === "source" || name === "."
      ? operands(args)[0]
      : inv.path.includes("/")
        ? inv.path
        : undefined;
  const content = runs === undefined ? undefined : out.written.get(runs.replace(/^\.\//, ""));
  if (content !== undefined) recurse(content);
  if (SHELLS.has(name) || name === "su") {
    const c = args.findIndex((a) => /^-[a-zA-Z]*c[a-zA-Z]*$/.test(a) || a === "--command");
    if (c >= 0 && args[c + 1] !== undefined) recurse(args[c + 1] as string);
    for (const r of inv.redirects)
      if (r.heredoc !== undefined && r.op.startsWith("<<") && r.op !== "<<<") recurse(r.heredoc);
    for (const r of inv.redirects) if (r.op === "<<<") recurse(r.target.text);
  }
  if (name === "eval") recurse(args.join(" "));
  if (name === "ssh" || name === "scp" || name === "sftp") {
    for (const a of args) {
      const m = /^(?:ProxyCommand|LocalCommand|RemoteCommand)=(.*)$/is.exec(a);
      if (m) recurse(m[1] as string);
    }
  }
  if (name === "ssh") {
    let i = 0;
    while (i < args.length && (args[i] as string).startsWith("-"))
      i += SSH_VALUED.has(args[i] as string) ? 2 : 1;
    if (args.length > i + 1) recurse(args.slice(i + 1).join(" "));
  }
  if (name === "find") {
    for (let i = 0; i < args.length; i++) {
      if (!/^-(exec|execdir|ok|okdir)$/.test(args[i] as string)) continue;
      let end = i + 1;
      while (end < args.length && args[end] !== ";" && args[end] !== "+") end++;
      const sub = args.slice(i + 1, end);
      if (sub.length > 0) recurse(sub.map(quoteWord).join(" "));
      i = end;
    }
  }
  if ((name === "docker" || name === "podman" || name === "kubectl" || name === "oc") && args[0] === "exec") {
    const dash = args.indexOf("--");
    if (dash >= 0)
      recurse(
        args
          .slice(dash + 1)
          .map(quoteWord)
          .join(" "),
      );
    else {
      let i = 1;
      while (i < args.length && (args[i] as string).startsWith("-"))
        i += /^-(e|u|w|-env|-user|-workdir)$/.test(args[i] as string) ? 2 : 1;
      recurse(
        args
          .slice(i + 1)
          .map(quoteWord)
          .join(" "),
      );
    }
  }
  if (/^(awk|gawk|mawk|nawk)$/.test(name)) {
    const program = operands(args)[0];
    if (program) for (const literal of stringLiterals(program)) recurse(literal);
  }
  if (name === "script") {
    const c = args.indexOf("-c");
    if (c >= 0 && args[c + 1]) recurse(args[c + 1] as string);
  }
  const family = name.replace(/[0-9.]+$/, "");
  const flags = INLINE_CODE_FLAGS[family];
  if (flags && INTERPRETERS.test(name)) {
    for (let i = 0; i < args.length; i++) {
      if (!flags.includes(args[i] as string) || args[i + 1] === undefined) continue;
      const code = args[i + 1] as string;
      out.code.push({ invocation: inv, code });
      for (const literal of stringLiterals(code)) recurse(literal);
    }
  }
}

/** A shell that reads its script from stdin (no `-c`, no script file). */
function feedsShell(inv: Invocation): boolean {
  if (!SHELLS.has(inv.name)) return false;
  return (
    !inv.args.some((a) => /^-[a-zA-Z]*c/.test(a)) && inv.args.filter((a) => !a.startsWith("-")).length === 0
  );
}

function operands(args: readonly string[]): string[] {
  const out: string[] = [];
  let rest = false;
  for (const a of args) {
    if (rest) out.push(a);
    else if (a === "--") rest = true;
    else if (!a.startsWith("-")) out.push(a);
  }
  return out;
}

function quoteWord(w: string): string {
  return /^[A-Za-z0-9_./:@%+=,{}-]+$/.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`;
}

/** String literals in interpreter code (single, double or backtick quoted). */
export function stringLiterals(code: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|`((?:[^`\\]|\\.)*)`/g;
  for (let m = re.exec(code); m; m = re.exec(code)) {
    const value = (m[1] ?? m[2] ?? m[3] ?? "").replace(/\\(.)/g, "$1");
    if (value.trim() !== "") out.push(value);
  }
  return out;
}
