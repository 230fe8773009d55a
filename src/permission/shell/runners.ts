import { isAbsolute } from "node:path";
import { pathsIn } from "./glob.ts";
import { multiplexer, packageSource, programFile } from "./launchers.ts";
import {
  awk,
  type Ctx,
  containerExec,
  findExec,
  git,
  parsed,
  sed,
  ssh,
  stringLiterals,
  tar,
} from "./programs.ts";
import { SUBSCRIPT_CODE } from "./subscript.ts";
import { inlineFlags, SHELLS } from "./tables.ts";
import type { Opaque, ShellCommand } from "./types.ts";
import { type CommandBase, type ResolveEnv, resolveCommand, type Stdin } from "./unwrap.ts";
import { type Field, holeField } from "./words.ts";

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
    case "unset":
    case "test":
    case "[":
    case "printf":
    case "read":
    case "declare":
    case "typeset":
    case "local":
    case "export":
    case "readonly":
    case "mapfile":
    case "readarray":
    case "wait":
    case "getopts":
      // Each takes variable names, and bash evaluates a subscript in one: `unset 'a[$(cmd)]'`.
      return texts.some((t) => SUBSCRIPT_CODE.test(t))
        ? { reason: `${name} evaluates an array subscript given as text, which can run commands` }
        : undefined;
    case "let":
      return texts.some((t) => /\$\(|`/.test(t))
        ? { reason: "let evaluates text holding a command substitution" }
        : undefined;
    case "compgen":
    case "complete":
      // -C runs a command (compgen at once), -F a shell function.
      return texts.some((t) => /^-[a-zA-Z]*[CF]/.test(t))
        ? { reason: `${name} -C/-F runs a command or function given by name` }
        : undefined;
    case "hash":
      return texts.some((t) => /^-[a-zA-Z]*p/.test(t))
        ? { reason: "hash -p changes which program a name runs" }
        : undefined;
    case "enable":
      return texts.some((t) => /^-[a-zA-Z]*f/.test(t))
        ? { reason: "enable -f loads a builtin from a shared library" }
        : undefined;
    case "find":
      findExec(ctx, args);
      return undefined;
    case "git":
      return git(ctx, args);
    case "awk":
    case "gawk":
    case "mawk":
    case "nawk":
      return programFile(ctx, args, ["-f", "--file"]) ?? awk(ctx, args);
    case "sed":
    case "gsed":
      return programFile(ctx, args, ["-f", "--file"]) ?? sed(args);
    case "cmake":
      return programFile(ctx, args, ["-P", "-C"]);
    case "bundle":
    case "bundler":
      return programFile(ctx, args, ["--gemfile"]);
    case "tmux":
    case "screen":
      return multiplexer(ctx, args);
    case "pip":
    case "pip3":
    case "pipx":
    case "uv":
    case "poetry":
    case "pdm":
      return packageSource(ctx, args);
    case "su":
    case "runuser":
    case "script":
    case "flock": {
      const c = texts.findIndex(
        (t) => /^-[a-zA-Z]*c$/.test(t) || t === "--command" || t === "--session-command",
      );
      const script = c >= 0 ? args[c + 1] : undefined;
      if (!script) return undefined;
      if (!script.known) return { reason: `${name} -c runs text that is only known at run time` };
      return parsed(env.nested(script.text, base.origin, false), name);
    }
    case "watch": {
      let i = 0;
      while (i < texts.length && (texts[i] as string).startsWith("-"))
        i += /^-(n|-interval|q|-equexit)$/.test(texts[i] as string) ? 2 : 1;
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
      const i = texts.findIndex(
        (t) => t === "-e" || t === "--rsh" || t.startsWith("--rsh=") || /^-[a-zA-Z]*e$/.test(t),
      );
      if (i < 0) return undefined;
      const value = texts[i]?.startsWith("--rsh=") ? args[i] : args[i + 1];
      if (!value?.known) return { reason: "rsync -e runs a program only known at run time" };
      return parsed(env.nested(value.text.replace(/^--rsh=/, ""), base.origin, false), "rsync -e");
    }
    case "tar":
      return tar(texts);
    case "zip":
      return texts.some((t) => t === "-TT" || t.startsWith("--unzip-command"))
        ? { reason: "zip -TT runs a program" }
        : undefined;
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
      return texts.some((t) => /^(-P|--pager|-H|--html)/.test(t))
        ? { reason: "man runs the pager or browser it is given" }
        : undefined;
    case "npx":
    case "bunx":
    case "npm":
    case "pnpm":
    case "yarn": {
      if (texts.some((t) => t.startsWith("--script-shell")))
        return { reason: `${name} --script-shell picks the shell scripts run in` };
      const source = packageSource(ctx, args);
      if (source) return source;
      const c = texts.findIndex((t) => t === "-c" || t === "--call" || t.startsWith("--call="));
      if (c < 0) packageExec(ctx, name, args);
      if (c < 0 || (name !== "npx" && !texts.includes("exec"))) return undefined;
      const script = texts[c]?.startsWith("--call=") ? args[c] : args[c + 1];
      if (!script?.known) return { reason: `${name} -c runs text that is only known at run time` };
      return parsed(env.nested(script.text.replace(/^--call=/, ""), base.origin, false), `${name} -c`);
    }
    case "make":
    case "gmake":
      return (programFile(ctx, args, ["-f", "--file", "--makefile"]) ??
        texts.some((t) => /^(--eval|-E$|SHELL=|\.SHELLFLAGS=|MAKESHELL=)/.test(t)))
        ? { reason: `${name} is given code or a shell on the command line` }
        : undefined;
    case "parallel":
      // With no command, GNU parallel runs each input line as a command.
      return args.every((a) => a.text.startsWith("-")) ? stdinScript(ctx, base.stdin) : undefined;
    case "rg":
      return texts.some((t) => t === "--pre" || t.startsWith("--pre="))
        ? { reason: "rg --pre runs a program on every file" }
        : undefined;
    case "sort":
      return texts.some((t) => t.startsWith("--compress-program"))
        ? { reason: "sort --compress-program runs a program" }
        : undefined;
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
      return base.stdin.kind === "none"
        ? undefined
        : { reason: "ed runs the commands on its input, and `!` runs shell commands" };
    case "gcc":
    case "g++":
    case "cc":
    case "clang":
      return texts.some((t) => t === "-wrapper" || t.startsWith("-fplugin"))
        ? { reason: `${name} -wrapper runs another program` }
        : undefined;
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
    if (t === "--rcfile" || t === "--init-file")
      return { reason: `${ctx.cmd.name} ${t} runs a startup file` };
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
    family === "perl" || family === "ruby"
      ? /^-[a-zA-Z]*[eE]$/
      : family === "python" || family === "pypy"
        ? /^-[a-zA-Z]*c$/
        : /^-[a-z]*[ep]$/;
  for (let i = 0; i < args.length; i++) {
    const t = (args[i] as Field).text;
    const eq = t.startsWith("--") && t.includes("=") ? t.slice(0, t.indexOf("=")) : undefined;
    if (
      flags.includes(t) ||
      (eq !== undefined && flags.includes(eq)) ||
      (flags.length > 0 && combined.test(t) && t.length <= 5)
    ) {
      const code = eq !== undefined ? t.slice(eq.length + 1) : (args[i + 1]?.text ?? "");
      ctx.env.addCode(ctx.cmd, code);
      for (const literal of stringLiterals(code)) ctx.env.nested(literal, "remote", false);
      const flag = eq ?? t;
      return {
        reason: `${name} ${flag} runs inline code`,
        pin: `${(ctx.cmd.argv[0] as Field).match} ${flag}`,
      };
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
  if (/^\/dev\/fd\/\d+$|^\/proc\/self\/fd\//.test(file.text))
    return { reason: `${cmd.name} runs what a pipe feeds it` };
  for (const path of pathsIn(file.text, cmd.dirs)) {
    const content = env.written(path);
    if (content === null)
      return { reason: `it runs ${file.text}, which an earlier command in the line wrote` };
    if (content !== undefined) {
      const result = env.nested(content, base.origin, sameShell);
      if (!result.ok)
        return { reason: `it runs ${file.text}, written earlier in the line, which cannot be parsed` };
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

/**
 * `npx CMD`, `npm exec [--] CMD`, `pnpm exec|dlx CMD`, `yarn exec|dlx CMD`, `bunx CMD`: the
 * command runs (from node_modules/.bin, PATH or a downloaded package), so it is analysed as
 * one of its own, its arguments included.
 */
function packageExec(ctx: Ctx, name: string, args: readonly Field[]): void {
  let i = 0;
  if (name !== "npx" && name !== "bunx") {
    // The subcommand, after the package manager's own options.
    while (i < args.length && (args[i] as Field).text.startsWith("-")) i++;
    const sub = args[i]?.text;
    const runs = sub === "exec" || sub === "x" || (sub === "dlx" && name !== "npm");
    if (!runs) return;
    i++;
  }
  // Options of exec itself (`--package=x`, `-y`, `--yes`...); `--` ends them.
  while (i < args.length) {
    const t = (args[i] as Field).text;
    if (t === "--") {
      i++;
      break;
    }
    if (!t.startsWith("-")) break;
    i += /^(-p|--package)$/.test(t) ? 2 : 1;
  }
  const inner = args.slice(i);
  if (inner.length === 0) return;
  resolveCommand(inner, { ...ctx.base, assignments: [], via: [...ctx.cmd.via, name] }, ctx.env);
}
