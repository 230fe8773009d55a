import { isAbsolute } from "node:path";
import { pathsIn } from "./glob.ts";
import { COMPRESSORS, GIT_COMMAND_KEYS, inlineFlags, SHELLS } from "./tables.ts";
import type { Opaque, ShellCommand } from "./types.ts";
import { type CommandBase, type ResolveEnv, resolveCommand, shellQuote, type Stdin } from "./unwrap.ts";
import { type Field, HOLE, holeField } from "./words.ts";

/**
 * What the innermost command runs in turn: literal scripts (`sh -c`, `eval`, `trap`, a
 * file written earlier in the line, `find -exec`, `ssh -o ProxyCommand`...) are analysed
 * as commands of their own; what cannot be known (inline interpreter code, `git -c
 * core.pager=...`, `awk` calling `system()`, `sed`'s `e` command...) makes the command
 * opaque. Returns the reason it is opaque, if it is.
 */
export function runners(cmd: ShellCommand, base: CommandBase, env: ResolveEnv): Opaque | undefined {
  const args = cmd.argv.slice(1);
  const texts = args.map((a) => a.text);
  const ctx: Ctx = { cmd, base, env };
  const name = cmd.name;
  if (SHELLS.has(name)) return shell(ctx, args);
  if (inlineFlags(name)) return interpreter(ctx, args);
  if (cmd.path.includes("/")) {
    const found = fileScript(ctx, cmd.argv[0] as Field, false);
    if (found) return found;
  }
  switch (name) {
    case "eval":
      if (args.length === 0) return undefined;
      if (!args.every((a) => a.known)) return { reason: "eval runs text that is only known at run time" };
      return parsed(env.nested(texts.join(" "), base.origin, true), "eval");
    case "source":
    case ".":
      return args[0] ? fileScript(ctx, args[0], true) : undefined;
    case "trap":
      if (!args[0] || /^-[lp]$/.test(texts[0] as string) || texts[0] === "-") return undefined;
      if (!args[0].known) return { reason: "trap runs text that is only known at run time" };
      return parsed(env.nested(texts[0] as string, base.origin, true), "trap");
    case "alias":
      for (const a of args) {
        if (!a.known) return { reason: "alias defines text that is only known at run time" };
        const eq = a.text.indexOf("=");
        if (eq > 0) env.nested(a.text.slice(eq + 1), base.origin, true);
      }
      return undefined;
    case "hash":
      return texts.some((t) => /^-[a-zA-Z]*p/.test(t)) ? { reason: "hash -p changes which program a name runs" } : undefined;
    case "enable":
      return texts.some((t) => /^-[a-zA-Z]*f/.test(t)) ? { reason: "enable -f loads a builtin from a shared library" } : undefined;
    case "find":
      findExec(ctx, args);
      return undefined;
    case "git":
      return git(ctx, args);
    case "awk":
    case "gawk":
    case "mawk":
    case "nawk":
      return awk(ctx, args);
    case "sed":
    case "gsed":
      return sed(args);
    case "su":
    case "runuser":
    case "script":
    case "flock": {
      const c = texts.findIndex((t) => /^-[a-zA-Z]*c$/.test(t) || t === "--command" || t === "--session-command");
      const script = c >= 0 ? args[c + 1] : undefined;
      if (!script) return undefined;
      if (!script.known) return { reason: `${name} -c runs text that is only known at run time` };
      return parsed(env.nested(script.text, base.origin, false), name);
    }
    case "watch": {
      let i = 0;
      while (i < texts.length && (texts[i] as string).startsWith("-")) i += /^-(n|-interval|q|-equexit)$/.test(texts[i] as string) ? 2 : 1;
      const rest = args.slice(i);
      if (rest.length === 0) return undefined;
      if (!rest.every((a) => a.known)) return { reason: "watch runs text that is only known at run time" };
      return parsed(env.nested(texts.slice(i).join(" "), base.origin, false), "watch");
    }
    case "ssh":
    case "scp":
    case "sftp":
      return ssh(ctx, args);
    case "rsync": {
      const i = texts.findIndex((t) => t === "-e" || t === "--rsh" || t.startsWith("--rsh=") || /^-[a-zA-Z]*e$/.test(t));
      if (i < 0) return undefined;
      const value = texts[i]?.startsWith("--rsh=") ? args[i] : args[i + 1];
      if (!value?.known) return { reason: "rsync -e runs a program only known at run time" };
      return parsed(env.nested(value.text.replace(/^--rsh=/, ""), base.origin, false), "rsync -e");
    }
    case "tar":
      return tar(texts);
    case "zip":
      return texts.some((t) => t === "-TT" || t.startsWith("--unzip-command")) ? { reason: "zip -TT runs a program" } : undefined;
    case "vim":
    case "vi":
    case "nvim":
    case "view":
    case "ex":
    case "vimdiff":
    case "rvim":
    case "gvim":
      return texts.some((t) => t === "-c" || t === "--cmd" || t === "-S" || /^\+./.test(t))
        ? { reason: `${name} runs editor commands (which can run shell commands)` }
        : undefined;
    case "emacs":
    case "emacsclient":
      return texts.some((t) => /^--?(eval|execute|load|funcall|l|f)(=|$)/.test(t))
        ? { reason: `${name} evaluates Lisp given on the command line` }
        : undefined;
    case "man":
      return texts.some((t) => /^(-P|--pager|-H|--html)/.test(t)) ? { reason: "man runs the pager or browser it is given" } : undefined;
    case "npx":
    case "npm":
    case "pnpm":
    case "yarn": {
      if (texts.some((t) => t.startsWith("--script-shell"))) return { reason: `${name} --script-shell picks the shell scripts run in` };
      const c = texts.findIndex((t) => t === "-c" || t === "--call" || t.startsWith("--call="));
      if (c < 0 || (name !== "npx" && !texts.includes("exec"))) return undefined;
      const script = texts[c]?.startsWith("--call=") ? args[c] : args[c + 1];
      if (!script?.known) return { reason: `${name} -c runs text that is only known at run time` };
      return parsed(env.nested(script.text.replace(/^--call=/, ""), base.origin, false), `${name} -c`);
    }
    case "make":
    case "gmake":
      return texts.some((t) => /^(--eval|-E$|SHELL=|\.SHELLFLAGS=|MAKESHELL=)/.test(t))
        ? { reason: `${name} is given code or a shell on the command line` }
        : undefined;
    case "rg":
      return texts.some((t) => t === "--pre" || t.startsWith("--pre=")) ? { reason: "rg --pre runs a program on every file" } : undefined;
    case "sort":
      return texts.some((t) => t.startsWith("--compress-program")) ? { reason: "sort --compress-program runs a program" } : undefined;
    case "fd":
    case "fdfind": {
      const x = texts.findIndex((t) => /^(-x|--exec|-X|--exec-batch)$/.test(t));
      if (x >= 0 && args.length > x + 1) {
        const sub = args.slice(x + 1).map((a) => (/\{[^}]*\}/.test(a.text) ? holeField(a.text) : a));
        resolveCommand([...sub, holeField("…")], { ...base, assignments: [], via: [...cmd.via, name] }, env);
      }
      return undefined;
    }
    case "ed":
    case "red":
      return base.stdin.kind === "none" ? undefined : { reason: "ed runs the commands on its input, and `!` runs shell commands" };
    case "gcc":
    case "g++":
    case "cc":
    case "clang":
      return texts.some((t) => t === "-wrapper" || t.startsWith("-fplugin")) ? { reason: `${name} -wrapper runs another program` } : undefined;
    case "go":
      return texts.some((t) => t === "-exec" || t.startsWith("-exec=") || t.startsWith("-toolexec"))
        ? { reason: "go -exec runs another program" }
        : undefined;
    case "less":
    case "more":
      return texts.some((t) => /^\+.*!/.test(t)) ? { reason: `${name} is told to run a command` } : undefined;
    case "docker":
    case "podman":
    case "kubectl":
    case "oc":
      containerExec(ctx, args);
      return undefined;
    default:
      return undefined;
  }
}

interface Ctx {
  readonly cmd: ShellCommand;
  readonly base: CommandBase;
  readonly env: ResolveEnv;
}

function parsed(result: { readonly ok: boolean }, what: string): Opaque | undefined {
  return result.ok ? undefined : { reason: `${what} runs a script that cannot be parsed` };
}

function shell(ctx: Ctx, args: readonly Field[]): Opaque | undefined {
  let i = 0;
  let dashC = false;
  let stdin = false;
  while (i < args.length) {
    const a = args[i] as Field;
    if (!a.known) return { reason: `${ctx.cmd.name} is given options only known at run time` };
    const t = a.text;
    if (t === "--" || t === "-") {
      i++;
      break;
    }
    if (t === "--rcfile" || t === "--init-file") return { reason: `${ctx.cmd.name} ${t} runs a startup file` };
    if (/^[-+][oO]$/.test(t)) {
      i += 2;
      continue;
    }
    if (!/^[-+]/.test(t)) break;
    if (/^-[a-zA-Z]*c/.test(t)) dashC = true;
    if (/^-[a-zA-Z]*s/.test(t)) stdin = true;
    i++;
  }
  const operand = args[i];
  if (dashC) {
    if (!operand) return undefined;
    if (!operand.known) return { reason: `${ctx.cmd.name} -c runs a script only known at run time` };
    return parsed(ctx.env.nested(operand.text, ctx.base.origin, false), `${ctx.cmd.name} -c`);
  }
  if (operand && !stdin) return fileScript(ctx, operand, false);
  return stdinScript(ctx, ctx.base.stdin);
}

function interpreter(ctx: Ctx, args: readonly Field[]): Opaque | undefined {
  const name = ctx.cmd.name;
  const flags = inlineFlags(name) ?? [];
  const family = name.replace(/[0-9.]+$/, "");
  const combined =
    family === "perl" || family === "ruby" ? /^-[a-zA-Z]*[eE]$/ : family === "python" || family === "pypy" ? /^-[a-zA-Z]*c$/ : /^-[a-z]*[ep]$/;
  for (let i = 0; i < args.length; i++) {
    const t = (args[i] as Field).text;
    const eq = t.startsWith("--") && t.includes("=") ? t.slice(0, t.indexOf("=")) : undefined;
    if (flags.includes(t) || (eq !== undefined && flags.includes(eq)) || (flags.length > 0 && combined.test(t) && t.length <= 5)) {
      const code = eq !== undefined ? t.slice(eq.length + 1) : (args[i + 1]?.text ?? "");
      ctx.env.addCode(ctx.cmd, code);
      for (const literal of stringLiterals(code)) ctx.env.nested(literal, "remote", false);
      const flag = eq ?? t;
      return { reason: `${name} ${flag} runs inline code`, pin: `${(ctx.cmd.argv[0] as Field).match} ${flag}` };
    }
    if (!t.startsWith("-")) {
      if (family === "deno" && t !== "run") return undefined;
      return fileScript(ctx, args[i] as Field, false);
    }
    if (/^-(m|W|X|r|I|M|-require|-import|-loader)$/.test(t)) {
      if (t === "-m") return undefined;
      i++;
    }
  }
  // Code on stdin is in the interpreter's language, not the shell's: it cannot be read here.
  return ctx.base.stdin.kind === "none" ? undefined : { reason: `${name} runs code it reads from its input` };
}

/** A script file run by a shell, `source` or a path: what the line wrote into it, if anything. */
function fileScript(ctx: Ctx, file: Field, sameShell: boolean): Opaque | undefined {
  const { cmd, base, env } = ctx;
  if (!file.known) return { reason: `${cmd.name || "it"} runs a file whose name is only known at run time` };
  if (file.text === "/dev/stdin" || file.text === "-") return stdinScript(ctx, base.stdin);
  if (/^\/dev\/fd\/\d+$|^\/proc\/self\/fd\//.test(file.text)) return { reason: `${cmd.name} runs what a pipe feeds it` };
  for (const path of pathsIn(file.text, cmd.dirs)) {
    const content = env.written(path);
    if (content === null) return { reason: `it runs ${file.text}, which an earlier command in the line wrote` };
    if (content !== undefined) {
      const result = env.nested(content, base.origin, sameShell);
      if (!result.ok) return { reason: `it runs ${file.text}, written earlier in the line, which cannot be parsed` };
    }
  }
  if (cmd.dirs.unknown && !isAbsolute(file.text)) return undefined;
  return undefined;
}

function stdinScript(ctx: Ctx, stdin: Stdin): Opaque | undefined {
  if (stdin.kind === "none") return undefined;
  if (stdin.kind === "unknown") return { reason: `${ctx.cmd.name} runs code it reads from its input` };
  return parsed(ctx.env.nested(stdin.text, ctx.base.origin, false), `${ctx.cmd.name} (stdin)`);
}

function findExec(ctx: Ctx, args: readonly Field[]): void {
  for (let i = 0; i < args.length; i++) {
    if (!/^-(exec|execdir|ok|okdir)$/.test((args[i] as Field).text)) continue;
    let end = i + 1;
    while (end < args.length && (args[end] as Field).text !== ";" && (args[end] as Field).text !== "+") end++;
    // `{}` is each file found: shown under the starting points, unknown for rules.
    const starts = args.slice(0, args.findIndex((a) => /^[-(!]/.test(a.text))).map((a) => a.text);
    const found = (starts.length > 0 ? starts : ["."]).map((d) => `${d.replace(/\/+$/, "")}/*`);
    const sub = args
      .slice(i + 1, end)
      .flatMap((a) => (a.text.includes("{}") ? found.map((f) => ({ ...holeField(f), text: a.text.replaceAll("{}", f) })) : [a]));
    if (sub.length > 0) resolveCommand(sub, { ...ctx.base, assignments: [], via: [...ctx.cmd.via, "find"] }, ctx.env);
    i = end;
  }
}

const GIT_VALUED = new Set(["-C", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--config-env", "-c"]);

function git(ctx: Ctx, args: readonly Field[]): Opaque | undefined {
  const texts = args.map((a) => a.text);
  let i = 0;
  const commandKey = (kv: string | undefined) => GIT_COMMAND_KEYS.test((kv ?? "").split("=")[0] ?? "");
  while (i < texts.length && (texts[i] as string).startsWith("-")) {
    const t = texts[i] as string;
    if ((t === "-c" || t === "--config-env") && (!args[i + 1]?.known || commandKey(texts[i + 1])))
      return { reason: `git ${t} ${texts[i + 1] ?? ""} sets a command git runs`.trim() };
    if (t.startsWith("--config-env=") && commandKey(t.slice(13))) return { reason: `git ${t} sets a command git runs` };
    if (t.startsWith("--exec-path=")) return { reason: "git --exec-path runs git's commands from another directory" };
    i += GIT_VALUED.has(t) ? 2 : 1;
  }
  const sub = texts[i];
  const rest = args.slice(i + 1);
  const restTexts = texts.slice(i + 1);
  const valueOf = (names: RegExp): Field | undefined => {
    const k = restTexts.findIndex((t) => names.test(t));
    if (k < 0) return undefined;
    const t = restTexts[k] as string;
    return t.includes("=") ? { ...(rest[k] as Field), text: t.slice(t.indexOf("=") + 1), match: t.slice(t.indexOf("=") + 1) } : rest[k + 1];
  };
  switch (sub) {
    case "clone":
    case "fetch":
    case "pull":
    case "ls-remote":
    case "push":
    case "archive":
    case "submodule": {
      if (restTexts.some((t) => /^--(upload-pack|receive-pack|exec|template)(=|$)/.test(t) || (sub === "clone" && t === "-u")))
        return { reason: `git ${sub} is told which program to run` };
      const config = restTexts.findIndex((t) => t === "-c" || t === "--config" || t.startsWith("--config="));
      if (config >= 0 && commandKey(restTexts[config]?.startsWith("--config=") ? restTexts[config]?.slice(9) : restTexts[config + 1]))
        return { reason: `git ${sub} sets a command git runs` };
      if (sub === "submodule" && restTexts.includes("foreach")) {
        const script = rest.slice(restTexts.indexOf("foreach") + 1).filter((a) => !a.text.startsWith("-"));
        if (!script.every((a) => a.known)) return { reason: "git submodule foreach runs text only known at run time" };
        return parsed(ctx.env.nested(script.map((a) => a.text).join(" "), ctx.base.origin, false), "git submodule foreach");
      }
      return undefined;
    }
    case "rebase":
    case "difftool":
    case "mergetool": {
      const script = valueOf(/^(-x|--exec|--extcmd)(=|$)/);
      if (!script) return undefined;
      if (!script.known) return { reason: `git ${sub} runs text only known at run time` };
      return parsed(ctx.env.nested(script.text, ctx.base.origin, false), `git ${sub}`);
    }
    case "bisect":
      if (restTexts[0] === "run" && rest.length > 1)
        resolveCommand(rest.slice(1), { ...ctx.base, assignments: [], via: [...ctx.cmd.via, "git"] }, ctx.env);
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

const AWK_RUNS = /system\s*\(|\|\s*&?\s*getline|\b(print|printf)\b[^;}\n]*(\||>)|\bclose\s*\(|@load|ENVIRON\s*\[/;

function awk(ctx: Ctx, args: readonly Field[]): Opaque | undefined {
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

function sed(args: readonly Field[]): Opaque | undefined {
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
export function sedRuns(script: string): boolean {
  const address = /^\s*(?:\d+|\$|\/(?:\\.|[^/\\])*\/|\\(.)(?:\\.|(?!\1).)*\1)?(?:\s*,\s*(?:\d+|\$|\/(?:\\.|[^/\\])*\/|[+~]\d+))?\s*!?\s*/;
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

const SSH_VALUED = new Set(["-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m", "-O", "-o", "-p", "-P", "-Q", "-R", "-S", "-W", "-w"]);

function ssh(ctx: Ctx, args: readonly Field[]): Opaque | undefined {
  const texts = args.map((a) => a.text);
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i] as string;
    const option = t === "-o" ? texts[i + 1] : t.startsWith("-o") ? t.slice(2) : undefined;
    if (option !== undefined) {
      const m = /^\s*(ProxyCommand|LocalCommand|KnownHostsCommand|RemoteCommand)\s*[= ]\s*([\s\S]*)$/i.exec(option);
      if (m && !/^none$/i.test(m[2] as string)) {
        const origin = /^RemoteCommand$/i.test(m[1] as string) ? "remote" : ctx.base.origin;
        const result = parsed(ctx.env.nested(m[2] as string, origin, false), `ssh ${m[1]}`);
        if (result) return result;
      }
    }
    if (ctx.cmd.name !== "ssh" && t === "-S") return { reason: `${ctx.cmd.name} -S runs another program as ssh` };
  }
  if (ctx.cmd.name !== "ssh") return undefined;
  let i = 0;
  while (i < texts.length && (texts[i] as string).startsWith("-")) i += SSH_VALUED.has(texts[i] as string) ? 2 : 1;
  const remote = args.slice(i + 1);
  if (remote.length > 0) ctx.env.nested(remote.map((a) => (a.known ? a.text : "\"$x\"")).join(" "), "remote", false);
  return undefined;
}

function tar(texts: readonly string[]): Opaque | undefined {
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i] as string;
    if (/^--(to-command|checkpoint-action|info-script|new-volume-script|rsh-command)(=|$)/.test(t) || t === "-F")
      return { reason: `tar ${t.split("=")[0]} runs a program` };
    const program = t === "-I" ? texts[i + 1] : t.startsWith("--use-compress-program=") ? t.slice(23) : t === "--use-compress-program" ? texts[i + 1] : undefined;
    if (program !== undefined && !COMPRESSORS.test(program)) return { reason: `tar runs ${program} as its compressor` };
  }
  return undefined;
}

function containerExec(ctx: Ctx, args: readonly Field[]): void {
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
  if (inner.length > 0) ctx.env.nested(inner.map((a) => (a.known ? shellQuote(a.text) : "\"$x\"")).join(" "), "remote", false);
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
