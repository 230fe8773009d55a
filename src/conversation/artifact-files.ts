import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { describeError, TaifengError } from "../errors.ts";
import { ARTIFACT_ID, type ArtifactRef, type ArtifactStore, artifactId } from "../tool/artifacts.ts";

/** Options for ThreadArtifactFiles. */
export interface ArtifactFilesOptions {
  /** The store's directory: a thread's artifacts go to `<dir>/<threadId>.artifacts/`. */
  readonly dir: string;
  /** Most bytes of artifacts kept per thread; the oldest go first. */
  readonly maxBytesPerThread: number;
  /** Fsync each artifact (and its directory) before its reference is handed out. */
  readonly sync: boolean;
  /**
   * Runs file work holding one descriptor of the store's budget (ADR 1300), so artifacts wait
   * out EMFILE/ENFILE like transcripts do. Default: runs it directly.
   */
  readonly slot?: <T>(label: string, fn: () => Promise<T>) => Promise<T>;
}

/** Same counting as the in-memory store: lines of the text. */
function ref(id: string, content: string): ArtifactRef {
  let lines = content.length === 0 ? 0 : 1;
  for (let i = content.indexOf("\n"); i >= 0 && i < content.length - 1; i = content.indexOf("\n", i + 1))
    lines++;
  return { id, chars: content.length, lines };
}

/**
 * A JSONL store's artifacts: one file per artifact beside the transcript
 * (`<dir>/<threadId>.artifacts/<id>.txt`), written atomically (temporary file, fsync, rename)
 * before the reference to it is returned, so a transcript line naming an artifact never
 * outlives the artifact in a crash. Ids come from the content (artifactId): saving again is
 * idempotent. Each thread keeps at most `maxBytesPerThread`; past that the oldest artifacts are
 * removed (read_artifact then says the id is no longer kept). Deleting the thread deletes them.
 */
export class ThreadArtifactFiles implements ArtifactStore {
  private readonly options: ArtifactFilesOptions;

  constructor(options: ArtifactFilesOptions) {
    this.options = options;
  }

  /** A thread's artifact folder (the thread id was validated by the store). */
  folderOf(threadId: string): string {
    return join(this.options.dir, `${threadId}.artifacts`);
  }

  async save(
    threadId: string,
    content: string,
    meta: { tool: string; callId: string },
  ): Promise<ArtifactRef> {
    const bytes = Buffer.byteLength(content, "utf8");
    if (bytes > this.options.maxBytesPerThread) {
      throw new TaifengError(
        "store_error",
        `an artifact of ${bytes} bytes exceeds the per-thread artifact budget of ${this.options.maxBytesPerThread} bytes`,
      );
    }
    const id = artifactId(threadId, meta.callId, content);
    const folder = this.folderOf(threadId);
    const path = join(folder, `${id}.txt`);
    try {
      // Each step may be repeated from its start after EMFILE: the folder is fsynced every time.
      await this.slot(path, () => this.write(folder, path, content));
      if (this.options.sync) await this.slot(folder, () => syncFolder(folder));
      await this.slot(folder, () => this.enforceBudget(folder, id));
    } catch (err) {
      throw new TaifengError(
        "store_error",
        `saving artifact ${id} in ${folder} failed: ${describeError(err)}`,
        {
          cause: err,
        },
      );
    }
    return ref(id, content);
  }

  private slot<T>(label: string, fn: () => Promise<T>): Promise<T> {
    return this.options.slot ? this.options.slot(label, fn) : fn();
  }

  /** Writes an artifact atomically unless it exists (one descriptor at a time; the caller fsyncs the folder). */
  private async write(folder: string, path: string, content: string): Promise<void> {
    await mkdir(folder).catch(ignoreExisting);
    if (!(await exists(path))) {
      const temp = `${path}.${process.pid}.tmp`;
      const handle = await open(temp, "w");
      try {
        await handle.writeFile(content, "utf8");
        if (this.options.sync) await handle.datasync();
      } finally {
        await handle.close();
      }
      await rename(temp, path);
    }
  }

  async read(threadId: string, id: string): Promise<string | undefined> {
    if (!ARTIFACT_ID.test(id)) return undefined;
    try {
      const path = join(this.folderOf(threadId), `${id}.txt`);
      return await this.slot(path, () => readFile(path, "utf8"));
    } catch {
      return undefined;
    }
  }

  /** Removes every artifact of a thread (its transcript was deleted). */
  async deleteThread(threadId: string): Promise<void> {
    await rm(this.folderOf(threadId), { recursive: true, force: true });
  }

  /** Gives a fork its source's artifacts (hard links: no copy of the bytes). */
  async copyThread(from: string, to: string): Promise<void> {
    const source = this.folderOf(from);
    const names = await this.slot(source, () => readdir(source)).catch(() => [] as string[]);
    if (names.length === 0) return;
    const target = this.folderOf(to);
    await mkdir(target).catch(ignoreExisting);
    for (const name of names) {
      if (!name.endsWith(".txt")) continue;
      await link(join(source, name), join(target, name)).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code !== "EEXIST") throw err;
      });
    }
  }

  /** Removes the oldest artifacts (by modification time) while the folder is over budget. */
  private async enforceBudget(folder: string, keep: string): Promise<void> {
    const names = (await readdir(folder)).filter((n) => n.endsWith(".txt"));
    const files = await Promise.all(
      names.map(async (name) => {
        const s = await stat(join(folder, name)).catch(() => undefined);
        return { name, size: s?.size ?? 0, mtime: s?.mtimeMs ?? 0 };
      }),
    );
    let total = files.reduce((n, f) => n + f.size, 0);
    if (total <= this.options.maxBytesPerThread) return;
    files.sort((a, b) => a.mtime - b.mtime || a.name.localeCompare(b.name));
    for (const file of files) {
      if (total <= this.options.maxBytesPerThread) break;
      if (file.name === `${keep}.txt`) continue;
      await unlink(join(folder, file.name)).catch(() => {});
      total -= file.size;
    }
  }
}

/** The store's directory exists: only the thread's own folder is created (never `mkdir -p`). */
function ignoreExisting(err: NodeJS.ErrnoException): void {
  if (err.code !== "EEXIST") throw err;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
