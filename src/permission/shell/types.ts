import type { Field } from "./words.ts";

export type { Field } from "./words.ts";

/** Where the analysis runs a command line: relative paths and `~` resolve against these. */
export interface ShellContext {
  /** Absolute working directory the line starts in. */
  readonly cwd: string;
  /** Absolute home directory (`~`, `$HOME`). */
  readonly home: string;
}

/**
 * The directories a command may run in. `cd`/`pushd` add to the set (a `cd` that fails
 * leaves the old one); a directory that cannot be known makes `unknown` true.
 */
export interface Dirs {
  readonly known: readonly string[];
  readonly unknown: boolean;
}

/** Why a command cannot be judged from its text, and what an allow rule must spell out to cover it. */
export interface Opaque {
  readonly reason: string;
  /**
   * Words an allow rule must name literally (before any wildcard) to allow this command,
   * e.g. `python3 -c` or `GIT_EXTERNAL_DIFF=x`. Undefined: only an exact rule can.
   */
  readonly pin?: string | undefined;
}

/** A redirection of a command. */
export interface ShellRedirect {
  /** `>`, `>>`, `>|`, `&>`, `&>>`, `<`, `>&`, `<&`, `<<`, `<<-`, `<<<`. */
  readonly op: string;
  readonly fd: number | undefined;
  /** The target word (a here-document's delimiter for `<<`). */
  readonly target: Field;
  /** Absolute paths the target may name (cwd followed); empty when unknown or not a file. */
  readonly paths: readonly string[];
  /** True when the path cannot be known before running. */
  readonly unknownPath: boolean;
  readonly write: boolean;
  /** Here-document or here-string content (unknown parts shown as `$x`). */
  readonly content?: string | undefined;
  /** True when `content` holds an expansion whose value is unknown. */
  readonly contentDynamic?: boolean | undefined;
  /** The redirection as written. */
  readonly text: string;
}

/** How a command came to run. */
export type CommandOrigin =
  /** Written in the line (or a literal script it runs: `sh -c`, `eval`, a file written earlier). */
  | "line"
  /** Inside `$(...)`, backticks or `<(...)`. */
  | "substitution"
  /** On another machine or in a container (`ssh host cmd`, `docker exec`): only command defense looks at it. */
  | "remote";

/**
 * One simple command the line would run, after quote removal, expansion and unwrapping.
 * A wrapper (`sudo rm x`) yields the wrapper command and the wrapped one (`rm x`, with
 * `via: ["sudo"]`).
 */
export interface ShellCommand {
  /** The words after expansion; argv[0] is the command as written (`/bin/rm`). */
  readonly argv: readonly Field[];
  /** The command name: basename of argv[0], lower-cased (`rm`); "" when none. */
  readonly name: string;
  /** argv[0] as text (`/bin/rm`, `./x.sh`). */
  readonly path: string;
  /** The arguments as text, with glob patterns' matches on this machine appended. */
  readonly args: readonly string[];
  /** `NAME=value` prefixes and `env NAME=value` assignments, as written after expansion. */
  readonly assignments: readonly { readonly name: string; readonly value: Field }[];
  readonly redirects: readonly ShellRedirect[];
  /** Wrappers peeled off to reach this command (`sudo`, `timeout`, `xargs`...). */
  readonly via: readonly string[];
  /** The source text of the simple command. */
  readonly text: string;
  /** The commands of each substitution in its words. */
  readonly substitutions: readonly {
    readonly kind: "command" | "process";
    readonly commands: readonly ShellCommand[];
  }[];
  /** Where it runs. */
  readonly dirs: Dirs;
  readonly origin: CommandOrigin;
  /**
   * `run`: an allow rule must cover it. `wrapper`: the form with a transparent wrapper
   * (`timeout 5 npm test`), which deny and ask rules see but allow rules need not cover.
   */
  readonly role: "run" | "wrapper";
  /** True for a wrapper's form whose wrapped command is a command of its own (`sudo rm x` beside `rm x`). */
  readonly outer?: boolean | undefined;
  /** Set when what runs cannot be known from the text. */
  readonly opaque?: Opaque | undefined;
}

/** Everything a command line would do, as far as static analysis can tell. */
export interface ShellAnalysis {
  /** False when the line does not parse; `commands` then hold what the recovered tree shows. */
  readonly ok: boolean;
  readonly error?: string | undefined;
  readonly commands: readonly ShellCommand[];
  /** Pipelines of two or more commands (stages in order), for flow rules. */
  readonly pipelines: readonly (readonly ShellCommand[])[];
  /** Inline interpreter code (`python -c CODE`) with the command that runs it. */
  readonly code: readonly { readonly command: ShellCommand; readonly code: string }[];
  /** Every script parsed: the line and each nested literal script. */
  readonly scripts: readonly string[];
}
