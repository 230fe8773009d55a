import { mkdirSync } from "node:fs";
import { type FileHandle, open, readdir, readFile, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { describeError, TaifengError } from "../errors.ts";
import type { RolloutLine } from "../protocol/index.ts";
import { parseTranscript } from "./jsonl-reader.ts";
import { type CommitInfo, JsonlWriter } from "./jsonl-writer.ts";
import { acquireLock, currentProcess, type HeldLock, type ProcessIdentity } from "./lock-file.ts";
import type {
  Durability,
  OpenedThread,
  SessionBindings,
  ThreadMeta,
  ThreadQuery,
  ThreadStore,
  ThreadWriter,
} from "./store.ts";
import { type IndexReport, StoreIndex } from "./store-index.ts";
import { queryThreads, summarizeThread, type ThreadInfo, ThreadSummarizer } from "./summary.ts";

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
  /** Hears about problems that lose nothing: an index rebuilt, a row that could not be updated. */
  readonly onWarning?: (message: string) => void;
  /**
   * Called whenever a thread's lines reach the durability the mode promises: fsynced under
   * `turn` (at each flush) and `item` (after every batch), written to the OS under `none`.
   * Lines counted here are acknowledged: they survive a crash (see the persistence guide).
   */
  readonly onCommitted?: (commit: CommitInfo) => void;
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
 * needs the lock. See docs/guides/persistence.md.
 */
export class JsonlThreadStore implements ThreadStore {
  readonly dir: string;
  readonly durability: Durability;
  private readonly options: JsonlStoreOptions;
  private readonly self: ProcessIdentity;
  private readonly writers = new Map<string, JsonlWriter>();
  private readonly reserved = new Set<string>();
  private readonly index: StoreIndex | undefined;
  private closed = false;
  /** Session bindings in the SQLite directory; absent with `index: false`. */
  readonly sessions: SessionBindings | undefined;

  constructor(options: JsonlStoreOptions) {
    this.options = options;
    this.dir = options.dir;
    this.durability = options.durability ?? "turn";
    this.self = currentProcess();
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
      mkdirSync(this.dir, { recursive: true });
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
    return this.reserve(meta.threadId, async () => {
      const lock = await this.lock(meta.threadId);
      let handle: FileHandle | undefined;
      try {
        handle = await open(path, "wx+").catch((err: unknown) => {
          if (errno(err) === "EEXIST")
            throw new TaifengError("store_error", `thread ${meta.threadId} already exists (${path})`);
          throw this.ioError("creating", path, err);
        });
        const line: RolloutLine = { ts: meta.createdAt, type: "thread_meta", payload: meta };
        const buf = Buffer.from(`${JSON.stringify(line)}\n`, "utf8");
        await handle.write(buf, 0, buf.length, 0);
        const summarizer = new ThreadSummarizer(meta, meta.createdAt);
        return this.startWriter(
          { threadId: meta.threadId, path, handle, offset: buf.length, lines: 1 },
          lock,
          summarizer,
          true,
        );
      } catch (err) {
        await handle?.close().catch(() => {});
        await lock.release();
        throw err;
      }
    });
  }

  async open(threadId: string): Promise<OpenedThread> {
    const path = this.pathOf(threadId);
    return this.reserve(threadId, async () => {
      const lock = await this.lock(threadId);
      let handle: FileHandle | undefined;
      try {
        handle = await open(path, "r+").catch((err: unknown) => {
          if (errno(err) === "ENOENT")
            throw new TaifengError("thread_not_found", `no thread ${threadId} in ${this.dir}`);
          throw this.ioError("opening", path, err);
        });
        const parsed = parseTranscript(await handle.readFile(), path);
        const first = parsed.lines[0];
        if (first?.type !== "thread_meta") {
          throw new TaifengError(
            "store_error",
            `transcript ${path} has no complete first line: the process creating it stopped at once; delete the file`,
          );
        }
        const warnings: string[] = [];
        if (parsed.tornBytes > 0) {
          await handle.truncate(parsed.validBytes);
          if (this.durability !== "none") await handle.datasync();
          warnings.push(
            `transcript ${path} ended with ${parsed.tornBytes} bytes of an incomplete line (a write cut by a crash, never acknowledged); they were removed`,
          );
        }
        const summarizer = new ThreadSummarizer(first.payload, first.ts);
        for (let i = 1; i < parsed.lines.length; i++) summarizer.push(parsed.lines[i] as RolloutLine);
        const file = { threadId, path, handle, offset: parsed.validBytes, lines: parsed.lines.length };
        const writer = this.startWriter(file, lock, summarizer, false);
        return { lines: parsed.lines, writer, warnings };
      } catch (err) {
        await handle?.close().catch(() => {});
        await lock.release();
        throw err;
      }
    });
  }

  async read(threadId: string): Promise<RolloutLine[]> {
    const path = this.pathOf(threadId);
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch (err) {
      if (errno(err) === "ENOENT")
        throw new TaifengError("thread_not_found", `no thread ${threadId} in ${this.dir}`);
      throw this.ioError("reading", path, err);
    }
    return parseTranscript(buf, path).lines;
  }

  async exists(threadId: string): Promise<boolean> {
    try {
      await stat(this.pathOf(threadId));
      return true;
    } catch (err) {
      if (errno(err) === "ENOENT") return false;
      throw err;
    }
  }

  /** Threads from the SQLite directory, after bringing it up to date with the files. */
  async list(query: ThreadQuery = {}): Promise<ThreadInfo[]> {
    if (this.index) return this.index.query(query);
    const infos: ThreadInfo[] = [];
    for (const { threadId } of await this.transcripts())
      infos.push(summarizeThread(await this.read(threadId)));
    return queryThreads(infos, query);
  }

  /** One thread's directory row (after reconciling), or undefined when it does not exist. */
  async info(threadId: string): Promise<ThreadInfo | undefined> {
    this.pathOf(threadId);
    if (this.index) return this.index.get(threadId);
    return (await this.exists(threadId)) ? summarizeThread(await this.read(threadId)) : undefined;
  }

  async delete(threadId: string): Promise<void> {
    const path = this.pathOf(threadId);
    await this.reserve(threadId, async () => {
      const lock = await this.lock(threadId);
      try {
        await unlink(path).catch((err: unknown) => {
          if (errno(err) === "ENOENT")
            throw new TaifengError("thread_not_found", `no thread ${threadId} in ${this.dir}`);
          throw this.ioError("deleting", path, err);
        });
        this.index?.remove(threadId);
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
    this.index?.close();
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  private async transcripts(): Promise<{ threadId: string; path: string }[]> {
    const out: { threadId: string; path: string }[] = [];
    for (const name of await readdir(this.dir)) {
      const threadId = name.slice(0, -SUFFIX.length);
      if (name.endsWith(SUFFIX) && THREAD_ID.test(threadId))
        out.push({ threadId, path: join(this.dir, name) });
    }
    return out;
  }

  private startWriter(
    file: { threadId: string; path: string; handle: FileHandle; offset: number; lines: number },
    lock: HeldLock,
    summarizer: ThreadSummarizer,
    created: boolean,
  ): JsonlWriter {
    const { threadId, offset } = file;
    const writer = new JsonlWriter({
      ...file,
      durability: this.durability,
      batchDelayMs: this.options.batchDelayMs ?? 25,
      maxBatchBytes: this.options.maxBatchBytes ?? 256 * 1024,
      lock,
      summarizer,
      ...(created && this.durability !== "none" ? { syncDirectory: () => syncDirectory(this.dir) } : {}),
      onFlushed: (info, bytes) => this.index?.queue(info, bytes),
      onCommitted: this.options.onCommitted,
      onClosed: () => {
        if (this.writers.get(threadId) === writer) this.writers.delete(threadId);
      },
    });
    this.writers.set(threadId, writer);
    this.index?.queue(summarizer.info(), offset);
    return writer;
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

  private lock(threadId: string): Promise<HeldLock> {
    return acquireLock(join(this.dir, `${threadId}.lock`), `thread ${threadId}`, this.self);
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

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
