import { type Dirent, realpathSync } from "node:fs";
import * as nodeFs from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { commitLocal, type LocalFs } from "./local-commit.ts";
import { normalizeRelative } from "./paths.ts";
import type { DirEntry, FileChange, FileStat, Workspace } from "./types.ts";
import { WorkspaceError } from "./types.ts";

/** Options for `LocalWorkspace`. */
export interface LocalWorkspaceOptions {
  /** The directory the workspace exposes; must exist. */
  readonly root: string;
  /** Filesystem operations (default `node:fs/promises`); tests inject faults here. */
  readonly fs?: LocalFs;
}

/**
 * A workspace on a local directory. Every path is normalized (no `..` above the root, no
 * absolute paths elsewhere, no look-alike separators) and then resolved through the real
 * filesystem, so a symlink that leads outside the root is refused as well. Multi-file
 * commits are atomic: temp files plus rename, rolled back on any failure.
 *
 * Paths are checked when used; a process that swaps a directory for a symlink between the
 * check and the use (a race) is outside what this guards against — run untrusted commands
 * in a sandbox (see `src/sandbox`).
 */
export class LocalWorkspace implements Workspace {
  readonly kind = "local";
  /** The root as given, made absolute. */
  readonly root: string;
  /** The root with symlinks resolved: every real path must stay under it. */
  readonly realRoot: string;
  private readonly fs: LocalFs;

  /** Throws WorkspaceError `unavailable` when the root does not exist. */
  constructor(options: LocalWorkspaceOptions) {
    try {
      this.realRoot = realpathSync(options.root);
    } catch (err) {
      throw new WorkspaceError(
        "unavailable",
        options.root,
        `workspace root ${options.root} does not exist or cannot be read`,
        { cause: err },
      );
    }
    this.root = options.root.startsWith("/") ? options.root.replace(/\/+$/, "") || "/" : this.realRoot;
    this.fs = options.fs ?? nodeFs;
  }

  resolve(path: string): string {
    try {
      return normalizeRelative(path, this.realRoot);
    } catch (err) {
      if (this.root !== this.realRoot && path.startsWith(this.root))
        return normalizeRelative(path, this.root);
      throw err;
    }
  }

  localPath(path: string): string {
    const rel = this.resolve(path);
    return rel === "" ? this.realRoot : join(this.realRoot, rel);
  }

  /**
   * The real absolute path of a workspace path: the deepest existing ancestor is resolved
   * through symlinks and must stay inside the root; the part that does not exist yet is
   * appended as is. Throws WorkspaceError `path_escape`.
   */
  async realPath(path: string): Promise<string> {
    const rel = this.resolve(path);
    const abs = rel === "" ? this.realRoot : join(this.realRoot, rel);
    let existing = abs;
    let tail = "";
    for (;;) {
      try {
        const real = await this.fs.realpath(existing);
        if (!this.inside(real)) {
          throw new WorkspaceError(
            "path_escape",
            path,
            `Path ${JSON.stringify(path)} leads through a symbolic link to ${real}, outside the workspace.`,
          );
        }
        return tail === "" ? real : join(real, tail);
      } catch (err) {
        if (err instanceof WorkspaceError) throw err;
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== "ENOENT" && code !== "ENOTDIR") || existing === this.realRoot) throw err;
        // A dangling symlink would be created through: refuse it rather than follow it later.
        const link = await this.fs.lstat(existing).catch(() => undefined);
        if (link?.isSymbolicLink()) {
          throw new WorkspaceError(
            "path_escape",
            path,
            `Path ${JSON.stringify(path)} goes through a broken symbolic link; refusing to follow it.`,
          );
        }
        const name = existing.slice(dirname(existing).length + 1);
        tail = tail === "" ? name : join(name, tail);
        existing = dirname(existing);
      }
    }
  }

  private inside(real: string): boolean {
    return (
      real === this.realRoot ||
      real.startsWith(this.realRoot.endsWith(sep) ? this.realRoot : this.realRoot + sep)
    );
  }

  async stat(path: string): Promise<FileStat | undefined> {
    const real = await this.realPath(path);
    try {
      const st = await this.fs.stat(real);
      return {
        kind: st.isDirectory() ? "dir" : "file",
        size: st.isDirectory() ? 0 : st.size,
        mtimeMs: st.mtimeMs,
      };
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async readFile(path: string, signal?: AbortSignal): Promise<Uint8Array> {
    const real = await this.realPath(path);
    let st: Awaited<ReturnType<LocalFs["stat"]>>;
    try {
      st = await this.fs.stat(real);
    } catch (err) {
      if (isMissing(err)) throw new WorkspaceError("not_found", path, `File not found: ${path}`);
      throw err;
    }
    if (st.isDirectory())
      throw new WorkspaceError("is_directory", path, `${path} is a directory, not a file.`);
    return this.fs.readFile(real, signal ? { signal } : undefined);
  }

  async list(path: string): Promise<DirEntry[]> {
    const real = await this.realPath(path);
    let entries: Dirent<string>[];
    try {
      entries = await this.fs.readdir(real, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT")
        throw new WorkspaceError("not_found", path, `Directory not found: ${path || "."}`);
      if (code === "ENOTDIR")
        throw new WorkspaceError("not_directory", path, `${path} is a file, not a directory.`);
      throw err;
    }
    const out: DirEntry[] = [];
    for (const entry of entries) {
      if (entry.isDirectory()) out.push({ name: entry.name, kind: "dir" });
      else if (entry.isSymbolicLink()) {
        // Links are shown as what they point at, and only when that is inside the workspace.
        const target = await this.fs.realpath(join(real, entry.name)).catch(() => undefined);
        if (target === undefined || !this.inside(target)) continue;
        const st = await this.fs.stat(target).catch(() => undefined);
        if (st) out.push({ name: entry.name, kind: st.isDirectory() ? "dir" : "file" });
      } else out.push({ name: entry.name, kind: "file" });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async commit(changes: readonly FileChange[], signal?: AbortSignal): Promise<void> {
    const targets: { path: string; real: string; content: Uint8Array | null }[] = [];
    const seen = new Set<string>();
    for (const change of changes) {
      const real = await this.realPath(change.path);
      if (real === this.realRoot) {
        throw new WorkspaceError("is_directory", change.path, "Cannot write the workspace root itself.");
      }
      if (seen.has(real)) {
        throw new WorkspaceError(
          "write_failed",
          change.path,
          `${change.path} appears twice in one change set.`,
        );
      }
      seen.add(real);
      targets.push({ path: change.path, real, content: change.content });
    }
    await commitLocal(this.fs, targets, signal);
  }
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}
