import { randomBytes } from "node:crypto";
import type * as nodeFs from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { describeError } from "../errors.ts";
import { WorkspaceError } from "./types.ts";

/** The filesystem operations a local workspace uses (a subset of `node:fs/promises`). */
export type LocalFs = Pick<
  typeof nodeFs,
  | "realpath"
  | "lstat"
  | "stat"
  | "readFile"
  | "readdir"
  | "writeFile"
  | "rename"
  | "unlink"
  | "link"
  | "copyFile"
  | "mkdir"
  | "rmdir"
  | "chmod"
>;

/** One resolved change: `real` is the absolute real path inside the workspace. */
export interface LocalTarget {
  readonly path: string;
  readonly real: string;
  readonly content: Uint8Array | null;
}

interface Staged {
  readonly target: LocalTarget;
  tmp: string | undefined;
  backup: string | undefined;
  existed: boolean;
  applied: boolean;
}

function sidecar(real: string, kind: "tmp" | "bak"): string {
  return join(dirname(real), `.${basename(real)}.taifeng-${randomBytes(6).toString("hex")}.${kind}`);
}

/**
 * Writes every target or none, in two phases. Stage: each new content goes to a temp file
 * beside its target (same directory, so the rename is atomic), with the old file's mode.
 * Apply: each existing target is first hard-linked (or copied) to a backup, then replaced
 * by rename or unlinked. Any failure, abort included, renames the backups back, removes
 * the new files, temps and directories it created, and throws WorkspaceError
 * `write_failed` naming the file that failed.
 */
export async function commitLocal(
  fs: LocalFs,
  targets: readonly LocalTarget[],
  signal?: AbortSignal,
): Promise<void> {
  const staged: Staged[] = targets.map((target) => ({
    target,
    tmp: undefined,
    backup: undefined,
    existed: false,
    applied: false,
  }));
  const createdDirs: string[] = [];
  let current: LocalTarget | undefined;
  try {
    for (const s of staged) {
      current = s.target;
      signal?.throwIfAborted();
      await stage(fs, s, createdDirs);
    }
    for (const s of staged) {
      current = s.target;
      signal?.throwIfAborted();
      await apply(fs, s);
    }
  } catch (err) {
    const problems = await rollback(fs, staged, createdDirs);
    const what = current ? current.path : "the change set";
    const reason = err instanceof WorkspaceError ? err.message : describeError(err);
    const outcome =
      problems.length === 0
        ? "No file was changed."
        : `Rollback was incomplete, check these files: ${problems.join("; ")}`;
    throw new WorkspaceError("write_failed", what, `Could not write ${what}: ${reason} ${outcome}`, {
      cause: err,
    });
  }
  for (const s of staged) if (s.backup) await fs.unlink(s.backup).catch(() => {});
}

async function stage(fs: LocalFs, s: Staged, createdDirs: string[]): Promise<void> {
  const { real, path, content } = s.target;
  const before = await fs.lstat(real).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (before?.isDirectory()) throw new WorkspaceError("is_directory", path, `${path} is a directory.`);
  s.existed = before !== undefined;
  if (content === null) {
    if (!s.existed)
      throw new WorkspaceError("not_found", path, `${path} does not exist, so it cannot be deleted.`);
    return;
  }
  await makeParents(fs, dirname(real), createdDirs);
  const tmp = sidecar(real, "tmp");
  await fs.writeFile(tmp, content, { flag: "wx" });
  s.tmp = tmp;
  if (before) await fs.chmod(tmp, before.mode & 0o7777);
}

async function apply(fs: LocalFs, s: Staged): Promise<void> {
  const { real, content } = s.target;
  if (s.existed) {
    const backup = sidecar(real, "bak");
    try {
      await fs.link(real, backup);
    } catch {
      await fs.copyFile(real, backup);
    }
    s.backup = backup;
  }
  if (content === null) await fs.unlink(real);
  else {
    await fs.rename(s.tmp as string, real);
    s.tmp = undefined;
  }
  s.applied = true;
}

async function makeParents(fs: LocalFs, dir: string, createdDirs: string[]): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    const st = await fs.stat(d).catch(() => undefined);
    if (st) {
      if (!st.isDirectory()) throw new Error(`${d} is a file, not a directory`);
      break;
    }
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    await fs.mkdir(d);
    createdDirs.push(d);
  }
}

/** Undoes what was applied; returns descriptions of anything it could not restore. */
async function rollback(
  fs: LocalFs,
  staged: readonly Staged[],
  createdDirs: readonly string[],
): Promise<string[]> {
  const problems: string[] = [];
  for (const s of [...staged].reverse()) {
    const { real, path } = s.target;
    try {
      if (s.applied && s.backup) await fs.rename(s.backup, real);
      else if (s.applied) await fs.unlink(real);
      // Not applied: the original is untouched and the backup is a second link to it.
      else if (s.backup) await fs.unlink(s.backup);
    } catch (err) {
      problems.push(`${path} (${describeError(err)})`);
    }
    if (s.tmp) await fs.unlink(s.tmp).catch(() => {});
  }
  for (const d of [...createdDirs].reverse()) await fs.rmdir(d).catch(() => {});
  return problems;
}
