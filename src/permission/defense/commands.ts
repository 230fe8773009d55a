import { isAbsolute, relative, sep } from "node:path";
import type { ShellAnalysis, ShellCommand, ShellRedirect } from "../shell/index.ts";
import { HOLE } from "../shell/index.ts";

/**
 * Command defense's view of the shared shell analysis (src/permission/shell/): every command
 * the line runs — wrappers peeled off, literal scripts (`sh -c`, `eval`, files written
 * earlier, here-documents fed to shells, `find -exec`, `ssh host cmd`, shell strings in
 * interpreter code) included — with paths made comparable: the home directory written as
 * `~`, and relative paths also resolved against every directory a `cd` may have moved to.
 */
export interface Invocation {
  /** The command as written after unwrapping (`/usr/bin/rm`, `./install.sh`). */
  readonly path: string;
  /** Its basename, lower-cased, e.g. `rm`. Empty for assignment- or redirect-only commands. */
  readonly name: string;
  /** Arguments as text (unknown parts shown as `$x`, `$(…)`), glob matches and cd-resolved paths appended. */
  readonly args: readonly string[];
  readonly redirects: readonly DefenseRedirect[];
  /** Wrappers removed in front of it (`sudo`, `env`, `timeout`...). */
  readonly via: readonly string[];
  /** Source text of the simple command it came from. */
  readonly text: string;
  /** Invocations of each substitution in its words and redirects (`$(...)`, `<(...)`). */
  readonly substitutions: readonly Substitution[];
  /** The analysed command. */
  readonly command: ShellCommand;
  /** The directory the line started in (`~` form under home). */
  readonly cwd: string;
}

/** A redirection, with its target as text (home as `~`) and its resolved paths. */
export interface DefenseRedirect {
  readonly op: string;
  readonly fd: number | undefined;
  readonly target: { readonly text: string };
  readonly paths: readonly string[];
  readonly heredoc?: string | undefined;
}

/** The invocations of one substitution. */
export interface Substitution {
  readonly kind: "command" | "process";
  readonly invocations: readonly Invocation[];
}

/** Everything a command line runs, for the defense rules. */
export interface Analysis {
  readonly invocations: readonly Invocation[];
  /** Every pipeline with two or more commands, as invocations in order. */
  readonly pipelines: readonly (readonly Invocation[])[];
  /** Inline interpreter code (`python -c`, `perl -e`...) with the invocation that runs it. */
  readonly code: readonly { readonly invocation: Invocation; readonly code: string }[];
  /** Every shell source that was parsed: the command line and each nested script. */
  readonly scripts: readonly string[];
}

export { INTERPRETERS, SHELLS } from "../shell/tables.ts";

/** The basename of a command path. */
export function baseCommand(word: string): string {
  const i = word.lastIndexOf("/");
  return i < 0 ? word : word.slice(i + 1);
}

/** Builds the defense view of an analysis made for `cwd` and `home`. */
export function defenseView(shell: ShellAnalysis, cwd: string, home: string): Analysis {
  const views = new Map<ShellCommand, Invocation>();
  const escaped = home.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const homeAt = new RegExp(`(^|[=@:])${escaped}(?=/|$)`, "g");
  const tilde = (p: string) => (home === "/" ? p : p.replace(homeAt, "$1~"));
  const view = (cmd: ShellCommand): Invocation => {
    const known = views.get(cmd);
    if (known) return known;
    const args: string[] = [];
    for (const a of cmd.args) {
      args.push(tilde(a));
      // dd's `of=FILE` names a file as much as an operand does.
      if (cmd.name === "dd" && a.startsWith("of=") && !isAbsolute(a.slice(3)) && !a.startsWith("of=~")) {
        for (const d of cmd.dirs.known) if (d !== cwd) args.push(`of=${tilde(join(d, a.slice(3)))}`);
        continue;
      }
      if (a.startsWith("-") || isAbsolute(a) || a.startsWith("~") || a.includes("://") || a.includes("$"))
        continue;
      for (const d of cmd.dirs.known) {
        const full = tilde(join(d, a));
        if (d !== cwd || full.startsWith("~")) args.push(full);
      }
    }
    const inv: Invocation = {
      path: tilde(cmd.path),
      name: cmd.name,
      args,
      redirects: cmd.redirects.map((r) => redirectView(r, tilde, cwd)),
      via: cmd.via,
      text: cmd.text.replaceAll(HOLE, ""),
      substitutions: [],
      command: cmd,
      cwd: tilde(cwd),
    };
    views.set(cmd, inv);
    (inv as unknown as { substitutions: Substitution[] }).substitutions = cmd.substitutions.map((s) => ({
      kind: s.kind,
      invocations: s.commands.filter((c) => !c.outer).map(view),
    }));
    return inv;
  };
  // A command name with a written default (`${x:-rm}`) is also judged as that default.
  const fallbacks = shell.commands
    .filter((c) => !c.outer && c.argv[0]?.fallback)
    .map((c) => {
      const name = c.argv[0]?.fallback as string;
      return { ...view(c), path: name, name: baseCommand(name).toLowerCase() };
    });
  return {
    invocations: [...shell.commands.filter((c) => !c.outer).map(view), ...fallbacks],
    pipelines: shell.pipelines.map((p) => p.map(view)),
    code: shell.code.map((c) => ({ invocation: view(c.command), code: c.code })),
    scripts: shell.scripts,
  };
}

function join(dir: string, rel: string): string {
  return dir === "/" ? `/${rel}` : `${dir}/${rel}`;
}

function redirectView(r: ShellRedirect, tilde: (p: string) => string, cwd: string): DefenseRedirect {
  // Resolved paths matter where a cd moved the command, or under the home directory. One
  // inside the working directory is kept relative (`cd .git/hooks && echo > pre-commit`
  // writes `.git/hooks/pre-commit`), where it says more than the target as written.
  const written = r.target.text.replace(/^\.\//, "");
  const paths: string[] = [];
  for (const p of r.paths) {
    const rel = relative(cwd, p);
    if (rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel) || tilde(p).startsWith("~"))
      paths.push(tilde(p));
    else if (rel !== "" && rel !== written) paths.push(rel);
  }
  return {
    op: r.op,
    fd: r.fd,
    target: { text: tilde(r.target.text) },
    paths,
    ...(r.content !== undefined ? { heredoc: r.content } : {}),
  };
}
