import { lstat, realpath } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import ignore, { type Ignore } from "ignore";

/**
 * Path specifiers of `Read(...)` and `Edit(...)` rules: gitignore patterns with an anchor.
 *
 * | written as      | relative to                                  |
 * |-----------------|----------------------------------------------|
 * | `//abs/path`    | the filesystem root                          |
 * | `~/path`        | the home directory                           |
 * | `/path`         | the project root (where `.taifeng/` lives)   |
 * | `./path`        | the working directory, anchored              |
 * | `path`          | the working directory, gitignore-style: without a slash it matches at any depth |
 */
export type PathAnchor = "root" | "home" | "project" | "cwd";

/** A compiled path specifier. */
export interface PathPattern {
  readonly source: string;
  readonly anchor: PathAnchor;
  /** The gitignore pattern, relative to the anchor's directory; `undefined` = every path. */
  readonly pattern: string | undefined;
  readonly matcher: Ignore | undefined;
}

/** The directories path rules are anchored to. Absolute paths. */
export interface PathBases {
  readonly cwd: string;
  readonly projectRoot: string;
  readonly home: string;
}

const CASE_INSENSITIVE = process.platform === "darwin" || process.platform === "win32";

/** Compiles a path specifier. Returns an error message for an unusable one. */
export function compilePathPattern(specifier: string): PathPattern | { error: string } {
  const spec = specifier.trim();
  if (spec === "") return { error: "the path is empty" };
  let anchor: PathAnchor;
  let pattern: string | undefined;
  if (spec === "*") {
    return { source: specifier, anchor: "root", pattern: undefined, matcher: undefined };
  } else if (spec.startsWith("//")) {
    anchor = "root";
    pattern = `/${spec.slice(2)}`;
  } else if (spec === "~" || spec.startsWith("~/")) {
    anchor = "home";
    pattern = spec === "~" ? "/**" : `/${spec.slice(2)}`;
  } else if (spec.startsWith("/")) {
    anchor = "project";
    pattern = spec;
  } else if (spec.startsWith("./")) {
    anchor = "cwd";
    pattern = `/${spec.slice(2)}`;
  } else if (spec.startsWith("../")) {
    return {
      error: `"${spec}" climbs out of the working directory; write it with // (absolute) or ~/ instead`,
    };
  } else {
    anchor = "cwd";
    pattern = spec;
  }
  if (pattern === "/" || pattern === "") pattern = "/**";
  const matcher = ignore({ ignorecase: CASE_INSENSITIVE }).add(pattern);
  return { source: specifier, anchor, pattern, matcher };
}

/** A path as the evaluator sees it: where it points lexically and after resolving symlinks. */
export interface ResolvedPath {
  /** Absolute, normalized, symlinks untouched. */
  readonly lexical: string;
  /** Absolute, with every existing symlink resolved (missing tails appended as written). */
  readonly real: string;
  readonly isDirectory: boolean;
}

/** Bases in both forms, for matching lexical and resolved paths. */
export interface ResolvedBases {
  readonly lexical: Readonly<Record<PathAnchor, string>>;
  readonly real: Readonly<Record<PathAnchor, string>>;
}

/**
 * Resolves `path` (relative to `cwd`, `~` expanded) through symlinks. Paths that do not
 * exist yet (a file about to be written) resolve their nearest existing ancestor.
 */
export async function resolvePath(path: string, cwd: string, home: string): Promise<ResolvedPath> {
  const expanded = path === "~" ? home : path.startsWith("~/") ? join(home, path.slice(2)) : path;
  const lexical = resolve(cwd, expanded);
  let isDirectory = false;
  try {
    isDirectory = (await lstat(lexical)).isDirectory();
  } catch {
    // missing: resolved below through its ancestors
  }
  return { lexical, real: await realish(lexical), isDirectory };
}

/** realpath that tolerates missing tails: resolves the nearest existing ancestor. */
export async function realish(absolute: string): Promise<string> {
  const tail: string[] = [];
  let current = absolute;
  for (;;) {
    try {
      const real = await realpath(current);
      return tail.length === 0 ? real : join(real, ...tail.reverse());
    } catch {
      const parent = dirname(current);
      if (parent === current) return absolute;
      tail.push(basename(current));
      current = parent;
    }
  }
}

/** Resolves the anchor directories once per evaluation. */
export async function resolveBases(bases: PathBases): Promise<ResolvedBases> {
  const lexical = { root: sep, home: bases.home, project: bases.projectRoot, cwd: bases.cwd };
  const [home, project, cwd] = await Promise.all([
    realish(bases.home),
    realish(bases.projectRoot),
    realish(bases.cwd),
  ]);
  return { lexical, real: { root: sep, home, project, cwd } };
}

/** True when `pattern` matches `path` measured from `base` (both absolute). */
export function matchPathFrom(
  pattern: PathPattern,
  base: string,
  path: string,
  isDirectory: boolean,
): boolean {
  if (!pattern.matcher) return true;
  const rel = relative(base, path);
  if (rel === "") return pattern.pattern === "/**" || pattern.pattern === "**";
  if (escapes(rel)) return false;
  const posix = sep === "/" ? rel : rel.split(sep).join("/");
  return pattern.matcher.ignores(isDirectory ? `${posix}/` : posix) || pattern.matcher.ignores(posix);
}

/**
 * How a rule meets a path: `strict` (for allow rules) matches only the resolved path, so a
 * symlink cannot smuggle a target past an allow; `loose` (for deny and ask rules) matches
 * either the path as written or its resolved target.
 */
export function matchPath(
  pattern: PathPattern,
  path: ResolvedPath,
  bases: ResolvedBases,
  how: "strict" | "loose",
): boolean {
  const real = matchPathFrom(pattern, bases.real[pattern.anchor], path.real, path.isDirectory);
  if (real || how === "strict") return real;
  return matchPathFrom(pattern, bases.lexical[pattern.anchor], path.lexical, path.isDirectory);
}

/** True when `path` (resolved) lies inside one of `dirs` (resolved). */
export function isInside(path: string, dirs: readonly string[]): boolean {
  return dirs.some((dir) => {
    const rel = relative(dir, path);
    return rel === "" || !escapes(rel);
  });
}

function escapes(rel: string): boolean {
  return rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel);
}
