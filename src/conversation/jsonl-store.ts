import { statSync } from "node:fs";
import { readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { describeError, isTaifengError, TaifengError } from "../errors.ts";
import type { RolloutLine } from "../protocol/index.ts";
import { ThreadArtifactFiles } from "./artifact-files.ts";
import { decodeResumePoint, type ResumePoint, ThreadTracker } from "./checkpoint.ts";
import type { FdBudget } from "./fd-budget.ts";
import { StoreDurability } from "./jsonl-durability.ts";
import { writeFully } from "./jsonl-files.ts";
import { checkIdentity, type ReadForWrite, readForWrite } from "./jsonl-open.ts";
import type { JsonlStoreOptions, JsonlStoreStats } from "./jsonl-options.ts";
import { ThreadOwnership } from "./jsonl-ownership.ts";
import { parseTranscript } from "./jsonl-reader.ts";
import { JsonlWriter } from "./jsonl-writer.ts";
import { currentProcess, type HeldLock, type ProcessIdentity } from "./lock-file.ts";
import { makeDirectory } from "./make-dir.ts";
import type {
  Durability,
  OpenedThread,
  ResumedThread,
  SessionBindings,
  ThreadMeta,
  ThreadQuery,
  ThreadStore,
  ThreadWriter,
} from "./store.ts";
import { type IndexReport, StoreIndex } from "./store-index.ts";
import { queryThreads, summarizeThread, type ThreadInfo } from "./summary.ts";
import type { RecoveryReport } from "./wal-recovery.ts";

export type { JsonlStoreOptions, JsonlStoreStats } from "./jsonl-options.ts";

const THREAD_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const SUFFIX = ".jsonl";
const INDEX_FILE = "index.sqlite";

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * The default store: one append-only JSONL file per thread (the truth) plus a SQLite thread
 * directory (an index rebuilt from the files whenever it is missing, corrupt or stale).
 * One writer per thread: this store refuses a second writer in the process, and an exclusive
 * lock file refuses one in any other process (TaifengError `thread_locked`); reading never
 * needs the lock. Descriptors come from a bounded budget (an open thread holds none while
 * idle), and durability is group-committed through a write-ahead log shared by all threads,
 * replayed by the next store on the directory after a crash. See docs/guides/persistence.md.
 */
export class JsonlThreadStore implements ThreadStore {
  readonly dir: string;
  readonly durability: Durability;
  private readonly options: JsonlStoreOptions;
  private readonly self: ProcessIdentity;
  private readonly writers = new Map<string, JsonlWriter>();
  private readonly owners: ThreadOwnership;
  private readonly index: StoreIndex | undefined;
  private readonly files: StoreDurability;
  private readonly budget: FdBudget;
  private closed = false;
  /** Session bindings in the SQLite directory; absent with `index: false`. */
  readonly sessions: SessionBindings | undefined;
  /** Artifacts beside the transcripts: `<dir>/<threadId>.artifacts/<id>.txt`. */
  readonly artifacts: ThreadArtifactFiles;

  constructor(options: JsonlStoreOptions) {
    this.options = options;
    this.dir = options.dir;
    this.durability = options.durability ?? "turn";
    this.self = currentProcess();
    this.files = new StoreDurability({
      options,
      durability: this.durability,
      self: this.self,
      threadId: THREAD_ID,
      writerOf: (threadId) => this.writers.get(threadId),
      warn: (message) => this.warn(message),
    });
    this.budget = this.files.budget;
    this.owners = new ThreadOwnership({
      dir: this.dir,
      self: this.self,
      budget: this.budget,
      isOpen: (threadId) => this.writers.has(threadId),
      recover: () => this.recover(),
    });
    this.index =
      options.index === false
        ? undefined
        : new StoreIndex({
            path: join(this.dir, INDEX_FILE),
            delayMs: options.indexDelayMs ?? 200,
            warn: (message) => this.warn(message),
            transcripts: () => this.transcripts(),
            read: (threadId) => this.read(threadId),
            live: (threadId) => this.writers.get(threadId),
          });
    this.artifacts = new ThreadArtifactFiles({
      dir: this.dir,
      maxBytesPerThread: options.maxArtifactBytes ?? 64 * 1024 * 1024,
      sync: this.durability !== "none",
      slot: (label, fn) => this.budget.withSlot(label, fn),
    });
    const index = this.index;
    this.sessions = index && {
      threadOf: (sessionId, ttlMs) => this.directoryCall(() => index.sessionThread(sessionId, ttlMs)),
      bind: async (sessionId, threadId) => {
        this.pathOf(threadId);
        await this.directoryCall(() => index.bindSession(sessionId, threadId));
      },
      unbind: (sessionId) => this.directoryCall(() => index.unbindSession(sessionId)),
    };
    try {
      makeDirectory(this.dir);
    } catch (err) {
      throw new TaifengError(
        "store_error",
        `cannot create storage directory ${this.dir}: ${describeError(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  /** The transcript file of a thread. Throws TaifengError `store_error` for an id unfit for a file name. */
  pathOf(threadId: string): string {
    if (!THREAD_ID.test(threadId)) {
      throw new TaifengError(
        "store_error",
        `invalid thread id ${JSON.stringify(threadId)}: use 1-128 letters, digits, "_", "-" or ".", starting with a letter or digit`,
      );
    }
    return join(this.dir, `${threadId}${SUFFIX}`);
  }

  async create(meta: ThreadMeta): Promise<ThreadWriter> {
    const path = this.pathOf(meta.threadId);
    await this.ready();
    return this.owners.reserve(meta.threadId, async () => {
      const lock = await this.owners.lock(meta.threadId);
      try {
        const line: RolloutLine = { ts: meta.createdAt, type: "thread_meta", payload: meta };
        const buf = Buffer.from(`${JSON.stringify(line)}\n`, "utf8");
        await this.budget
          .withFd(path, (fd) => writeFully(fd, buf, 0), "wx+")
          .catch((err: unknown) => {
            if (errno(err) === "EEXIST")
              throw new TaifengError("store_error", `thread ${meta.threadId} already exists (${path})`);
            throw isTaifengError(err) ? err : this.ioError("creating", path, err);
          });
        const file = { threadId: meta.threadId, path, offset: buf.length, firstLine: buf };
        return this.startWriter(file, lock, ThreadTracker.fresh(meta, meta.createdAt), null);
      } catch (err) {
        this.budget.forget(path);
        await lock.release();
        throw err;
      }
    });
  }

  async open(threadId: string): Promise<OpenedThread> {
    // Every line is returned, so the file is read whole; the checkpoint found is recorded.
    const { read, writer } = await this.openForWrite(threadId, "whole");
    return { lines: read.lines, writer, warnings: read.warnings };
  }

  /**
   * Opens a thread for writing and replays it from its latest compaction checkpoint (the
   * directory records where it lies and the state behind it): reading and memory depend on
   * what follows the checkpoint, not on the thread's age. The state is exactly a full
   * replay's; a checkpoint that is missing or does not match the file means a full read.
   * Throws as `open`. See docs/decisions/2600-resume-from-checkpoint.md.
   */
  async resume(threadId: string): Promise<ResumedThread> {
    const { read, writer } = await this.openForWrite(threadId, "checkpoint");
    const fold = read.tracker.fold;
    const replayed = fold.result();
    fold.forgetItems(); // the engine's ThreadLog keeps the history; the writer needs counts only
    return {
      replayed,
      writer,
      warnings: read.warnings,
      lineCount: read.tracker.lines,
      linesRead: read.lines.length,
    };
  }

  private async openForWrite(
    threadId: string,
    mode: "whole" | "checkpoint",
  ): Promise<{ read: ReadForWrite; writer: JsonlWriter }> {
    const path = this.pathOf(threadId);
    await this.ready();
    return this.owners.reserve(threadId, async () => {
      const lock = await this.owners.lock(threadId);
      try {
        const recorded = decodeResumePoint(this.index?.resumePoint(threadId));
        const from = mode === "checkpoint" ? recorded : undefined;
        const read = await readForWrite({
          budget: this.budget,
          path,
          threadId,
          dir: this.dir,
          durability: this.durability,
          from,
          keepItems: mode === "checkpoint",
          warn: (message) => this.warn(message),
        });
        const latest = read.tracker.latest;
        const file = { threadId, path, offset: read.validBytes, firstLine: undefined };
        const same = latest && recorded && latest.offset === recorded.offset && latest.crc === recorded.crc;
        const writer = this.startWriter(file, lock, read.tracker, same ? undefined : (latest ?? null));
        return { read, writer };
      } catch (err) {
        this.budget.forget(path);
        await lock.release();
        throw err;
      }
    });
  }

  async read(threadId: string): Promise<RolloutLine[]> {
    const path = this.pathOf(threadId);
    await this.ready();
    let buf: Buffer;
    try {
      buf = await this.budget.withSlot(path, () => readFile(path));
    } catch (err) {
      if (errno(err) === "ENOENT")
        throw new TaifengError("thread_not_found", `no thread ${threadId} in ${this.dir}`);
      throw isTaifengError(err) ? err : this.ioError("reading", path, err);
    }
    const lines = parseTranscript(buf, path).lines;
    const first = lines[0];
    if (first?.type === "thread_meta") checkIdentity(first.payload.threadId, threadId, path);
    return lines;
  }

  async exists(threadId: string): Promise<boolean> {
    const path = this.pathOf(threadId);
    await this.ready();
    try {
      statSync(path);
      return true;
    } catch (err) {
      if (errno(err) === "ENOENT") return false;
      throw err;
    }
  }

  /** Threads from the SQLite directory, after bringing it up to date with the files. */
  async list(query: ThreadQuery = {}): Promise<ThreadInfo[]> {
    await this.ready();
    if (this.index) return this.index.query(query);
    const infos: ThreadInfo[] = [];
    for (const { threadId } of await this.transcripts())
      infos.push(summarizeThread(await this.read(threadId)));
    return queryThreads(infos, query);
  }

  /** One thread's directory row (after reconciling), or undefined when it does not exist. */
  async info(threadId: string): Promise<ThreadInfo | undefined> {
    this.pathOf(threadId);
    await this.ready();
    if (this.index) return this.index.get(threadId);
    return (await this.exists(threadId)) ? summarizeThread(await this.read(threadId)) : undefined;
  }

  async delete(threadId: string): Promise<void> {
    const path = this.pathOf(threadId);
    await this.ready();
    await this.owners.reserve(threadId, async () => {
      const lock = await this.owners.lock(threadId);
      try {
        // Logged first, so a replay after a crash never brings back what was deleted.
        if ((await this.exists(threadId)) && this.files.wal) await this.files.wal.deleted(threadId);
        this.budget.forget(path);
        await unlink(path).catch((err: unknown) => {
          if (errno(err) === "ENOENT")
            throw new TaifengError("thread_not_found", `no thread ${threadId} in ${this.dir}`);
          throw this.ioError("deleting", path, err);
        });
        this.index?.remove(threadId);
        await this.artifacts.deleteThread(threadId);
      } finally {
        await lock.release();
      }
    });
  }

  /**
   * Re-creates the thread directory from the transcripts: every row is dropped and every
   * `.jsonl` file read again. Corrupt transcripts are reported in `skipped`.
   */
  async rebuildIndex(): Promise<IndexReport> {
    if (!this.index) throw new TaifengError("store_error", "this store was opened with index: false");
    return this.index.rebuild();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.owners.close();
    const results = await Promise.allSettled([...this.writers.values()].map((w) => w.close()));
    results.push(...(await this.files.close()));
    this.index?.close();
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  private async transcripts(): Promise<{ threadId: string; path: string }[]> {
    const out: { threadId: string; path: string }[] = [];
    for (const name of await this.budget.withSlot(this.dir, () => readdir(this.dir))) {
      const threadId = name.slice(0, -SUFFIX.length);
      if (name.endsWith(SUFFIX) && THREAD_ID.test(threadId))
        out.push({ threadId, path: join(this.dir, name) });
    }
    return out;
  }

  /** `point`: the checkpoint to record for the thread now (null: none; undefined: keep the recorded one). */
  private startWriter(
    file: { threadId: string; path: string; offset: number; firstLine: Buffer | undefined },
    lock: HeldLock,
    tracker: ThreadTracker,
    point: ResumePoint | null | undefined,
  ): JsonlWriter {
    const { threadId, offset } = file;
    const release = this.files.release;
    const writer = new JsonlWriter({
      ...file,
      lines: tracker.lines,
      budget: this.budget,
      wal: this.files.wal,
      ...(release ? { release } : {}),
      durability: this.durability,
      batchDelayMs: this.options.batchDelayMs ?? 25,
      maxBatchBytes: this.options.maxBatchBytes ?? 256 * 1024,
      lock,
      tracker,
      ...(file.firstLine && this.durability !== "none"
        ? { syncDirectory: () => this.files.syncStoreDir() }
        : {}),
      onFlushed: (info, bytes, flushedPoint) => this.index?.queue(info, bytes, flushedPoint),
      onCommitted: this.options.onCommitted,
      onSynced: () => this.files.countTranscriptSync(),
      onClosed: (durable) => {
        if (this.writers.get(threadId) === writer) this.writers.delete(threadId);
        if (!durable) this.files.closedUndurable(threadId);
      },
    });
    this.writers.set(threadId, writer);
    this.index?.queue(tracker.info(), offset, point);
    return writer;
  }

  /** The descriptor budget in use (see JsonlStoreOptions.maxOpenFiles). */
  get maxOpenFiles(): number {
    return this.budget.maxOpen;
  }

  /** Counters of the descriptor budget and the write-ahead log. */
  stats(): JsonlStoreStats {
    return { ...this.files.stats(), directory: this.index?.stats };
  }

  /** Replays the write-ahead logs dead processes left in this directory (see StoreDurability.recover). */
  recover(): Promise<RecoveryReport> {
    return this.files.recover();
  }

  private ready(): Promise<unknown> {
    return this.files.ready();
  }

  private async directoryCall<T>(fn: () => T | Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new TaifengError(
        "store_error",
        `the thread directory ${join(this.dir, INDEX_FILE)} failed: ${describeError(err)}`,
        { cause: err },
      );
    }
  }

  private warn(message: string): void {
    this.options.onWarning?.(message);
  }

  private ioError(action: string, path: string, err: unknown): TaifengError {
    return new TaifengError(
      "store_error",
      `${action} transcript ${path} failed (${errno(err) ?? "error"}): ${describeError(err)}`,
      { cause: err, details: { path, code: errno(err) } },
    );
  }
}
