import { basename } from "node:path";
import { expandGlob, pathsIn } from "./glob.ts";
import { runners } from "./runners.ts";
import { isDangerousEnv, WRAPPERS } from "./tables.ts";
import type { CommandOrigin, Dirs, Opaque, ShellCommand, ShellRedirect } from "./types.ts";
import { type Field, HOLE, holeField, literalField } from "./words.ts";

/** What a command reads on stdin. */
export type Stdin =
  | { readonly kind: "none" }
  | { readonly kind: "unknown" }
  | { readonly kind: "literal"; readonly text: string };

/** The parts of a simple command besides its words. */
export interface CommandBase {
  readonly assignments: readonly { readonly name: string; readonly value: Field }[];
  /** Assignments made by `export`/`declare`/`local`/`readonly`/`typeset`. */
  readonly declared?: readonly { readonly name: string; readonly value: Field }[];
  readonly redirects: readonly ShellRedirect[];
  readonly text: string;
  readonly origin: CommandOrigin;
  readonly dirs: Dirs;
  readonly stdin: Stdin;
  readonly substitutions: ShellCommand["substitutions"];
  /** Wrappers already peeled off by the caller (`find -exec`). */
  readonly via?: readonly string[] | undefined;
  /** Set when the parser's reading of the words may differ from bash's. */
  readonly anomaly: string | undefined;
}

/** What resolving a command needs from the analysis. */
export interface ResolveEnv {
  readonly home: string;
  readonly functions: ReadonlySet<string>;
  /** Content of a file the line wrote: text, null when unknown, undefined when not written. */
  written(path: string): string | null | undefined;
  emit(command: ShellCommand): void;
  addCode(command: ShellCommand, code: string): void;
  /** Analyses a literal script run by this command. */
  nested(
    text: string,
    origin: CommandOrigin,
    sameShell: boolean,
    stdin?: Stdin,
  ): { readonly ok: boolean; readonly commands: readonly ShellCommand[] };
}

/** The command name rules and classifiers use: the basename of argv[0], lower-cased. */
export function commandName(field: Field | undefined): string {
  if (!field) return "";
  return basename(field.text).toLowerCase();
}

/**
 * Turns a simple command's words into the commands it runs: wrappers are peeled off one by
 * one (each wrapper form is kept for deny rules), then what the innermost command runs in
 * turn (`sh -c`, `find -exec`, `git -c`, inline interpreter code...) is analysed. Every
 * command is emitted; the innermost is returned.
 */
export function resolveCommand(argv: readonly Field[], base: CommandBase, env: ResolveEnv): ShellCommand {
  let words = [...argv];
  let dirs = base.dirs;
  const via: string[] = [...(base.via ?? [])];
  const assignments = [...base.assignments];
  for (let guard = 0; guard < 16; guard++) {
    const first = words[0];
    if (!first?.known) break;
    const name = commandName(first);
    const spec = WRAPPERS[name] ?? (name === "coproc" ? WRAPPERS.nohup : undefined);
    if (!spec) break;
    const args = words.slice(1);
    if (name === "command" && args[0] && /^-[a-zA-Z]*[vV]/.test(args[0].text)) break;
    if (name === "flock" && args.some((a) => a.text === "-c" || a.text === "--command")) break;
    if (name === "coproc" && /^[{(]$/.test(args[1]?.text ?? "")) {
      // `coproc NAME { ...; }`: tree-sitter-bash does not parse it; analyse the body as a script.
      const body = args.slice(1).map((w) => (w.known ? w.text : '"$x"'));
      env.nested(`${body.join(" ")}${body[0] === "{" ? "; }" : ")"}`, base.origin, false);
      return finish(
        words,
        base,
        dirs,
        via,
        assignments,
        env,
        { reason: "coproc with a compound command is read only in part" },
        argv,
      );
    }
    if (name === "sudo" && args.some((a) => /^-[a-zA-Z]*[elK]$|^--(edit|list)$/.test(a.text))) break;
    let j = 1;
    let chdir: string | undefined;
    let split: string | undefined;
    while (j < words.length) {
      const w = words[j] as Field;
      const t = w.text;
      if (t === "--") {
        j++;
        break;
      }
      // env takes any NAME=value, names bash would refuse included (`BASH_FUNC_f%%=...`).
      if (spec.assignments && /^[^=-][^=]*=/.test(w.match)) {
        const eq = t.indexOf("=");
        const value = w.known
          ? literalField(t.slice(eq + 1))
          : { ...w, match: w.match.slice(w.match.indexOf("=") + 1), text: t.slice(eq + 1) };
        assignments.push({ name: t.slice(0, eq), value });
        j++;
        continue;
      }
      // `env -` is `env -i`.
      if (name === "env" && t === "-") {
        j++;
        continue;
      }
      if (!t.startsWith("-") || t === "-") break;
      const flag = t.includes("=") ? t.slice(0, t.indexOf("=")) : t;
      const valued = spec.valued.includes(flag) && !t.includes("=");
      const value = valued ? words[j + 1]?.text : t.includes("=") ? t.slice(t.indexOf("=") + 1) : undefined;
      if (name === "env" && (flag === "-C" || flag === "--chdir")) chdir = value;
      if (name === "env" && (flag === "-S" || flag === "--split-string" || /^-[a-zA-Z]*S$/.test(t))) {
        // `--split-string=TEXT` carries its text; `-S TEXT`, `-iS TEXT` take the next word.
        const inline = t.includes("=");
        split = inline ? value : words[j + 1]?.text;
        j += inline ? 1 : 2;
        break;
      }
      if (name === "env" && /^-[a-zA-Z]*S./.test(t)) {
        split = t.slice(t.indexOf("S") + 1);
        j += 1;
        break;
      }
      j += valued ? 2 : 1;
    }
    j = Math.min(j + (spec.leading ?? 0), words.length);
    if (split !== undefined) {
      emitWrapper(words, base, dirs, via, spec.transparent, env);
      via.push(name);
      const rest = words.slice(j).map((w) => (w.known ? shellQuote(w.text) : '"$x"'));
      const nested = env.nested([split, ...rest].join(" "), base.origin, false);
      return finish(
        words.slice(0, 0),
        base,
        dirs,
        via,
        assignments,
        env,
        nested.ok ? undefined : { reason: "env -S splits a string the analysis cannot read" },
        words,
      );
    }
    if (j >= words.length) break;
    emitWrapper(words, base, dirs, via, spec.transparent, env);
    via.push(name);
    if (chdir !== undefined) dirs = { known: pathsIn(chdir, dirs), unknown: dirs.unknown };
    if (name === "xargs" || name === "parallel") {
      // The wrapped command gets arguments from stdin: unknown.
      const inner = words.slice(j);
      const cut = inner.findIndex((w) => w.text === ":::" || w.text === "::::");
      const fed =
        base.stdin.kind === "literal"
          ? base.stdin.text
              .split(/\s+/)
              .filter((w) => w !== "")
              .map(literalField)
          : [holeField("…")];
      const command = cut >= 0 ? inner.slice(0, cut) : inner;
      // parallel's `::: a b` are the inputs themselves (`::::` names files of them): they are
      // kept as arguments too, so a deny rule or the defense sees `/etc` in
      // `parallel rm -rf ::: /etc` (ADR 2002, round 3).
      const listed =
        cut >= 0 && inner[cut]?.text === ":::"
          ? inner.slice(cut + 1).filter((w) => !/^::::?\+?$/.test(w.text))
          : [];
      const token = placeholder(
        name,
        words.slice(1, j).map((w) => w.text),
      );
      if (token) {
        // The input goes where the placeholder is, the command name included.
        const lines =
          base.stdin.kind === "literal" ? base.stdin.text.split("\n").filter((l) => l.trim() !== "") : [];
        const one = name === "xargs" && lines.length === 1 ? (lines[0] as string).trim() : undefined;
        words = [
          ...command.map((w) =>
            !token.test(w.text)
              ? w
              : one !== undefined && w.known
                ? literalField(w.text.replace(new RegExp(token.source, "g"), one))
                : holeField(w.text),
          ),
          ...listed,
        ];
        continue;
      }
      words = [...command, ...(listed.length > 0 ? listed : fed)];
      continue;
    }
    if (
      (name === "sudo" || name === "doas") &&
      words.slice(1, j).some((a) => /^-[a-zA-Z]*[si]$/.test(a.text))
    ) {
      const script = words
        .slice(j)
        .map((w) => w.text)
        .join(" ");
      const nested = env.nested(script, base.origin, false);
      return finish(
        [],
        base,
        dirs,
        via,
        assignments,
        env,
        nested.ok ? undefined : { reason: "runs a shell command that cannot be parsed" },
        words,
      );
    }
    words = words.slice(j);
  }
  if (words.length === 0) words = [...argv];
  return finish(words, base, dirs, via, assignments, env, undefined, argv);
}

/** Emits the innermost command with what it runs analysed, and returns it. */
function finish(
  words: Field[],
  base: CommandBase,
  dirs: Dirs,
  via: string[],
  assignments: { name: string; value: Field }[],
  env: ResolveEnv,
  preset: Opaque | undefined,
  original: readonly Field[],
): ShellCommand {
  if (words.length === 0) {
    const cmd = build(original, base, dirs, via.slice(0, -1), assignments, "run", preset);
    env.emit(cmd);
    return cmd;
  }
  let opaque = preset ?? opaqueWord(words[0] as Field, base);
  opaque ??= dangerousAssignments([...assignments, ...(base.declared ?? [])]);
  const draft = build(words, base, dirs, via, assignments, "run", opaque);
  const found = runners(draft, base, env);
  const cmd = found && !draft.opaque ? { ...draft, opaque: found } : draft;
  env.emit(cmd);
  return cmd;
}

/** Opaque when an assignment sets a variable that changes what commands run (`LD_PRELOAD`, `PATH`...). */
export function dangerousAssignments(
  assignments: readonly { name: string; value: Field }[],
): Opaque | undefined {
  const dangerous = assignments.filter((a) =>
    isDangerousEnv(a.name, a.value.known ? a.value.text : undefined),
  );
  if (dangerous.length === 0) return undefined;
  const pin = dangerous.map((a) => `${a.name}=${a.value.match}`).join(" ");
  return {
    reason: `it sets ${dangerous.map((a) => a.name).join(", ")}, which changes what runs`,
    pin: pin.includes(HOLE) ? undefined : pin,
  };
}

function opaqueWord(first: Field, base: CommandBase): Opaque | undefined {
  if (base.anomaly) return { reason: `the parser and bash may read it differently (${base.anomaly})` };
  // A bare `{` or `}` is a reserved word, never a command: the grammar misread the line.
  if (first.known && (first.match === "{" || first.match === "}") && first.text === first.match)
    return { reason: "the parser and bash may read it differently (a brace where a command should be)" };
  if (first.dynamic) return { reason: "its command name is only known at run time" };
  if (first.glob) return { reason: "its command name is a pattern" };
  return undefined;
}

function emitWrapper(
  words: readonly Field[],
  base: CommandBase,
  dirs: Dirs,
  via: readonly string[],
  transparent: boolean,
  env: ResolveEnv,
): void {
  const form = build(
    words,
    base,
    dirs,
    [...via],
    [...base.assignments],
    transparent ? "wrapper" : "run",
    undefined,
  );
  env.emit({ ...form, outer: true });
}

/** Builds a command record; glob and unknown arguments get their matches on this machine appended. */
export function build(
  words: readonly Field[],
  base: CommandBase,
  dirs: Dirs,
  via: readonly string[],
  assignments: readonly { name: string; value: Field }[],
  role: ShellCommand["role"],
  opaque: Opaque | undefined,
): ShellCommand {
  const first = words[0];
  const args: string[] = [];
  for (const w of words.slice(1)) {
    args.push(w.text);
    // Patterns expand as the shell would; an unknown part of a path may name anything there.
    if ((w.glob || (w.dynamic && w.match.includes("/"))) && w.match !== HOLE)
      args.push(...expandGlob(w.match, dirs.known));
  }
  return {
    argv: words,
    name: commandName(first),
    path: first?.text ?? "",
    args,
    assignments,
    redirects: base.redirects,
    via,
    text: base.text,
    substitutions: base.substitutions,
    dirs,
    origin: base.origin,
    role,
    ...(opaque ? { opaque } : {}),
  };
}

/** Quotes a word for a shell script the analysis writes itself. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:@%+=,{}-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * The placeholder the input replaces in xargs' command (`-I R`, `-i[R]`, `--replace[=R]`,
 * `{}` by default), or in parallel's (`{}`, `{.}`, `{1}`... always); undefined: the input is
 * appended instead.
 */
function placeholder(name: string, options: readonly string[]): RegExp | undefined {
  if (name === "parallel") return /\{[^}]*\}/;
  let token: string | undefined;
  for (let i = 0; i < options.length; i++) {
    const t = options[i] as string;
    if (t === "-I") token = options[i + 1];
    else if (t.startsWith("-I")) token = t.slice(2);
    else if (/^-[a-zA-Z]*i/.test(t) && !t.startsWith("--")) token = t.slice(t.indexOf("i") + 1) || "{}";
    else if (t === "--replace") token = "{}";
    else if (t.startsWith("--replace=")) token = t.slice(10);
  }
  return token ? new RegExp(token.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")) : undefined;
}
