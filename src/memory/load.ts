/**
 * Project memory: AGENTS.md-style instruction files found around the working directory,
 * loaded in a documented order into one block of the stable prompt prefix.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";

/** Where a memory file applies. */
export type MemoryScope = "user" | "project" | "subtree";

/** One loaded file. */
export interface MemorySource {
  readonly path: string;
  readonly scope: MemoryScope;
  /** For `subtree` files: the directory (relative to cwd) whose files they govern. */
  readonly appliesTo?: string;
  readonly bytes: number;
  /** Cut at `maxFileBytes` or by the total cap. */
  readonly truncated: boolean;
}

/** What was loaded: the block for the prompt and its sources. */
export interface MemorySnapshot {
  /** The block appended to the system prompt ("" when no file was found). */
  readonly text: string;
  readonly sources: readonly MemorySource[];
  /** Changes whenever any candidate file appears, disappears or changes (size or mtime). */
  readonly fingerprint: string;
}

/** Options of `loadProjectMemory`. */
export interface ProjectMemoryOptions {
  /** The thread's working directory. */
  readonly cwd: string;
  /** The top of the project: files from here down to `cwd` are read. Default: the nearest folder with `.git` above `cwd`, else `cwd`. */
  readonly root?: string;
  /** The user's home, for the global file; `false` skips it. Default `os.homedir()`. */
  readonly home?: string | false;
  /** File names tried in each folder, in order. Default `AGENTS.md`, `CLAUDE.md`, `.taifeng/AGENTS.md`. */
  readonly fileNames?: readonly string[];
  /** Files in the user's home, in order. Default `.taifeng/AGENTS.md`, `.claude/CLAUDE.md`. */
  readonly userFiles?: readonly string[];
  /** Largest part of one file that is kept. Default 16 KiB. */
  readonly maxFileBytes?: number;
  /** Largest block in total; files beyond are cut (the closest ones are kept whole first). Default 48 KiB. */
  readonly maxBytes?: number;
  /** Also list instruction files in folders below `cwd` (for work there). Default true. */
  readonly subtrees?: boolean;
  /** Folders searched below `cwd` at most. Default 2,000. */
  readonly maxScanDirs?: number;
}

const DEFAULT_NAMES = ["AGENTS.md", "CLAUDE.md", join(".taifeng", "AGENTS.md")];
const DEFAULT_USER = [join(".taifeng", "AGENTS.md"), join(".claude", "CLAUDE.md")];
const SKIP_DIRS = new Set(["node_modules", ".git", "dist", "build", "target", "vendor", "__pycache__"]);

interface Found {
  readonly path: string;
  readonly scope: MemoryScope;
  readonly appliesTo?: string;
  readonly stamp: string;
}

function stampOf(path: string): string | undefined {
  try {
    const st = statSync(path);
    return st.isFile() ? `${st.size}:${st.mtimeMs}` : undefined;
  } catch {
    return undefined;
  }
}

/** The nearest folder at or above `cwd` that holds `.git`, else `cwd`. */
export function projectRootOf(cwd: string): string {
  let dir = resolve(cwd);
  for (;;) {
    try {
      statSync(join(dir, ".git"));
      return dir;
    } catch {
      const up = dirname(dir);
      if (up === dir) return resolve(cwd);
      dir = up;
    }
  }
}

/** Folders from `root` down to `cwd` (root first); just `cwd` when it is not inside `root`. */
function chain(root: string, cwd: string): string[] {
  const rel = relative(root, cwd);
  if (rel.startsWith("..") || rel.startsWith(sep)) return [cwd];
  const out = [root];
  let dir = root;
  for (const part of rel === "" ? [] : rel.split(sep)) {
    dir = join(dir, part);
    out.push(dir);
  }
  return out;
}

/** Instruction files below `cwd` (not `cwd` itself), shallowest first, sorted by path. */
function scanSubtrees(cwd: string, names: readonly string[], maxDirs: number): string[] {
  const found: string[] = [];
  const queue = [cwd];
  let seen = 0;
  while (queue.length > 0 && seen < maxDirs) {
    const dir = queue.shift() as string;
    seen++;
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (!e.isDirectory() || SKIP_DIRS.has(e.name) || e.name.startsWith(".")) continue;
      const sub = join(dir, e.name);
      queue.push(sub);
      for (const n of names) if (stampOf(join(sub, n)) !== undefined) found.push(join(sub, n));
    }
  }
  return found;
}

/** The candidate files, in precedence order (later wins), with their stamps. */
export function discoverMemory(options: ProjectMemoryOptions): Found[] {
  const cwd = resolve(options.cwd);
  const names = options.fileNames ?? DEFAULT_NAMES;
  const out: Found[] = [];
  const home = options.home === undefined ? homedir() : options.home;
  if (home !== false)
    for (const f of options.userFiles ?? DEFAULT_USER) {
      const path = join(home, f);
      const stamp = stampOf(path);
      if (stamp !== undefined) out.push({ path, scope: "user", stamp });
    }
  const root = resolve(options.root ?? projectRootOf(cwd));
  for (const dir of chain(root, cwd))
    for (const n of names) {
      const path = join(dir, n);
      const stamp = stampOf(path);
      if (stamp !== undefined) out.push({ path, scope: "project", stamp });
    }
  if (options.subtrees !== false)
    for (const path of scanSubtrees(cwd, names, options.maxScanDirs ?? 2_000)) {
      const appliesTo = relative(
        cwd,
        dirname(path.endsWith(join(".taifeng", "AGENTS.md")) ? dirname(path) : path),
      );
      out.push({ path, scope: "subtree", appliesTo, stamp: stampOf(path) ?? "" });
    }
  return out;
}

/** The fingerprint of a discovery: paths and stamps, in order. */
export function fingerprintOf(found: readonly Found[]): string {
  return found.map((f) => `${f.path}@${f.stamp}`).join("\n");
}

/**
 * Loads the project memory. Order (each later section takes precedence over earlier ones where
 * they disagree, and the block says so): the user's global files; then, from the project root
 * down to `cwd`, each folder's `AGENTS.md`, `CLAUDE.md`, `.taifeng/AGENTS.md`; then files in
 * folders below `cwd`, each introduced as applying only to files under its folder (closest
 * folder wins for its subtree). Each file is capped at `maxFileBytes`; the whole block at
 * `maxBytes`, cutting the least specific files first. Unreadable files are skipped.
 */
export function loadProjectMemory(
  options: ProjectMemoryOptions,
  found = discoverMemory(options),
): MemorySnapshot {
  const maxFile = options.maxFileBytes ?? 16 * 1024;
  let budget = options.maxBytes ?? 48 * 1024;
  const cwd = resolve(options.cwd);
  // Budget goes to the most specific files first (the end of the list), then to the rest.
  const bodies: { found: Found; text: string; truncated: boolean }[] = [];
  for (let i = found.length - 1; i >= 0; i--) {
    const f = found[i] as Found;
    let text: string;
    try {
      text = readFileSync(f.path, "utf8").trim();
    } catch {
      continue;
    }
    let truncated = false;
    const cap = Math.min(maxFile, budget);
    if (Buffer.byteLength(text) > cap) {
      text = Buffer.from(text)
        .subarray(0, Math.max(0, cap))
        .toString("utf8")
        .replace(/\uFFFD$/, "");
      truncated = true;
    }
    budget -= Buffer.byteLength(text);
    if (text === "" && !truncated) continue;
    bodies.unshift({ found: f, text, truncated });
  }
  if (bodies.length === 0) return { text: "", sources: [], fingerprint: fingerprintOf(found) };
  const sections = bodies.map(({ found: f, text, truncated }) => {
    const where =
      f.scope === "user"
        ? `user instructions (${f.path})`
        : f.scope === "project"
          ? `project instructions (${relative(cwd, f.path) || f.path})`
          : `instructions for files under ${f.appliesTo}/ only (${relative(cwd, f.path)})`;
    return `<memory source="${where}">\n${text}${truncated ? "\n[cut: file too long]" : ""}\n</memory>`;
  });
  const text = `\n\n# Project memory\nInstruction files, general first; where they disagree, a later one wins (for its folder).\n${sections.join("\n")}`;
  return {
    text,
    sources: bodies.map(({ found: f, text: body, truncated }) => ({
      path: f.path,
      scope: f.scope,
      ...(f.appliesTo !== undefined ? { appliesTo: f.appliesTo } : {}),
      bytes: Buffer.byteLength(body),
      truncated,
    })),
    fingerprint: fingerprintOf(found),
  };
}
