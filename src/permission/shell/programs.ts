import { COMPRESSORS, GIT_COMMAND_KEYS } from "./tables.ts";
import type { Opaque, ShellCommand } from "./types.ts";
import { type CommandBase, type ResolveEnv, resolveCommand, shellQuote } from "./unwrap.ts";
import { type Field, HOLE, holeField } from "./words.ts";

/** Programs that run other programs through their own options: find, git, awk, sed, ssh, tar, containers. */

/** What a runner check sees. */
export interface Ctx {
  readonly cmd: ShellCommand;
  readonly base: CommandBase;
  readonly env: ResolveEnv;
}

/** Opaque when a nested script did not parse. */
export function parsed(result: { readonly ok: boolean }, what: string): Opaque | undefined {
  return result.ok ? undefined : { reason: `${what} runs a script that cannot be parsed` };
}

export function findExec(ctx: Ctx, args: readonly Field[]): void {
  for (let i = 0; i < args.length; i++) {
    if (!/^-(exec|execdir|ok|okdir)$/.test((args[i] as Field).text)) continue;
    let end = i + 1;
    while (end < args.length && (args[end] as Field).text !== ";" && (args[end] as Field).text !== "+") end++;
    // `{}` is each file found: shown under the starting points, unknown for rules.
    const starts = args
      .slice(
        0,
        args.findIndex((a) => /^[-(!]/.test(a.text)),
      )
      .map((a) => a.text);
    const found = (starts.length > 0 ? starts : ["."]).map((d) => `${d.replace(/\/+$/, "")}/*`);
    const sub = args
      .slice(i + 1, end)
      .flatMap((a) =>
        a.text.includes("{}")
          ? found.map((f) => ({ ...holeField(f), text: a.text.replaceAll("{}", f) }))
          : [a],
      );
    if (sub.length > 0)
      resolveCommand(sub, { ...ctx.base, assignments: [], via: [...ctx.cmd.via, "find"] }, ctx.env);
    i = end;
  }
}

const GIT_VALUED = new Set([
  "-C",
  "--git-dir",
  "--work-tree",
  "--namespace",
  "--super-prefix",
  "--config-env",
  "-c",
]);

export function git(ctx: Ctx, args: readonly Field[]): Opaque | undefined {
  const texts = args.map((a) => a.text);
  let i = 0;
  const commandKey = (kv: string | undefined) => GIT_COMMAND_KEYS.test((kv ?? "").split("=")[0] ?? "");
  while (i < texts.length && (texts[i] as string).startsWith("-")) {
    const t = texts[i] as string;
    if ((t === "-c" || t === "--config-env") && (!args[i + 1]?.known || commandKey(texts[i + 1])))
      return { reason: `git ${t} ${texts[i + 1] ?? ""} sets a command git runs`.trim() };
    if (t.startsWith("--config-env=") && commandKey(t.slice(13)))
      return { reason: `git ${t} sets a command git runs` };
    if (t.startsWith("--exec-path="))
      return { reason: "git --exec-path runs git's commands from another directory" };
    i += GIT_VALUED.has(t) ? 2 : 1;
  }
  const sub = texts[i];
  const rest = args.slice(i + 1);
  const restTexts = texts.slice(i + 1);
  const optionValue = (names: RegExp): Field | undefined => {
    const k = restTexts.findIndex((t) => names.test(t));
    if (k < 0) return undefined;
    const t = restTexts[k] as string;
    return t.includes("=")
      ? { ...(rest[k] as Field), text: t.slice(t.indexOf("=") + 1), match: t.slice(t.indexOf("=") + 1) }
      : rest[k + 1];
  };
  switch (sub) {
    case "clone":
    case "fetch":
    case "pull":
    case "ls-remote":
    case "push":
    case "archive":
    case "submodule": {
      if (
        restTexts.some(
          (t) =>
            /^--(upload-pack|receive-pack|exec|template)(=|$)/.test(t) || (sub === "clone" && t === "-u"),
        )
      )
        return { reason: `git ${sub} is told which program to run` };
      const config = restTexts.findIndex((t) => t === "-c" || t === "--config" || t.startsWith("--config="));
      if (
        config >= 0 &&
        commandKey(
          restTexts[config]?.startsWith("--config=") ? restTexts[config]?.slice(9) : restTexts[config + 1],
        )
      )
        return { reason: `git ${sub} sets a command git runs` };
      if (sub === "submodule" && restTexts.includes("foreach")) {
        const script = rest.slice(restTexts.indexOf("foreach") + 1).filter((a) => !a.text.startsWith("-"));
        if (!script.every((a) => a.known))
          return { reason: "git submodule foreach runs text only known at run time" };
        return parsed(
          ctx.env.nested(script.map((a) => a.text).join(" "), ctx.base.origin, false),
          "git submodule foreach",
        );
      }
      return undefined;
    }
    case "rebase":
    case "difftool":
    case "mergetool": {
      const script = optionValue(/^(-x|--exec|--extcmd)(=|$)/);
      if (!script) return undefined;
      if (!script.known) return { reason: `git ${sub} runs text only known at run time` };
      return parsed(ctx.env.nested(script.text, ctx.base.origin, false), `git ${sub}`);
    }
    case "bisect":
      if (restTexts[0] === "run" && rest.length > 1)
        resolveCommand(
          rest.slice(1),
          { ...ctx.base, assignments: [], via: [...ctx.cmd.via, "git"] },
          ctx.env,
        );
      return undefined;
    case "filter-branch":
      for (let k = 0; k < restTexts.length; k++) {
        if (!/^--[a-z-]+-filter$/.test(restTexts[k] as string)) continue;
        const script = rest[k + 1];
        if (!script?.known) return { reason: "git filter-branch runs a filter only known at run time" };
        const result = parsed(ctx.env.nested(script.text, ctx.base.origin, false), "git filter-branch");
        if (result) return result;
      }
      return undefined;
    default:
      return undefined;
  }
}

const AWK_RUNS =
  /system\s*\(|\|\s*&?\s*getline|\b(print|printf)\b[^;}\n]*(\||>)|\bclose\s*\(|@load|ENVIRON\s*\[/;

export function awk(ctx: Ctx, args: readonly Field[]): Opaque | undefined {
  let i = 0;
  while (i < args.length) {
    const t = (args[i] as Field).text;
    if (t === "--") {
      i++;
      break;
    }
    if (t === "-f" || t.startsWith("--file")) return undefined;
    if (!t.startsWith("-")) break;
    i += /^-[Fvf]$|^--(field-separator|assign|include|load)$/.test(t) ? 2 : 1;
  }
  const program = args[i];
  if (!program) return undefined;
  if (!program.known) return { reason: `${ctx.cmd.name} runs a program only known at run time` };
  if (!AWK_RUNS.test(program.text)) return undefined;
  ctx.env.addCode(ctx.cmd, program.text);
  for (const literal of stringLiterals(program.text)) ctx.env.nested(literal, "remote", false);
  return { reason: `the ${ctx.cmd.name} program runs commands or writes files` };
}

export function sed(args: readonly Field[]): Opaque | undefined {
  const scripts: Field[] = [];
  let file = false;
  let operand: Field | undefined;
  for (let i = 0; i < args.length; i++) {
    const t = (args[i] as Field).text;
    if (t === "-e" || t === "--expression") scripts.push(args[++i] as Field);
    else if (t.startsWith("--expression=")) scripts.push({ ...(args[i] as Field), text: t.slice(13) });
    else if (t === "-f" || t.startsWith("--file")) file = true;
    else if (!t.startsWith("-") && operand === undefined) operand = args[i];
  }
  if (scripts.length === 0 && !file && operand) scripts.push(operand);
  for (const s of scripts) {
    if (!s?.known) return { reason: "sed runs a script only known at run time" };
    if (sedRuns(s.text)) return { reason: "the sed script runs commands or writes files (e, w)" };
  }
  return undefined;
}

/** True when a sed script uses `e` (execute), `w`/`W` (write a file) or the `e`/`w` flags of `s`. */
function sedRuns(script: string): boolean {
  const address =
    /^\s*(?:\d+|\$|\/(?:\\.|[^/\\])*\/|\\(.)(?:\\.|(?!\1).)*\1)?(?:\s*,\s*(?:\d+|\$|\/(?:\\.|[^/\\])*\/|[+~]\d+))?\s*!?\s*/;
  for (const raw of script.split(/[;\n]/)) {
    const cmd = raw.replace(/^[\s{}]+/, "").replace(address, "");
    const c = cmd[0];
    if (c === "e" || c === "w" || c === "W") return true;
    if (c === "s" && cmd.length > 1) {
      const d = cmd[1] as string;
      let parts = 0;
      let k = 2;
      for (; k < cmd.length && parts < 2; k++) {
        if (cmd[k] === "\\") k++;
        else if (cmd[k] === d) parts++;
      }
      if (/[ew]/.test(cmd.slice(k).split(/\s/)[0] ?? "")) return true;
    }
  }
  return false;
}

const SSH_VALUED = new Set([
  "-b",
  "-c",
  "-D",
  "-E",
  "-e",
  "-F",
  "-I",
  "-i",
  "-J",
  "-L",
  "-l",
  "-m",
  "-O",
  "-o",
  "-p",
  "-P",
  "-Q",
  "-R",
  "-S",
  "-W",
  "-w",
]);

export function ssh(ctx: Ctx, args: readonly Field[]): Opaque | undefined {
  const texts = args.map((a) => a.text);
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i] as string;
    const option = t === "-o" ? texts[i + 1] : t.startsWith("-o") ? t.slice(2) : undefined;
    if (option !== undefined) {
      const m = /^\s*(ProxyCommand|LocalCommand|KnownHostsCommand|RemoteCommand)\s*[= ]\s*([\s\S]*)$/i.exec(
        option,
      );
      if (m && !/^none$/i.test(m[2] as string)) {
        const origin = /^RemoteCommand$/i.test(m[1] as string) ? "remote" : ctx.base.origin;
        const result = parsed(ctx.env.nested(m[2] as string, origin, false), `ssh ${m[1]}`);
        if (result) return result;
      }
    }
    if (ctx.cmd.name !== "ssh" && t === "-S")
      return { reason: `${ctx.cmd.name} -S runs another program as ssh` };
  }
  if (ctx.cmd.name !== "ssh") return undefined;
  let i = 0;
  while (i < texts.length && (texts[i] as string).startsWith("-"))
    i += SSH_VALUED.has(texts[i] as string) ? 2 : 1;
  const remote = args.slice(i + 1);
  if (remote.length > 0)
    ctx.env.nested(remote.map((a) => (a.known ? a.text : '"$x"')).join(" "), "remote", false);
  return undefined;
}

export function tar(texts: readonly string[]): Opaque | undefined {
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i] as string;
    if (
      /^--(to-command|checkpoint-action|info-script|new-volume-script|rsh-command)(=|$)/.test(t) ||
      t === "-F"
    )
      return { reason: `tar ${t.split("=")[0]} runs a program` };
    const program =
      t === "-I"
        ? texts[i + 1]
        : t.startsWith("--use-compress-program=")
          ? t.slice(23)
          : t === "--use-compress-program"
            ? texts[i + 1]
            : undefined;
    if (program !== undefined && !COMPRESSORS.test(program))
      return { reason: `tar runs ${program} as its compressor` };
  }
  return undefined;
}

export function containerExec(ctx: Ctx, args: readonly Field[]): void {
  const texts = args.map((a) => a.text);
  if (texts[0] !== "exec") return;
  const dash = texts.indexOf("--");
  let start: number;
  if (dash >= 0) start = dash + 1;
  else {
    let i = 1;
    while (i < texts.length && (texts[i] as string).startsWith("-"))
      i += /^-(e|u|w|c|n|-env|-user|-workdir|-container|-namespace)$/.test(texts[i] as string) ? 2 : 1;
    start = i + 1;
  }
  const inner = args.slice(start);
  if (inner.length > 0)
    ctx.env.nested(inner.map((a) => (a.known ? shellQuote(a.text) : '"$x"')).join(" "), "remote", false);
}

/** String literals in interpreter code (single, double or backtick quoted), for a look at shell strings inside. */
export function stringLiterals(code: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|`((?:[^`\\]|\\.)*)`/g;
  for (let m = re.exec(code); m; m = re.exec(code)) {
    const value = (m[1] ?? m[2] ?? m[3] ?? "").replace(/\\(.)/g, "$1");
    if (/\s/.test(value.trim()) && !value.includes(HOLE)) out.push(value);
  }
  return out;
}
