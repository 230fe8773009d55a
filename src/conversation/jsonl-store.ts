import { statSync } from "node:fs";
import { readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { describeError, isTaifengError, TaifengError } from "../errors.ts";
import type { RolloutLine } from "../protocol/index.ts";
import { ThreadArtifactFiles } from "./artifact-files.ts";
import { decodeResumePoint, type ResumePoint, ThreadTracker } from "./checkpoint.ts";
import { defaultMaxOpen, FdBudget, type FdBudgetStats } from "./fd-budget.ts";
import { GroupSync, ReleaseBatch, type ReleaseRequest } from "./group-sync.ts";
import { coalesced, syncDirectory, writeFully } from "./jsonl-files.ts";
import { checkIdentity, type ReadForWrite, readForWrite } from "./jsonl-open.ts";
import { parseTranscript } from "./jsonl-reader.ts";
import { type CommitInfo, JsonlWriter } from "./jsonl-writer.ts";
import { acquireLock, currentProcess, type HeldLock, type ProcessIdentity } from "./lock-file.ts";
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
import { GroupCommitLog, type GroupCommitStats } from "./wal.ts";
import { type RecoveryReport, recoverOrphans } from "./wal-recovery.ts";

/** Options for a JsonlThreadStore. Only `dir` is required. */
export interface JsonlStoreOptions {
  /** Directory holding `<threadId>.jsonl` transcripts, their lock files and `index.sqlite`. Created if missing. */
  readonly dir: string;
  /** Default `turn`. See Durability. */
  readonly durability?: Durability;
  /** Longest time appended lines wait before a background write (modes `turn`, `none`). Default 25 ms. */
  readonly batchDelayMs?: number;
  /** Queued bytes that trigger a write at once. Default 256 KiB. */
  readonly maxBatchBytes?: number;
  /** Keep the SQLite thread directory up to date. Default true. */
  readonly index?: boolean;
  /**
   * Rows of flushed threads are written to the directory in one transaction at most this
   * often (and before every listing and on close). Default 200 ms.
   */
  readonly indexDelayMs?: number;
  /**
   * Most bytes of artifacts (full texts of capped tool outputs) kept per thread, beside its
   * transcript in `<dir>/<threadId>.artifacts/`; the oldest go first. Default 64 MiB.
   */
  readonly maxArtifactBytes?: number;
  /** Hears about problems that lose nothing: an index rebuilt, a row that could not be updated. */
  readonly onWarning?: (message: string) => void;
  /**
   * Called whenever a thread's lines reach the durability the mode promises: fsynced under
   * `turn` (at each flush) and `item` (after every batch), written to the OS under `none`.
   * Lines counted here are acknowledged: they survive a crash (see the persistence guide).
   */
  readonly onCommitted?: (commit: CommitInfo) => void;
  /**
   * Durability `turn`/`item` through one process-level write-ahead log whose fsyncs are
   * shared by every thread (group commit), instead of an fsync of each transcript. Default
   * true. See docs/decisions/1301-group-commit-wal.md.
   */
  readonly groupCommit?: boolean;
  /**
   * Most file descriptors the store holds at once (transcripts are opened on demand and the
   * least recently used idle one is closed). Default 128, or a quarter of `ulimit -n` when
   * that is lower. See docs/decisions/1300-descriptor-budget.md.
   */
  readonly maxOpenFiles?: number;
  /**
   * How long an operation waits for a descriptor while nothing is freed (budget stuck), or
   * while the process is out of them (`EMFILE`/`ENFILE`), before it fails with `store_error`
   * (`details.reason: "descriptors_exhausted"`). Closing a thread always waits. Default 30 s.
   */
  readonly fdWaitMs?: number;
  /**
   * Writers closing together (a pool closing or evicting many sessions) make their
   * transcripts durable as a group: from this many at once, with one syncfs(2) of the
   * store's file system instead of an fdatasync each (Linux 5.8+, where syncfs reports
   * write-back errors; `false` never). Default 64. See docs/decisions/2601-grouped-release.md.
   */
  readonly syncfsMin?: number | false;
  /** A write-ahead log segment is checkpointed past this size. Default 32 MiB. */
  readonly walCheckpointBytes?: number;
  /** ... or at the latest this long after its first record. Default 5 s. */
  readonly walCheckpointMs?: number;
}

/** Counters of a JsonlThreadStore (for benchmarks and diagnostics). */
export interface JsonlStoreStats {
  readonly fds: FdBudgetStats;
  /** Undefined without group commit. */
  readonly wal: GroupCommitStats | undefined;
  /**
   * Transcript fsyncs by writers: at close (group commit: grouped, a syncfs counting as one,
   * the directory fsync of new threads included), or at every flush without it.
   */
  readonly transcriptSyncs: number;
  /** Closing threads released in groups (undefined without group commit). */
  readonly releases:
    | { readonly groups: number; readonly threads: number; readonly fsyncs: number }
    | undefined;
}

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
  private readonly reserved = new Set<string>();
  private readonly index: StoreIndex | undefined;
  private readonly budget: FdBudget;
  private readonly wal: GroupCommitLog | undefined;
  private readonly groupSync: GroupSync;
  private readonly releases: ReleaseBatch | undefined;
  /** Threads closed without their logged lines made durable in place (their segments must stay). */
  private readonly undurable = new Set<string>();
  private readonly syncStoreDir: () => Promise<void>;
  private readonly syncWalDir: () => Promise<void>;
  private recovery: Promise<RecoveryReport> | undefined;
  private transcriptSyncs = 0;
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
    this.budget = new FdBudget({
      maxOpen: options.maxOpenFiles ?? defaultMaxOpen(),
      waitMs: options.fdWaitMs ?? 30_000,
    });
    // Directory fsyncs gate acknowledgements (a new log segment, a checkpoint): they go first.
    this.syncStoreDir = coalesced(() => this.budget.withSlot(this.dir, () => syncDirectory(this.dir), true));
    this.groupSync = new GroupSync({
      dir: this.dir,
      budget: this.budget,
      syncfsMin: options.syncfsMin ?? 64,
      warn: (message) => this.warn(message),
    });
    const walDir = join(this.dir, "wal");
    this.syncWalDir = coalesced(() => this.budget.withSlot(walDir, () => syncDirectory(walDir), true));
    this.wal =
      this.durability === "none" || options.groupCommit === false
        ? undefined
        : new GroupCommitLog({
            dir: this.dir,
            self: this.self,
            budget: this.budget,
            checkpointBytes: options.walCheckpointBytes ?? 32 * 2 ** 20,
            checkpointMs: options.walCheckpointMs ?? 5_000,
            syncTranscripts: (threadIds) => this.syncTranscripts(threadIds),
            syncDir: (path) => (path === this.dir ? this.syncStoreDir() : this.syncWalDir()),
            warn: (message) => this.warn(message),
          });
    this.releases = this.wal && new ReleaseBatch(this.groupSync, this.wal, () => this.syncStoreDir());
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
    });
    const index = this.index;
    this.sessions = index && {
      threadOf: async (sessionId, ttlMs) => this.directoryCall(() => index.sessionThread(sessionId, ttlMs)),
      bind: async (sessionId, threadId) => {
        this.pathOf(threadId);
        this.directoryCall(() => index.bindSession(sessionId, threadId));
      },
      unbind: async (sessionId) => this.directoryCall(() => index.unbindSession(sessionId)),
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
    return this.reserve(meta.threadId, async () => {
      const lock = await this.lock(meta.threadId);
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
    return this.reserve(threadId, async () => {
      const lock = await this.lock(threadId);
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
    await this.reserve(threadId, async () => {
      const lock = await this.lock(threadId);
      try {
        // Logged first, so a replay after a crash never brings back what was deleted.
        if ((await this.exists(threadId)) && this.wal) await this.wal.deleted(threadId);
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
    const results = await Promise.allSettled([...this.writers.values()].map((w) => w.close()));
    await this.recovery?.catch(() => {});
    if (this.wal) results.push(...(await Promise.allSettled([this.wal.close()])));
    this.budget.closeAll();
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
    const releases = this.releases;
    const writer = new JsonlWriter({
      ...file,
      lines: tracker.lines,
      budget: this.budget,
      wal: this.wal,
      ...(releases ? { release: (request: ReleaseRequest) => releases.release(request) } : {}),
      durability: this.durability,
      batchDelayMs: this.options.batchDelayMs ?? 25,
      maxBatchBytes: this.options.maxBatchBytes ?? 256 * 1024,
      lock,
      tracker,
      ...(file.firstLine && this.durability !== "none" ? { syncDirectory: () => this.syncStoreDir() } : {}),
      onFlushed: (info, bytes, flushedPoint) => this.index?.queue(info, bytes, flushedPoint),
      onCommitted: this.options.onCommitted,
      onSynced: () => {
        this.transcriptSyncs++;
      },
      onClosed: (durable) => {
        if (this.writers.get(threadId) === writer) this.writers.delete(threadId);
        if (!durable) this.undurable.add(threadId);
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
    return {
      fds: this.budget.stats,
      wal: this.wal?.stats,
      transcriptSyncs: this.transcriptSyncs + (this.releases?.stats.fsyncs ?? 0),
      releases: this.releases?.stats,
    };
  }

  /**
   * Replays the write-ahead logs dead processes left in this directory (see wal-recovery.ts).
   * Runs once before the store's first operation, and again whenever a thread's lock is
   * taken over from a dead process.
   */
  recover(): Promise<RecoveryReport> {
    const previous = this.recovery?.catch(() => undefined) ?? Promise.resolve(undefined);
    const run = previous.then(() =>
      recoverOrphans({
        dir: this.dir,
        self: this.self,
        budget: this.budget,
        threadId: THREAD_ID,
        syncDir: () => this.syncStoreDir(),
        warn: (message) => this.warn(message),
        waitMs: this.options.fdWaitMs ?? 30_000,
      }),
    );
    this.recovery = run;
    return run;
  }

  private started: Promise<unknown> | undefined;

  private ready(): Promise<unknown> {
    this.started ??= this.recover().then((report) => {
      if (report.repaired.length > 0)
        this.warn(
          `replayed the write-ahead log of a process that stopped: ${report.repaired.length} transcript(s) restored (${report.repaired.slice(0, 5).join(", ")})`,
        );
    });
    return this.started;
  }

  /** Fsyncs the transcripts of open threads as a group, for a checkpoint of the log. */
  private async syncTranscripts(threadIds: readonly string[]): Promise<{ fsyncs: number; failed: unknown }> {
    for (const threadId of threadIds)
      if (this.undurable.has(threadId))
        return {
          fsyncs: 0,
          failed: new Error(`thread ${threadId} was closed without its lines made durable`),
        };
    // Released threads were fsynced when they closed (or deleted); what is written after
    // `at` is read here may not be covered, so only `at` counts as durable in place.
    const open = threadIds.flatMap((threadId) => {
      const writer = this.writers.get(threadId);
      return writer ? [{ writer, at: writer.bytesWritten }] : [];
    });
    const synced = await this.groupSync.syncFiles(open.map((o) => o.writer.path));
    let failed: unknown;
    open.forEach((o, i) => {
      const err = synced.errors[i];
      if (err === undefined) o.writer.syncedInPlace(o.at);
      else if (errno(err) !== "ENOENT") failed ??= err;
    });
    return { fsyncs: synced.fsyncs, failed };
  }

  /** Runs `fn` with the thread reserved against a second writer in this process. */
  private async reserve<T>(threadId: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new TaifengError("store_error", `the store for ${this.dir} is closed`);
    if (this.writers.has(threadId) || this.reserved.has(threadId)) {
      throw new TaifengError(
        "thread_locked",
        `thread ${threadId} is already open for writing in this process`,
      );
    }
    this.reserved.add(threadId);
    try {
      return await fn();
    } finally {
      this.reserved.delete(threadId);
    }
  }

  private async lock(threadId: string): Promise<HeldLock> {
    const path = join(this.dir, `${threadId}.lock`);
    const lock = await this.budget.withSlot(`the lock of thread ${threadId}`, () =>
      acquireLock(path, `thread ${threadId}`, this.self),
    );
    // The previous holder died: what it logged but had not fsynced in place is replayed first.
    if (lock.tookOver) {
      try {
        await this.recover();
      } catch (err) {
        await lock.release();
        throw err;
      }
    }
    return lock;
  }

  private directoryCall<T>(fn: () => T): T {
    try {
      return fn();
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
