import { baseName, normalizeRelative, parentOf } from "./paths.ts";
import type { DirEntry, FileChange, FileStat, Workspace } from "./types.ts";
import { WorkspaceError } from "./types.ts";

interface MemoryFile {
  readonly data: Uint8Array;
  readonly mtimeMs: number;
}

/**
 * A workspace held in memory: for tests and for agents that must not touch a disk.
 * Absolute paths are read as rooted at the workspace; `..` may not climb above it.
 * Directories exist implicitly (as parents of files) or explicitly (`mkdir`). Commits are
 * atomic: they are checked completely before anything changes.
 */
export class MemoryWorkspace implements Workspace {
  readonly kind = "memory";
  readonly root = "memory:/";
  private readonly files = new Map<string, MemoryFile>();
  private readonly dirs = new Set<string>([""]);

  /** Seeds the workspace with files (path -> text or bytes). */
  constructor(files?: Record<string, string | Uint8Array>) {
    for (const [path, content] of Object.entries(files ?? {})) {
      const rel = this.resolve(path);
      this.put(rel, typeof content === "string" ? new TextEncoder().encode(content) : content);
    }
  }

  resolve(path: string): string {
    return normalizeRelative(path);
  }

  localPath(): undefined {
    return undefined;
  }

  /** Creates a directory (and its parents). */
  mkdir(path: string): void {
    const rel = this.resolve(path);
    if (this.files.has(rel)) throw new WorkspaceError("not_directory", path, `${path} is a file.`);
    for (let d = rel; d !== ""; d = parentOf(d)) this.dirs.add(d);
  }

  /** Every file path, sorted (for tests). */
  paths(): string[] {
    return [...this.files.keys()].sort();
  }

  async stat(path: string): Promise<FileStat | undefined> {
    const rel = this.resolve(path);
    const file = this.files.get(rel);
    if (file) return { kind: "file", size: file.data.byteLength, mtimeMs: file.mtimeMs };
    if (this.dirs.has(rel)) return { kind: "dir", size: 0, mtimeMs: 0 };
    return undefined;
  }

  async readFile(path: string): Promise<Uint8Array> {
    const rel = this.resolve(path);
    const file = this.files.get(rel);
    if (file) return file.data.slice();
    if (this.dirs.has(rel))
      throw new WorkspaceError("is_directory", path, `${path} is a directory, not a file.`);
    throw new WorkspaceError("not_found", path, `File not found: ${path}`);
  }

  async list(path: string): Promise<DirEntry[]> {
    const rel = this.resolve(path);
    if (this.files.has(rel))
      throw new WorkspaceError("not_directory", path, `${path} is a file, not a directory.`);
    if (!this.dirs.has(rel))
      throw new WorkspaceError("not_found", path, `Directory not found: ${path || "."}`);
    const out: DirEntry[] = [];
    for (const d of this.dirs)
      if (d !== "" && parentOf(d) === rel) out.push({ name: baseName(d), kind: "dir" });
    for (const f of this.files.keys()) if (parentOf(f) === rel) out.push({ name: baseName(f), kind: "file" });
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async commit(changes: readonly FileChange[], signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const resolved = changes.map((c) => ({ rel: this.resolve(c.path), path: c.path, content: c.content }));
    const seen = new Set<string>();
    for (const { rel, path, content } of resolved) {
      if (rel === "")
        throw new WorkspaceError("is_directory", path, "Cannot write the workspace root itself.");
      if (seen.has(rel))
        throw new WorkspaceError("write_failed", path, `${path} appears twice in one change set.`);
      seen.add(rel);
      if (this.dirs.has(rel)) throw new WorkspaceError("is_directory", path, `${path} is a directory.`);
      if (content === null && !this.files.has(rel))
        throw new WorkspaceError("not_found", path, `${path} does not exist, so it cannot be deleted.`);
      for (let d = parentOf(rel); d !== ""; d = parentOf(d)) {
        if (this.files.has(d) && !seen.has(d))
          throw new WorkspaceError(
            "write_failed",
            path,
            `Could not write ${path}: ${d} is a file, not a directory.`,
          );
      }
    }
    for (const { rel, content } of resolved) {
      if (content === null) this.files.delete(rel);
      else this.put(rel, content.slice());
    }
  }

  private put(rel: string, data: Uint8Array): void {
    this.files.set(rel, { data, mtimeMs: Date.now() });
    for (let d = parentOf(rel); d !== ""; d = parentOf(d)) this.dirs.add(d);
  }
}
