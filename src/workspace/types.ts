/**
 * The storage every file tool goes through. A workspace names files by workspace-relative
 * POSIX paths ("src/a.ts"); `resolve` turns what a model wrote into that form and refuses
 * anything that would leave the workspace. Backends: local directory, memory, S3.
 */

/** What a path points at. Symlinks are reported as what they resolve to (inside the workspace). */
export type FileKind = "file" | "dir";

/** Metadata of one path. */
export interface FileStat {
  readonly kind: FileKind;
  /** Bytes (0 for directories). */
  readonly size: number;
  /** Last modification, ms since the epoch (0 when the backend does not know). */
  readonly mtimeMs: number;
}

/** One child of a directory. */
export interface DirEntry {
  readonly name: string;
  readonly kind: FileKind;
}

/**
 * One file change of an atomic commit: `content` replaces (or creates) the file; `null`
 * deletes it. Parent directories are created as needed.
 */
export interface FileChange {
  readonly path: string;
  readonly content: Uint8Array | null;
}

/** Storage for the file tools. Implementations: LocalWorkspace, MemoryWorkspace, S3Workspace. */
export interface Workspace {
  /** `local`, `memory` or `s3`: tools use it to pick fast paths (ripgrep needs a local root). */
  readonly kind: string;
  /** A human-readable root (directory, `memory:`, `s3://bucket/prefix`). */
  readonly root: string;
  /**
   * Normalizes a path the model wrote (relative to the root, or absolute inside it) to a
   * workspace-relative POSIX path ("" is the root). Throws WorkspaceError `path_escape`
   * for anything outside the workspace (`..`, absolute paths elsewhere, look-alike
   * separators, NUL bytes). Does not touch storage.
   */
  resolve(path: string): string;
  /** Metadata, or undefined when nothing is there. Throws WorkspaceError on escapes. */
  stat(path: string, signal?: AbortSignal): Promise<FileStat | undefined>;
  /** Reads a whole file. Throws WorkspaceError `not_found` / `is_directory` / `path_escape`. */
  readFile(path: string, signal?: AbortSignal): Promise<Uint8Array>;
  /** Children of a directory, sorted by name. Throws WorkspaceError `not_found` / `not_directory`. */
  list(path: string, signal?: AbortSignal): Promise<DirEntry[]>;
  /**
   * Applies every change or none: on any failure the files already changed are restored
   * and the error is rethrown (WorkspaceError `write_failed` naming the file).
   */
  commit(changes: readonly FileChange[], signal?: AbortSignal): Promise<void>;
  /**
   * The real filesystem path of a workspace path, when the backend is a local directory
   * (used to run ripgrep and shell commands there); undefined otherwise.
   */
  localPath(path: string): string | undefined;
}

/** Why a workspace operation failed. */
export type WorkspaceErrorCode =
  | "path_escape"
  | "invalid_path"
  | "not_found"
  | "is_directory"
  | "not_directory"
  | "write_failed"
  | "unavailable";

/** A workspace failure, written so a model can act on the message. */
export class WorkspaceError extends Error {
  override readonly name = "WorkspaceError";
  readonly code: WorkspaceErrorCode;
  /** The path as the caller gave it. */
  readonly path: string;

  constructor(code: WorkspaceErrorCode, path: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.path = path;
  }
}

/** True when `err` is a WorkspaceError, optionally with the given code. */
export function isWorkspaceError(err: unknown, code?: WorkspaceErrorCode): err is WorkspaceError {
  return err instanceof WorkspaceError && (code === undefined || err.code === code);
}
