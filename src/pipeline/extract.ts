/** Files written inside model output, taken out safely into a workspace. */
import type { Workspace } from "../workspace/types.ts";

/** One file found in model output. */
export interface ExtractedFile {
  readonly path: string;
  readonly content: string;
  /** `file_tag` for `<file path="...">`, `fence` for a fenced block naming its path. */
  readonly source: "file_tag" | "fence";
}

const FILE_TAG = /<file\s+path\s*=\s*(["'])([^"'\n]+)\1\s*>\n?([\s\S]*?)\n?<\/file>/g;
const FENCE = /^(`{3,}|~{3,})([^\n`]*)\n([\s\S]*?)\n\1[ \t]*$/gm;
const PATH_ATTR = /\b(?:path|file|filename|title)\s*=\s*(["']?)([^\s"']+)\1/;
const PATHLIKE = /^(?:\.{0,2}\/)?[\w@.+-]+(?:\/[\w@.+-]+)*\.[A-Za-z0-9]{1,10}$/;

/** The path a fence's info string names: `ts path=src/a.ts`, `ts title="a.ts"`, or `ts src/a.ts`. */
function fencePath(info: string): string | undefined {
  const attr = PATH_ATTR.exec(info)?.[2];
  if (attr) return attr;
  const words = info.trim().split(/\s+/);
  const candidate = words.length >= 2 ? words[1] : words[0]?.includes("/") ? words[0] : undefined;
  return candidate && PATHLIKE.test(candidate) ? candidate : undefined;
}

/**
 * Every file in `text`: `<file path="...">...</file>` blocks first, then fenced blocks whose
 * info string names a path (fences inside a file tag are part of that file). A later block
 * for the same path replaces an earlier one. Blocks without a path are ignored.
 */
export function extractFiles(text: string): ExtractedFile[] {
  const byPath = new Map<string, ExtractedFile>();
  const rest = text.replace(FILE_TAG, (_m, _q, path: string, content: string) => {
    byPath.set(path.trim(), { path: path.trim(), content, source: "file_tag" });
    return "";
  });
  for (const m of rest.matchAll(FENCE)) {
    const path = fencePath(m[2] ?? "");
    if (path) byPath.set(path, { path, content: m[3] ?? "", source: "fence" });
  }
  return [...byPath.values()];
}

/** Why one file was not written. */
export interface RejectedFile {
  readonly path: string;
  readonly reason: string;
}

/** Options of `writeExtracted`. */
export interface WriteExtractedOptions {
  /** Files larger than this (bytes) are rejected. Default 1 MiB. */
  readonly maxFileBytes?: number;
  /** Most files written at once. Default 200. */
  readonly maxFiles?: number;
  readonly signal?: AbortSignal;
}

/**
 * Writes extracted files into a workspace, all or nothing: every path is checked by the
 * workspace's own guard first (no `..`, no absolute path outside it, no look-alike
 * separators), oversize files and too many files are refused, and only when every file passes
 * are they committed in one atomic change. Returns what was written or, with nothing written,
 * every file that was refused and why.
 */
export async function writeExtracted(
  workspace: Workspace,
  files: readonly ExtractedFile[],
  options: WriteExtractedOptions = {},
): Promise<{ readonly written: readonly string[]; readonly rejected: readonly RejectedFile[] }> {
  const maxBytes = options.maxFileBytes ?? 1024 * 1024;
  const maxFiles = options.maxFiles ?? 200;
  const rejected: RejectedFile[] = [];
  if (files.length > maxFiles)
    return { written: [], rejected: [{ path: "*", reason: `${files.length} files (at most ${maxFiles})` }] };
  const changes: { path: string; content: Uint8Array }[] = [];
  for (const f of files) {
    let path: string;
    try {
      path = workspace.resolve(f.path);
    } catch (err) {
      rejected.push({ path: f.path, reason: (err as Error).message });
      continue;
    }
    if (path === "") {
      rejected.push({ path: f.path, reason: "names the workspace root, not a file" });
      continue;
    }
    const content = new TextEncoder().encode(f.content.endsWith("\n") ? f.content : `${f.content}\n`);
    if (content.byteLength > maxBytes) {
      rejected.push({ path: f.path, reason: `${content.byteLength} bytes (at most ${maxBytes})` });
      continue;
    }
    changes.push({ path, content });
  }
  if (rejected.length > 0) return { written: [], rejected };
  await workspace.commit(changes, options.signal);
  return { written: changes.map((c) => c.path), rejected: [] };
}
