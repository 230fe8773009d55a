import { ftruncateSync } from "node:fs";
import { describeError, isTaifengError, TaifengError } from "../errors.ts";
import type { RolloutLine } from "../protocol/index.ts";
import type { ResumePoint, ThreadTracker } from "./checkpoint.ts";
import type { FdBudget } from "./fd-budget.ts";
import type { ReleaseRequest } from "./group-sync.ts";
import { datasync, writeFully } from "./jsonl-files.ts";
import type { HeldLock } from "./lock-file.ts";
import type { Durability, ThreadWriter } from "./store.ts";
import type { ThreadInfo } from "./summary.ts";
import type { GroupCommitLog } from "./wal.ts";

/** What a JsonlWriter needs; built by JsonlThreadStore. */
export interface JsonlWriterInit {
  readonly threadId: string;
  readonly path: string;
  /** Where the transcript's descriptor comes from (opened on demand, closed when idle). */
  readonly budget: FdBudget;
  /**
   * The store's write-ahead log (durability `turn`/`item` with group commit): lines are made
   * durable by logging them there instead of fsyncing the transcript.
   */
  readonly wal: GroupCommitLog | undefined;
  /**
   * With `wal`: makes the transcript durable in place and logs the thread's release, grouped
   * with the other writers closing meanwhile (see group-sync.ts).
   */
  readonly release?: (request: ReleaseRequest) => Promise<void>;
  /** Current length of the valid file; lines are written from here on. */
  readonly offset: number;
  /** Set when the store just created the file: its first line, not durable yet. */
  readonly firstLine: Buffer | undefined;
  /** Lines the file holds at `offset`. */
  readonly lines: number;
  readonly durability: Durability;
  /** How long appended lines may wait before a background write (modes `turn` and `none`). */
  readonly batchDelayMs: number;
  /** A batch this large is written at once. */
  readonly maxBatchBytes: number;
  readonly lock: HeldLock;
  /** Folds every appended line (directory row, replay state, latest checkpoint). */
  readonly tracker: ThreadTracker;
  /** Fsync the directory at the first sync (the file is new). */
  readonly syncDirectory?: () => Promise<void>;
  /**
   * Called after every successful flush with the summary and the file length, and with the
   * latest checkpoint the first time it is written and flushed (see checkpoint.ts).
   */
  readonly onFlushed: (info: ThreadInfo, bytes: number, point: ResumePoint | undefined) => void;
  /** Called after each fsync of the transcript itself (for the store's counters). */
  readonly onSynced?: () => void;
  /** Called whenever lines reach the durability the mode promises (see JsonlStoreOptions.onCommitted). */
  readonly onCommitted: ((commit: CommitInfo) => void) | undefined;
  /**
   * Called once when the writer has closed; `durable` is false when its logged lines could
   * not be made durable in place (the lock is then kept until the process exits, so the
   * next process replays the log before anyone writes the thread).
   */
  readonly onClosed: (durable: boolean) => void;
}

/** Lines of a thread that reached the durability its store promises. */
export interface CommitInfo {
  readonly threadId: string;
  /** Lines in the file now committed, counted from its first line. */
  readonly lines: number;
  /** Bytes of the file now committed. */
  readonly bytes: number;
}

/**
 * Appends one thread's lines to its JSONL file. Group commit: `append` only queues; a single
 * serialized pipeline writes everything queued so far in one write call (and, per the
 * durability mode, one fsync), so lines appended while a write or sync is in flight share
 * the next one. A failed write is cut back with ftruncate, so the file always ends with a
 * complete line; the lines stay queued and the next flush tries them again.
 *
 * The write itself is synchronous (a page-cache write of a batch takes microseconds, ten
 * times less than a round trip through libuv's thread pool); only fsync, which waits for
 * the disk, runs asynchronously. See docs/decisions/0301-jsonl-writer.md.
 *
 * With a write-ahead log (`init.wal`), a sync logs the bytes written since the last one
 * there instead: one log fsync covers every thread of the process that flushed meanwhile.
 * Closing fsyncs the transcript itself and logs the release, after which the log is no
 * longer needed for this thread. The descriptor comes from the store's FdBudget at every
 * write, so an idle writer holds none. See docs/decisions/1301-group-commit-wal.md.
 */
export class JsonlWriter implements ThreadWriter {
  readonly threadId: string;
  private readonly init: JsonlWriterInit;
  private queue: string[] = [];
  private queuedBytes = 0;
  /** The checkpoint last passed to onFlushed. */
  private reported: ResumePoint | undefined;
  private chain: Promise<void> = Promise.resolve();
  private offset: number;
  private synced: number;
  /** Bytes known to be fsynced in the transcript itself (by a log checkpoint). */
  private inPlace: number;
  /** Bytes written to the file but not yet in the log (write-ahead log mode). */
  private unlogged: Buffer[] = [];
  /** Something of this thread is in the log since it was opened. */
  private logged = false;
  private linesWritten: number;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private directorySynced: boolean;
  private closing: Promise<void> | undefined;
  private closed = false;
  private lastError: unknown;
  /** Set when fsync failed: what was written since the last sync may be lost, so nothing more is written. */
  private fatal: TaifengError | undefined;

  constructor(init: JsonlWriterInit) {
    this.init = init;
    this.threadId = init.threadId;
    this.offset = init.offset;
    this.synced = init.firstLine ? 0 : init.offset;
    this.inPlace = this.synced;
    if (init.firstLine && init.wal) this.unlogged.push(init.firstLine);
    this.linesWritten = init.lines;
    this.directorySynced = init.syncDirectory === undefined;
  }

  /** The transcript file. */
  get path(): string {
    return this.init.path;
  }

  /** Bytes written to the file so far (not counting queued lines). */
  get bytesWritten(): number {
    return this.offset;
  }

  /** Bytes known to be on stable storage (fsynced). */
  get bytesDurable(): number {
    return this.synced;
  }

  /** A log checkpoint fsynced the transcript after `bytes` were written. */
  syncedInPlace(bytes: number): void {
    this.inPlace = Math.max(this.inPlace, bytes);
  }

  /** The thread's summary, counting every appended line. */
  summary(): ThreadInfo {
    return this.init.tracker.info();
  }

  /** The last background write or sync failure, if the next flush has not cleared it. */
  get error(): unknown {
    return this.lastError;
  }

  append(line: RolloutLine): void {
    if (this.closed || this.closing) {
      throw new TaifengError("store_error", `writer for thread ${this.threadId} is closed`);
    }
    const text = `${JSON.stringify(line)}\n`;
    const bytes = Buffer.byteLength(text);
    // A checkpoint's place in the file is known now: after what is written and queued.
    const at =
      line.type === "compacted"
        ? { offset: this.offset + this.queuedBytes, bytes: Buffer.from(text) }
        : undefined;
    this.queue.push(text);
    this.queuedBytes += bytes;
    this.init.tracker.push(line, at);
    this.schedule();
  }

  flush(): Promise<void> {
    this.cancelTimers();
    return this.enqueue(async () => {
      await this.writeQueued(this.init.durability !== "none");
      const latest = this.init.tracker.latest;
      const point = latest && latest !== this.reported && latest.offset < this.offset ? latest : undefined;
      if (point) this.reported = point;
      this.init.onFlushed(this.init.tracker.info(), this.offset, point);
    });
  }

  close(): Promise<void> {
    if (!this.closing) this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    let failure: unknown;
    try {
      await this.flush();
    } catch (err) {
      failure = err;
    }
    this.closed = true;
    this.cancelTimers();
    let durable = true;
    if (this.logged && this.init.wal) {
      // Logged lines must be durable in place before the log may forget this thread and the
      // lock lets another process in.
      try {
        const request = {
          threadId: this.threadId,
          path: this.init.path,
          created: this.init.firstLine !== undefined,
          clean: this.inPlace >= this.offset,
        };
        if (this.init.release) await this.init.release(request);
        else {
          if (!request.clean) {
            await this.init.budget.withFd(this.init.path, (fd) => datasync(fd), "r+", true);
            this.init.onSynced?.();
          }
          if (request.created) await this.init.syncDirectory?.();
          await this.init.wal.release(this.threadId);
        }
      } catch (err) {
        durable = false;
        failure ??= this.storeError("syncing", err);
      }
    }
    this.init.budget.forget(this.init.path);
    if (durable) await this.init.lock.release();
    this.init.onClosed(durable);
    if (failure !== undefined) throw failure;
  }

  private schedule(): void {
    if (this.init.durability === "item") {
      this.immediate ??= setImmediate(() => {
        this.immediate = undefined;
        this.background(true);
      });
      return;
    }
    if (this.queuedBytes >= this.init.maxBatchBytes) {
      this.cancelTimers();
      this.background(false);
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.background(false);
      }, this.init.batchDelayMs);
      this.timer.unref();
    }
  }

  private cancelTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  /** A write nobody awaits: a failure is kept for the next flush, which retries. */
  private background(sync: boolean): void {
    this.enqueue(() => this.writeQueued(sync)).catch((err: unknown) => {
      this.lastError = err;
    });
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const next = this.chain.then(op, op);
    this.chain = next.then(
      () => {},
      () => {},
    );
    return next;
  }

  /** Writes every queued line in one call, then makes them durable if asked. Runs inside the chain. */
  private async writeQueued(sync: boolean): Promise<void> {
    if (this.fatal) throw this.fatal;
    if (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      this.queuedBytes = 0;
      const buf = Buffer.from(batch.join(""), "utf8");
      try {
        // Once closing, a write waits for its descriptor however long it takes.
        await this.init.budget.withFd(
          this.init.path,
          (fd) => {
            try {
              writeFully(fd, buf, this.offset);
            } catch (err) {
              this.cutBack(fd);
              throw err;
            }
          },
          "r+",
          this.closing !== undefined,
        );
      } catch (err) {
        this.queue = batch.concat(this.queue);
        for (const text of batch) this.queuedBytes += Buffer.byteLength(text);
        this.lastError = isTaifengError(err) ? err : this.storeError("appending to", err);
        throw this.lastError;
      }
      this.offset += buf.length;
      this.linesWritten += batch.length;
      if (this.init.wal) this.unlogged.push(buf);
      if (this.init.durability === "none") this.committed();
    }
    if (sync && this.synced < this.offset) {
      if (this.init.wal) await this.log(this.init.wal);
      else await this.syncFile();
      this.synced = this.offset;
      this.committed();
    }
    this.lastError = undefined;
  }

  /** Logs the bytes written since the last sync; they stay pending when the log fails. */
  private async log(wal: GroupCommitLog): Promise<void> {
    const data = this.unlogged.length === 1 ? (this.unlogged[0] as Buffer) : Buffer.concat(this.unlogged);
    const count = this.unlogged.length;
    try {
      await wal.write(this.threadId, this.synced, data);
    } catch (err) {
      this.lastError = err;
      throw err;
    }
    this.unlogged.splice(0, count);
    this.logged = true;
  }

  /** Fsyncs the transcript (no write-ahead log); a failure is final. */
  private async syncFile(): Promise<void> {
    try {
      await this.init.budget.withFd(this.init.path, (fd) => datasync(fd));
      this.init.onSynced?.();
      if (!this.directorySynced) {
        await this.init.syncDirectory?.();
        this.directorySynced = true;
      }
    } catch (err) {
      if (isTaifengError(err)) {
        // No descriptor in time: nothing was synced, the next flush tries again.
        this.lastError = err;
        throw err;
      }
      // After a failed fsync the kernel may already have dropped the dirty pages, so a
      // retry proves nothing; writing on could leave a hole before later acknowledged lines.
      this.fatal = new TaifengError(
        "store_error",
        `syncing transcript ${this.init.path} failed (${(err as NodeJS.ErrnoException).code ?? "error"}): ` +
          `${describeError(err)}; lines after byte ${this.synced} may be lost, so the thread accepts no more ` +
          "writes until it is opened again",
        { cause: err, details: { path: this.init.path } },
      );
      this.lastError = this.fatal;
      throw this.fatal;
    }
  }

  private committed(): void {
    this.init.onCommitted?.({ threadId: this.threadId, lines: this.linesWritten, bytes: this.offset });
  }

  /** Removes a partly written batch so the file ends with a complete line. */
  private cutBack(fd: number): void {
    try {
      ftruncateSync(fd, this.offset);
    } catch {
      // The next open truncates a torn tail anyway.
    }
  }

  private storeError(action: string, err: unknown): TaifengError {
    const code = (err as NodeJS.ErrnoException).code;
    return new TaifengError(
      "store_error",
      `${action} transcript ${this.init.path} failed${code ? ` (${code})` : ""}: ${describeError(err)}; ` +
        `the file still ends with its last complete line (${this.offset} bytes) and unwritten lines are kept for the next flush`,
      { cause: err, details: { path: this.init.path, code } },
    );
  }
}
