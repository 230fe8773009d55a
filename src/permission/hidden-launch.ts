/**
 * Deny and ask rules against launchers the analysis does not know (ADR 2050).
 *
 * The shell analysis unwraps the wrappers it knows (`sudo`, `env`, `timeout`, `xargs`,
 * `find -exec`, `sh -c`...), so `Bash(rm:*)` meets `sudo rm x`. There are many more programs
 * that run their arguments as a command — `firejail`, `valgrind`, `perf stat`, `faketime`,
 * `entr`, `prlimit`, `sg -c`, `uvx`, `docker exec`, `kubectl exec`, `ssh host` — and no table
 * will ever hold them all. So the check fails closed: when a deny or ask rule names a program
 * P, and a command whose program is not known to leave its arguments unexecuted has P among
 * its arguments (`P`, `/usr/bin/P`, or a `-c`-style string starting with P), the call is
 * asked. It never allows anything, and it never turns a deny into less than an ask.
 */
import { READ_ONLY_COMMANDS } from "./readonly-commands.ts";
import type { PermissionRule } from "./rules.ts";
import type { ShellCommand } from "./shell/index.ts";

/**
 * Programs whose arguments are data, never a command they start (their launching forms,
 * like `git -c alias.x=!cmd` or `find -exec`, are unwrapped or made opaque by the analysis).
 */
const INERT: ReadonlySet<string> = new Set([
  // Read-only commands, except the pagers (`less` and `more` run `!cmd` typed at them).
  ...[...READ_ONLY_COMMANDS].filter((name) => name !== "less" && name !== "more"),
  "ag",
  "whereis",
  "type",
  "man",
  "help",
  "whatis",
  "apropos",
  "[[",
  "yq",
  "sort",
  "git",
  "touch",
  "mkdir",
  "cp",
  "mv",
  "ln",
  "chmod",
  "find",
  "fd",
  "sed",
  "awk",
  "tee",
  "column",
  "xxd",
  "hexdump",
  "od",
  "base64",
  "export",
  "unset",
  "declare",
  "local",
  "readonly",
  "alias",
  "unalias",
  "hash",
  "complete",
]);

/** The program a command rule names: `rm` for `rm:*`, `rm -rf *` or `rm`; undefined if not a literal word. */
export function ruleProgram(rule: PermissionRule): string | undefined {
  if (rule.specifier.kind !== "command") return undefined;
  const first = rule.specifier.pattern.literalPrefix.trim().split(/\s+/)[0] ?? "";
  const word = first.replace(/:$/, "");
  if (word === "" || !/^[A-Za-z0-9._+-]+$/.test(word)) return undefined;
  const whole = rule.specifier.pattern.source.trim().split(/\s+/)[0] ?? "";
  // `r*:*` names no one program; `rm:*` and `rm` do.
  if (!/^[A-Za-z0-9._+-]+(:\*)?$/.test(whole.replace(/^['"]|['"]$/g, ""))) return undefined;
  return word;
}

/** True when `arg` starts the program `name`: `rm`, `/bin/rm`, or a script string `rm -rf x`. */
function launches(arg: string, name: string): boolean {
  const head = arg.trimStart().split(/[\s;&|]/, 1)[0] ?? "";
  return head === name || head.endsWith(`/${name}`);
}

/**
 * The first deny or ask rule (in `rules` order) naming a program that `command` may start
 * through a launcher the analysis does not know, or undefined.
 */
export function hiddenLaunch(
  command: ShellCommand,
  rules: readonly PermissionRule[],
  applies: (rule: PermissionRule) => boolean,
): { rule: PermissionRule; program: string } | undefined {
  if (INERT.has(command.name) || command.args.length === 0) return undefined;
  for (const rule of rules) {
    if (rule.list === "allow" || !applies(rule)) continue;
    const program = ruleProgram(rule);
    if (program === undefined || program === command.name) continue;
    if (command.args.some((a) => launches(a, program))) return { rule, program };
  }
  return undefined;
}
