import { basename } from "node:path";
import { pathsIn } from "./glob.ts";
import type { CommandOrigin, Dirs, ShellCommand } from "./types.ts";
import type { Stdin } from "./unwrap.ts";
import { decodeAnsiC } from "./words.ts";

/** Where a statement runs within the line. */
export interface Frame {
  /** True when the statement certainly runs, in this shell, after what came before. */
  readonly definite: boolean;
  readonly origin: CommandOrigin;
  /** What the statement reads on stdin (a pipe or here-document). */
  readonly stdin: Stdin;
}

/** The state a command changes for the rest of the line. */
export interface EffectState {
  dirs: Dirs;
  readonly vars: Map<string, string | null>;
  readonly files: Map<string, string | null>;
  readonly sources: Map<string, ShellCommand[]>;
  readonly home: string;
  readonly cwd: string | undefined;
}

/**
 * Applies what a command does to the rest of the line: `cd`/`pushd` change where later
 * paths resolve, assignments set variables (only when they certainly run), `read` and
 * friends make variables unknown, and writes remember which files now hold what.
 */
export function applyEffects(cmd: ShellCommand, frame: Frame, state: EffectState): void {
  if (cmd.argv.length === 0) {
    const from = cmd.substitutions.flatMap((sub) => sub.commands);
    for (const a of cmd.assignments) {
      state.vars.set(a.name, frame.definite && a.value.known ? a.value.text : null);
      if (from.length > 0) state.sources.set(a.name, from);
    }
  }
  if (frame.origin === "line") changeDirectory(cmd, state);
  const args = cmd.argv.slice(1);
  switch (cmd.name) {
    case "read":
    case "mapfile":
    case "readarray":
      for (const a of args) if (a.known && !a.text.startsWith("-")) state.vars.set(a.text, null);
      state.vars.set("REPLY", null);
      state.vars.set("MAPFILE", null);
      break;
    case "getopts":
      if (args[1]?.known) state.vars.set(args[1].text, null);
      break;
    case "printf": {
      const v = args.findIndex((a) => a.text === "-v");
      if (v >= 0 && args[v + 1]?.known) state.vars.set((args[v + 1] as { text: string }).text, null);
      break;
    }
    case "unset":
      for (const a of args) if (a.known && !a.text.startsWith("-")) state.vars.set(a.text, null);
      break;
    default:
      break;
  }
  rememberWrites(cmd, state);
}

function changeDirectory(cmd: ShellCommand, state: EffectState): void {
  if (cmd.name === "popd") {
    state.dirs = { known: state.dirs.known, unknown: true };
    return;
  }
  if (cmd.name !== "cd" && cmd.name !== "pushd") return;
  const operands = cmd.argv.slice(1).filter((a) => !/^-[LPe@]+$/.test(a.text) && a.text !== "--");
  const target = operands[0];
  let next: Dirs;
  if (!target) next = { known: [state.home], unknown: false };
  else if (!target.known || target.text === "-" || /^[+-]\d+$/.test(target.text))
    next = { known: [], unknown: true };
  else next = { known: pathsIn(target.text, state.dirs), unknown: state.dirs.unknown };
  // A cd that fails leaves the shell where it was: keep both.
  state.dirs = {
    known: [...new Set([...state.dirs.known, ...next.known])],
    unknown: state.dirs.unknown || next.unknown,
  };
}

function rememberWrites(cmd: ShellCommand, state: EffectState): void {
  if (cmd.redirects.some((r) => r.write && r.fd !== 2)) {
    const content = writtenContent(cmd, state);
    for (const r of cmd.redirects) {
      if (!r.write || r.fd === 2) continue;
      const known = r.op === ">" || r.op === ">|" ? content : null;
      for (const p of r.paths) state.files.set(p, known ?? null);
    }
  }
  if (!WRITERS.has(cmd.name)) return;
  for (const dest of writeDestinations(cmd))
    for (const p of pathsIn(dest, cmd.dirs)) state.files.set(p, null);
}

/** What `echo`/`printf` print, or a here-document `cat` copies; undefined when unknown. */
function writtenContent(cmd: ShellCommand, state: EffectState): string | undefined {
  if (cmd.name === "cat" && cmd.argv.length === 1) {
    const doc = cmd.redirects.find((r) => r.content !== undefined);
    return doc && !doc.contentDynamic ? doc.content : undefined;
  }
  const out = printed(cmd, state);
  return out === undefined ? undefined : `${out}\n`;
}

const WRITERS = new Set([
  "curl",
  "wget",
  "cp",
  "mv",
  "install",
  "ln",
  "rsync",
  "scp",
  "tee",
  "sponge",
  "touch",
  "dd",
  "git",
]);

/** Files a command writes besides its redirections (downloads, copies, tee). */
function writeDestinations(cmd: ShellCommand): string[] {
  const args = cmd.argv.slice(1).map((a) => a.text);
  const out: string[] = [];
  const operands = args.filter((a) => !a.startsWith("-"));
  switch (cmd.name) {
    case "curl":
      args.forEach((a, i) => {
        if (a === "-o" || a === "--output") out.push(args[i + 1] ?? "");
        else if (a.startsWith("--output=")) out.push(a.slice(9));
        else if (/^-[a-zA-Z]*o$/.test(a)) out.push(args[i + 1] ?? "");
        else if (/^-[a-zA-Z]*O$/.test(a) || a === "--remote-name")
          for (const u of args.filter((x) => /^[a-z]+:\/\//i.test(x))) out.push(urlName(u));
      });
      break;
    case "wget": {
      const o = args.findIndex((a) => /^-[a-zA-Z]*O$/.test(a));
      if (o >= 0) out.push(args[o + 1] ?? "");
      const eq = args.find((a) => a.startsWith("--output-document="));
      if (eq) out.push(eq.slice(18));
      if (o < 0 && !eq) for (const u of args.filter((x) => /^[a-z]+:\/\//i.test(x))) out.push(urlName(u));
      break;
    }
    case "cp":
    case "mv":
    case "install":
    case "ln":
    case "rsync":
    case "scp":
      if (operands.length >= 2) out.push(operands[operands.length - 1] as string);
      break;
    case "tee":
    case "sponge":
    case "touch":
      out.push(...operands);
      break;
    case "git": {
      // `git clone URL [DIR]` writes a directory of files from elsewhere (ADR 2002, round 3).
      const clone = args.indexOf("clone");
      if (clone < 0) break;
      const words: string[] = [];
      for (let i = clone + 1; i < args.length; i++) {
        const a = args[i] as string;
        if (
          /^(--depth|-b|--branch|-o|--origin|-c|--config|--reference|-j|--jobs|--filter|--separate-git-dir|-u|--upload-pack|--template|--shallow-since|--shallow-exclude|--server-option)$/.test(
            a,
          )
        )
          i++;
        else if (!a.startsWith("-")) words.push(a);
      }
      const [url, dir] = words;
      if (url) out.push(dir ?? urlName(url).replace(/\.git$/, ""));
      break;
    }
    case "dd": {
      const of = args.find((a) => a.startsWith("of="));
      if (of) out.push(of.slice(3));
      break;
    }
    default:
      break;
  }
  return out.filter((f) => f !== "" && f !== "-");
}

function urlName(url: string): string {
  return basename(url.replace(/[?#].*$/, "").replace(/\/+$/, "")) || "index.html";
}

/** The output of a command whose output is plain text from its words (`echo`, `printf`, `pwd`). */
export function staticOutput(
  cmd: ShellCommand,
  state: { readonly cwd: string | undefined },
): string | undefined {
  if (cmd.via.length > 0 || cmd.redirects.some((r) => r.write && r.fd !== 2)) return undefined;
  if (cmd.name === "cat" && cmd.argv.length === 1) {
    const doc = cmd.redirects.find((r) => r.content !== undefined);
    return doc && !doc.contentDynamic ? doc.content : undefined;
  }
  return printed(cmd, state);
}

function printed(cmd: ShellCommand, state: { readonly cwd: string | undefined }): string | undefined {
  const args = cmd.argv.slice(1);
  if (cmd.opaque || !args.every((a) => a.known)) return undefined;
  const words = args.map((a) => a.text);
  switch (cmd.name) {
    case "pwd":
      return state.cwd;
    case "echo": {
      let escapes = false;
      while (/^-[neE]+$/.test(words[0] ?? "")) {
        const flags = words.shift() as string;
        if (flags.includes("e")) escapes = true;
      }
      const text = words.join(" ");
      // The trailing newline is dropped: substitutions strip it, and files get one added.
      return escapes ? decodeAnsiC(text) : text;
    }
    case "printf":
      return printf(words);
    default:
      return undefined;
  }
}

/** A small printf: `%s`, `%b`, `%d`, `%c`, `%%` and backslash escapes; undefined for anything else. */
export function printf(words: readonly string[]): string | undefined {
  const [format, ...args] = words;
  if (format === undefined || format === "-v") return undefined;
  let out = "";
  let next = 0;
  do {
    let used = false;
    for (let i = 0; i < format.length; i++) {
      const ch = format[i] as string;
      if (ch === "\\") {
        const m = /^\\(x[0-9a-fA-F]{1,2}|0?[0-7]{1,3}|[\s\S])/.exec(format.slice(i)) as RegExpExecArray;
        out += decodeAnsiC(`\\${(m[1] as string).replace(/^0(?=[0-7])/, "")}`);
        i += m[0].length - 1;
      } else if (ch === "%") {
        const spec = format[i + 1];
        i++;
        if (spec === "%") out += "%";
        else if (spec === "s" || spec === "b" || spec === "d" || spec === "i" || spec === "c") {
          const arg = args[next++] ?? "";
          used = true;
          if (spec === "s") out += arg;
          else if (spec === "b") out += decodeAnsiC(arg);
          else if (spec === "c") out += arg.slice(0, 1);
          else if (/^-?\d*$/.test(arg)) out += String(Number(arg || 0));
          else return undefined;
        } else return undefined;
      } else out += ch;
    }
    if (!used) break;
  } while (next < args.length);
  return out;
}
