import type { ShellCommand } from "./shell/index.ts";

/**
 * A deliberately small list of commands that only read, used by `plan` mode to let
 * inspection through while everything else with possible side effects is refused. A
 * command not listed here counts as side-effecting; that errs on the safe side.
 */
/** Commands that only read (exported for the launcher check, which adds programs that write but never run their arguments). */
export const READ_ONLY_COMMANDS: ReadonlySet<string> = new Set([
  "cat",
  "head",
  "tail",
  "less",
  "more",
  "wc",
  "ls",
  "tree",
  "stat",
  "file",
  "du",
  "df",
  "pwd",
  "echo",
  "printf",
  "grep",
  "egrep",
  "fgrep",
  "rg",
  "which",
  "whoami",
  "date",
  "uname",
  "basename",
  "dirname",
  "realpath",
  "readlink",
  "true",
  "false",
  "test",
  "[",
  "diff",
  "cmp",
  "jq",
  "cut",
  "tr",
  "uniq",
  "nl",
  "md5sum",
  "sha1sum",
  "sha256sum",
]);

/** git subcommands that do not change the repository or the working tree. */
const GIT_READ_ONLY = new Set(["status", "diff", "log", "show", "blame", "ls-files", "rev-parse", "grep"]);

/** Options of otherwise read-only commands that write or run something. */
const FIND_SIDE_EFFECTS = /^-(delete|exec|execdir|ok|okdir|fprint|fprint0|fprintf|fls)$/;

/** True when the command part only reads (as far as this conservative list knows). */
export function isReadOnlyCommand(part: ShellCommand): boolean {
  if (part.opaque) return false;
  const [name, ...args] = part.argv.map((f) => (f.known ? f.text : undefined));
  if (name === undefined) return false;
  if (READ_ONLY_COMMANDS.has(name)) return true;
  if (name === "find") return args.every((a) => a !== undefined && !FIND_SIDE_EFFECTS.test(a));
  if (name === "sort") return args.every((a) => a !== undefined && !/^(-o|--output)/.test(a));
  if (name === "git") {
    const sub = args.find((a) => a === undefined || !a.startsWith("-"));
    return sub !== undefined && GIT_READ_ONLY.has(sub);
  }
  return false;
}
