import { stat } from "node:fs/promises";
import { describeError } from "../errors.ts";
import type { RolloutLine } from "../protocol/index.ts";
import { encodeResumePoint, type ResumePoint } from "./checkpoint.ts";
import { ThreadDirectory } from "./directory.ts";
import type { ThreadQuery } from "./store.ts";
import { summarizeThread, type ThreadInfo } from "./summary.ts";

/** What an index rebuild or reconciliation did. */
export interface IndexReport {
  /** Threads in the index afterwards. */
  readonly threads: number;
  /** Transcripts (re)read because their row was missing or out of date. */
  readonly reindexed: number;
  /** Transcripts that could not be read, with the reason; they have no row. */
  readonly skipped: { readonly threadId: string; readonly error: string }[];
  /**
   * Of those, files named for one thread that hold another (`claims`): copied or renamed
   * transcripts. They are refused rather than indexed, so the original's row stays its own.
   */
  readonly conflicts: { readonly threadId: string; readonly claims: string }[];
}

/** A thread this process is writing: its writer keeps the row current. */
export interface LiveThread {
  summary(): ThreadInfo;
  readonly bytesWritten: number;
}

/** How a StoreIndex reaches the transcripts it indexes. */
export interface StoreIndexOptions {
  /** The SQLite file. */
  readonly path: string;
  /** Longest time a queued row waits before it is written. */
  readonly delayMs: number;
  readonly warn: (message: string) => void;
  /** Every transcript in the store: thread id and file path. */
  readonly transcripts: () => Promise<{ threadId: string; path: string }[]>;
  readonly read: (threadId: string) => Promise<RolloutLine[]>;
  readonly live: (threadId: string) => LiveThread | undefined;
}

type SessionWrite =
  | { readonly kind: "bind"; readonly sessionId: string; readonly threadId: string; readonly at: number }
  | { readonly kind: "unbind"; readonly sessionId: string }
  | { readonly kind: "touch"; readonly sessionId: string; readonly at: number };
type QueuedSessionWrite = SessionWrite & {
  readonly done?: { resolve: () => void; reject: (err: unknown) => void };
};

interface QueuedRow {
  readonly info: ThreadInfo;
  readonly bytes: number;
  readonly point: ResumePoint | null | undefined;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * Keeps a JSONL store's ThreadDirectory in step with its files: rows queued by writers are
 * written in batches, and every read reconciles the directory with the files first (see
 * docs/decisions/0303-thread-directory.md). Index failures never fail a write: they are
 * reported through `warn` and repaired by the next reconciliation.
 */
export class StoreIndex {
  private readonly options: StoreIndexOptions;
  private directory: ThreadDirectory | undefined;
  private readonly pending = new Map<string, QueuedRow>();
  private timer: NodeJS.Timeout | undefined;
  private reconciling: Promise<IndexReport> | undefined;
  private sessionWrites: QueuedSessionWrite[] = [];
  /** Bindings queued and not yet written: a thread id, or null when unbound. */
  private readonly boundNow = new Map<string, string | null>();
  private sessionTimer: NodeJS.Immediate | undefined;

  constructor(options: StoreIndexOptions) {
    this.options = options;
  }

  /**
   * Queues a thread's row; it is written within `delayMs` or at the next read. `point`: the
   * thread's latest checkpoint, `null` when it has none (a new file), undefined to keep the
   * one stored or queued.
   */
  queue(info: ThreadInfo, bytes: number, point?: ResumePoint | null): void {
    const before = this.pending.get(info.threadId);
    this.pending.set(info.threadId, { info, bytes, point: point === undefined ? before?.point : point });
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.options.delayMs);
      this.timer.unref();
    }
  }

  /** Writes the queued rows now, in one transaction. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const rows = [...this.pending.values()];
    this.pending.clear();
    this.safely(() => {
      const db = this.db();
      db.transaction(() => {
        for (const row of rows)
          db.upsert(
            row.info,
            row.bytes,
            row.point === undefined ? undefined : row.point && encodeResumePoint(row.point),
          );
      });
    });
  }

  /**
   * The stored checkpoint of a thread (encoded; see checkpoint.ts), or undefined (none, or the
   * directory failed: the caller then replays the whole transcript).
   */
  resumePoint(threadId: string): string | undefined {
    const queued = this.pending.get(threadId)?.point;
    if (queued !== undefined) return queued ? encodeResumePoint(queued) : undefined;
    try {
      return this.db().resumePoint(threadId);
    } catch (err) {
      this.options.warn(`the thread index could not be read: ${describeError(err)}`);
      return undefined;
    }
  }

  /** Write transactions and row writes of the directory so far. */
  get stats(): { readonly transactions: number; readonly writes: number } {
    return this.directory?.stats ?? { transactions: 0, writes: 0 };
  }

  /** The thread was deleted: drops its row and its session bindings. */
  remove(threadId: string): void {
    this.pending.delete(threadId);
    this.flushSessions(); // a binding queued to this thread goes with it
    this.safely(() => this.db().forget(threadId));
  }

  /**
   * A session's thread, or undefined (none, or unused for longer than `ttlMs`: the binding is
   * then dropped). Reads the directory (or a binding queued a moment ago); marking the binding
   * used is queued with the other session writes. Storage failures throw.
   */
  sessionThread(sessionId: string, ttlMs?: number): string | undefined {
    const now = Date.now();
    const queued = this.boundNow.get(sessionId);
    if (queued === null) return undefined;
    if (queued !== undefined) {
      this.sessionWrite({ kind: "touch", sessionId, at: now });
      return queued;
    }
    const row = this.db().sessionRow(sessionId);
    if (!row) return undefined;
    if (ttlMs !== undefined && now - row.usedAt > ttlMs) {
      void this.unbindSession(sessionId).catch(() => {});
      return undefined;
    }
    this.sessionWrite({ kind: "touch", sessionId, at: now });
    return row.threadId;
  }

  /**
   * Binds a session to a thread. Session writes are grouped: those queued in the same tick
   * are written in one transaction, and the promise resolves once it committed (rejects
   * when it failed). A binding queued is already what `sessionThread` returns.
   */
  bindSession(sessionId: string, threadId: string): Promise<void> {
    this.boundNow.set(sessionId, threadId);
    return this.sessionWrite({ kind: "bind", sessionId, threadId, at: Date.now() });
  }

  /** Drops a session's binding (grouped like bindSession). */
  unbindSession(sessionId: string): Promise<void> {
    this.boundNow.set(sessionId, null);
    return this.sessionWrite({ kind: "unbind", sessionId });
  }

  /** Writes the queued session writes now, in one transaction. */
  flushSessions(): void {
    if (this.sessionTimer) clearImmediate(this.sessionTimer);
    this.sessionTimer = undefined;
    const writes = this.sessionWrites;
    if (writes.length === 0) return;
    this.sessionWrites = [];
    this.boundNow.clear();
    let failure: unknown;
    try {
      const db = this.db();
      db.transaction(() => {
        for (const w of writes) {
          if (w.kind === "bind") db.bindSession(w.sessionId, w.threadId, w.at);
          else if (w.kind === "unbind") db.unbindSession(w.sessionId);
          else db.touchSession(w.sessionId, w.at);
        }
      });
    } catch (err) {
      failure = err;
    }
    for (const w of writes) {
      if (failure === undefined) w.done?.resolve();
      else w.done?.reject(failure);
    }
  }

  private sessionWrite(write: SessionWrite): Promise<void> {
    this.sessionTimer ??= setImmediate(() => this.flushSessions());
    if (write.kind === "touch") {
      this.sessionWrites.push(write);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.sessionWrites.push({ ...write, done: { resolve, reject } }));
  }

  /** Rows matching the query, after reconciling. */
  async query(query: ThreadQuery): Promise<ThreadInfo[]> {
    await this.reconcile();
    return this.db().query(query);
  }

  /** One row, after reconciling. */
  async get(threadId: string): Promise<ThreadInfo | undefined> {
    await this.reconcile();
    return this.db().get(threadId);
  }

  /** Drops every row and indexes every transcript again. */
  async rebuild(): Promise<IndexReport> {
    await this.reconciling?.catch(() => {});
    this.pending.clear();
    this.db().clear();
    return this.reconcile();
  }

  /** Indexes new or grown transcripts and drops rows of deleted ones. One run at a time. */
  reconcile(): Promise<IndexReport> {
    this.reconciling ??= this.reconcileNow().finally(() => {
      this.reconciling = undefined;
    });
    return this.reconciling;
  }

  close(): void {
    this.flush();
    this.flushSessions();
    this.directory?.close();
  }

  private db(): ThreadDirectory {
    this.directory ??= new ThreadDirectory(this.options.path, this.options.warn);
    return this.directory;
  }

  private async reconcileNow(): Promise<IndexReport> {
    this.flush();
    const db = this.db();
    const indexed = db.indexedBytes();
    // Rows of changed files lose their checkpoint (the next open replays whole and records it).
    const fresh: { info: ThreadInfo; bytes: number; point: null | undefined }[] = [];
    const skipped: { threadId: string; error: string }[] = [];
    const conflicts: { threadId: string; claims: string }[] = [];
    const present = new Set<string>();
    for (const { threadId, path } of await this.options.transcripts()) {
      present.add(threadId);
      const live = this.options.live(threadId);
      if (live) {
        // Its writer updates the row on every flush; after a rebuild it has none yet.
        if (!indexed.has(threadId))
          fresh.push({ info: live.summary(), bytes: live.bytesWritten, point: undefined });
        continue;
      }
      try {
        const size = (await stat(path)).size;
        if (indexed.get(threadId) === size) continue;
        fresh.push({ info: summarizeThread(await this.options.read(threadId)), bytes: size, point: null });
      } catch (err) {
        if (errno(err) === "ENOENT" || errno(err) === "thread_not_found") present.delete(threadId);
        else {
          skipped.push({ threadId, error: describeError(err) });
          const claims = (err as { details?: { claims?: unknown } }).details?.claims;
          if (typeof claims === "string") conflicts.push({ threadId, claims });
        }
      }
    }
    db.transaction(() => {
      for (const { info, bytes, point } of fresh) db.upsert(info, bytes, point);
      // Transcripts gone from the directory were deleted: their bindings go too. Unreadable
      // ones lose only their row (a binding is data, and the file may be repaired).
      for (const threadId of indexed.keys()) if (!present.has(threadId)) db.forget(threadId);
      for (const { threadId } of skipped) db.remove(threadId);
    });
    for (const { threadId, error } of skipped)
      this.options.warn(`thread ${threadId} is not indexed: ${error}`);
    return { threads: db.indexedBytes().size, reindexed: fresh.length, skipped, conflicts };
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.options.warn(`the thread index could not be updated: ${describeError(err)}`);
    }
  }
}
