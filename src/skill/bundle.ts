import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { BundledFile, SkillProblem } from "./types.ts";

const MAX_FILES = 2000;
const MAX_DEPTH = 8;
const SKIP_DIRS = new Set([".git", "node_modules", "__pycache__", ".venv"]);

/**
 * Lists the files in a skill folder other than SKILL.md (relative paths with `/`), sorted.
 * Symbolic links are listed when they resolve to a file inside the folder. Bounded: at most
 * 2,000 files, 8 levels deep; version-control and dependency folders are skipped.
 */
export async function listBundledFiles(dir: string): Promise<BundledFile[]> {
  const out: BundledFile[] = [];
  const root = await realpath(dir);
  const walk = async (abs: string, rel: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH || out.length >= MAX_FILES) return;
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(abs, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (out.length >= MAX_FILES) return;
      const childRel = rel === "" ? entry.name : `${rel}/${entry.name}`;
      const childAbs = join(abs, entry.name);
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name)) await walk(childAbs, childRel, depth + 1);
      } else if (entry.isFile() || entry.isSymbolicLink()) {
        if (childRel === "SKILL.md") continue;
        const info = await fileInside(root, childAbs);
        if (info) out.push({ path: childRel, bytes: info.size });
      }
    }
  };
  await walk(dir, "", 0);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function fileInside(root: string, abs: string): Promise<{ size: number } | undefined> {
  try {
    const link = await lstat(abs);
    if (!link.isSymbolicLink()) return link.isFile() ? { size: link.size } : undefined;
    const target = await realpath(abs);
    if (!isInside(root, target)) return undefined;
    const info = await stat(target);
    return info.isFile() ? { size: info.size } : undefined;
  } catch {
    return undefined;
  }
}

/** True when `path` is `root` or below it (both absolute, already resolved). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel) && !rel.startsWith(`..${sep}`));
}

/**
 * Resolves a path relative to a skill folder, refusing anything that escapes it (`..`,
 * absolute paths, symbolic links pointing outside). Returns the real path or an error text.
 */
export async function resolveInside(
  dir: string,
  path: string,
): Promise<{ ok: true; path: string } | { ok: false; message: string }> {
  if (path === "" || isAbsolute(path))
    return { ok: false, message: `"${path}" must be a path relative to the skill folder` };
  const root = await realpath(dir);
  const candidate = resolve(root, path);
  if (!isInside(root, candidate)) return { ok: false, message: `"${path}" is outside the skill folder` };
  let real: string;
  try {
    real = await realpath(candidate);
  } catch {
    return { ok: false, message: `"${path}" does not exist in the skill folder` };
  }
  if (!isInside(root, real)) return { ok: false, message: `"${path}" links outside the skill folder` };
  return { ok: true, path: real };
}

// `scripts/x.py` mentioned anywhere, and relative Markdown link targets.
const SCRIPT_MENTION = /(?<![\w./-])scripts\/[\w./-]*[\w-]/g;
const MD_LINK = /\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;

/**
 * Finds files the body refers to that the folder does not contain: `scripts/...` mentions and
 * relative Markdown links. Each becomes a warning at its line (a skill may describe scripts
 * that are installed separately, so this never fails a skill).
 */
export function missingReferences(
  body: string,
  bodyLine: number,
  files: readonly BundledFile[],
  file: string,
): SkillProblem[] {
  const present = new Set(files.map((f) => f.path));
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.path.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  const problems: SkillProblem[] = [];
  const seen = new Set<string>();
  const lines = body.split("\n");
  lines.forEach((text, i) => {
    const refs: { ref: string; column: number }[] = [];
    for (const m of text.matchAll(SCRIPT_MENTION)) refs.push({ ref: m[0], column: (m.index ?? 0) + 1 });
    for (const m of text.matchAll(MD_LINK)) refs.push({ ref: m[1] as string, column: (m.index ?? 0) + 1 });
    for (const { ref, column } of refs) {
      const clean = normalizeRef(ref);
      if (clean === undefined || seen.has(clean)) continue;
      seen.add(clean);
      if (present.has(clean) || dirs.has(clean.replace(/\/$/, ""))) continue;
      problems.push({
        severity: "warning",
        code: "missing_reference",
        message: `the body refers to \`${clean}\`, which is not in the skill folder`,
        file,
        line: bodyLine + i,
        column,
      });
    }
  });
  return problems;
}

function normalizeRef(ref: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(ref) || ref.startsWith("#") || ref.startsWith("/")) return undefined;
  const path = (ref.split("#")[0] ?? "").split("?")[0] ?? "";
  if (path === "") return undefined;
  let clean = path.replace(/^\.\//, "");
  try {
    clean = decodeURIComponent(clean);
  } catch {
    // keep the raw text
  }
  if (clean.startsWith("../") || clean === "..") return undefined;
  return clean;
}
