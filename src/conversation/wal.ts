import { randomUUID } from "node:crypto";
import { closeSync, fdatasync, ftruncateSync, mkdirSync, open, writeSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { describeError, TaifengError } from "../errors.ts";
import type { FdBudget } from "./fd-budget.ts";
import { acquireLock, type HeldLock, type ProcessIdentity } from "./lock-file.ts";
import { encodeRecord, type WalRecord } from "./wal-format.ts";

const openFd = promisify(open);
const datasync = promisify(fdatasync);

/** The log's folder inside a store directory. */
export const WAL_DIR = "wal";

/** Options for a GroupCommitLog. */
export interface GroupCommitOptions {
  /** The store directory; segments live in `<dir>/wal/`. */
  readonly dir: string;
  readonly self: ProcessIdentity;
  readonly budget: FdBudget;
  /** A segment this large is retired (checkpointed) and a new one started. */
  readonly checkpointBytes: number;
  /** A segment with records is retired at the latest this long after its first record. */
  readonly checkpointMs: number;
  /**
   * Fsyncs the transcripts of the threads this process still writes among `threadIds` (a
   * thread released since has been fsynced at its release), as a group (see group-sync.ts).
   * Resolves with the fsyncs it did and the first failure. Called when a segment is retired.
   */
  readonly syncTranscripts: (threadIds: readonly string[]) => Promise<{ fsyncs: number; failed: unknown }>;
  /** Fsyncs a directory (the store's, after transcripts were created). */
  readonly syncDir: (path: string) => Promise<void>;
  readonly warn: (message: string) => void;
}

/** Counters of a GroupCommitLog, for benchmarks. */
export interface GroupCommitStats {
  /** Fsyncs of the log: one per group-committed batch. */
  readonly syncs: number;
  readonly records: number;
  /** Segments retired. */
  readonly checkpoints: number;
  /** Transcript and directory fsyncs done to retire segments (off the turn's path). */
  readonly checkpointSyncs: number;
}

interface Segment {
  readonly path: string;
  readonly fd: number;
  size: number;
  /** Threads with write records in this segment, and whether one was created. */
  readonly dirty: Set<string>;
  created: boolean;
  readonly timer: NodeJS.Timeout | undefined;
}

interface Pending {
  readonly frame: Buffer;
  readonly record: WalRecord;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * The process-level write-ahead log behind durability `turn` and `item` (see
 * docs/decisions/1301-group-commit-wal.md). Writers put a transcript's new bytes in their
 * file (a page-cache write) and then here; every record submitted while a batch is being
 * written and fsynced goes into the next batch, so one fdatasync acknowledges the turns of
 * every thread that ended meanwhile. Segments are retired by fsyncing the transcripts they
 * cover and deleting them; after a crash, the next store on the directory replays the
 * segments of the dead process (wal-recovery.ts).
 *
 * A failed log write is cut back and reported to the batch's writers (they retry at their
 * next flush); a failed log fsync is final, as for transcripts (ADR 0301): every later
 * submission fails with `store_error`.
 */
export class GroupCommitLog {
  readonly owner: string;
  private readonly options: GroupCommitOptions;
  private readonly walDir: string;
  private lock: HeldLock | undefined;
  private seg: Segment | undefined;
  private seq = 0;
  private queue: Pending[] = [];
  private running = false;
  private rotateWanted = false;
  private retiring: Promise<void> = Promise.resolve();
  private fatal: TaifengError | undefined;
  private dirReady = false;
  private counters = { syncs: 0, records: 0, checkpoints: 0, checkpointSyncs: 0 };

  constructor(options: GroupCommitOptions) {
    this.options = options;
    this.walDir = join(options.dir, WAL_DIR);
    this.owner = `${options.self.pid}.${randomUUID().slice(0, 8)}`;
  }

  get stats(): GroupCommitStats {
    return { ...this.counters };
  }

  /** Logs transcript bytes written at `offset`; resolves once they are on stable storage. */
  write(threadId: string, offset: number, data: Buffer): Promise<void> {
    return this.submit({ kind: "write", threadId, offset, data });
  }

  /** Logs that a thread's transcript is fsynced and its writer let go; resolves when durable. */
  release(threadId: string): Promise<void> {
    return this.submit({ kind: "release", threadId });
  }

  /** Logs that a thread is deleted; resolves when durable. */
  deleted(threadId: string): Promise<void> {
    return this.submit({ kind: "delete", threadId });
  }

  /** Waits for queued batches, retires every segment (fsyncing what they cover) and lets go of the log. */
  async close(): Promise<void> {
    while (this.running || this.queue.length > 0) await new Promise((r) => setTimeout(r, 1));
    this.rotate();
    await this.retiring;
    await this.lock?.release();
    this.lock = undefined;
  }

  private submit(record: WalRecord): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ frame: encodeRecord(record), record, resolve, reject });
      if (!this.running) {
        this.running = true;
        // One tick of gathering: the turns ending in this tick share the first fsync.
        setImmediate(() => void this.run());
      }
    });
  }

  private async run(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        if (this.fatal) {
          for (const p of this.queue.splice(0)) p.reject(this.fatal);
          break;
        }
        let seg: Segment;
        try {
          seg = this.seg ?? (await this.startSegment());
        } catch (err) {
          const failure = this.storeError("starting a log segment in", err);
          for (const p of this.queue.splice(0)) p.reject(failure);
          break;
        }
        const batch = this.queue;
        this.queue = [];
        await this.commit(seg, batch);
        if (this.rotateWanted || seg.size >= this.options.checkpointBytes) this.rotate();
      }
    } finally {
      this.running = false;
      if (this.queue.length > 0) {
        this.running = true;
        setImmediate(() => void this.run());
      }
    }
  }

  /** Writes one batch in one call and fsyncs it; settles the batch's promises. */
  private async commit(seg: Segment, batch: Pending[]): Promise<void> {
    const buf = batch.length === 1 ? (batch[0] as Pending).frame : Buffer.concat(batch.map((p) => p.frame));
    try {
      let done = 0;
      while (done < buf.length) done += writeSync(seg.fd, buf, done, buf.length - done, seg.size + done);
    } catch (err) {
      try {
        ftruncateSync(seg.fd, seg.size);
      } catch {
        // replay stops at the first damaged record anyway
      }
      const failure = this.storeError("appending to", err, seg.path);
      for (const p of batch) p.reject(failure);
      return;
    }
    seg.size += buf.length;
    for (const { record } of batch) if (record.kind === "write") seg.dirty.add(record.threadId);
    if (batch.some(({ record }) => record.kind === "write" && record.offset === 0)) seg.created = true;
    try {
      await datasync(seg.fd);
    } catch (err) {
      this.fatal = new TaifengError(
        "store_error",
        `syncing the write-ahead log ${seg.path} failed (${(err as NodeJS.ErrnoException).code ?? "error"}): ` +
          `${describeError(err)}; the last batch may be lost, so this store accepts no more durable writes`,
        { cause: err, details: { path: seg.path } },
      );
      for (const p of batch) p.reject(this.fatal);
      return;
    }
    this.counters.syncs++;
    this.counters.records += batch.length;
    for (const p of batch) p.resolve();
  }

  private async startSegment(): Promise<Segment> {
    if (!this.dirReady) {
      mkdirSync(this.walDir, { recursive: true });
      await this.options.syncDir(this.options.dir);
      this.lock = await this.options.budget.withSlot(
        "the write-ahead log lock",
        () => acquireLock(join(this.walDir, `${this.owner}.lock`), "write-ahead log", this.options.self),
        true,
      );
      this.dirReady = true;
    }
    const path = join(this.walDir, `${this.owner}-${String(++this.seq).padStart(6, "0")}.wal`);
    await this.options.budget.acquire(path, true);
    let fd: number;
    try {
      fd = await openFd(path, "wx");
      // The segment's name must survive a power loss before any record in it is acknowledged.
      await this.options.syncDir(this.walDir);
    } catch (err) {
      this.options.budget.release();
      throw err;
    }
    const timer =
      this.options.checkpointMs > 0
        ? setTimeout(() => {
            if (this.seg !== seg) return;
            if (this.running) this.rotateWanted = true;
            else this.rotate();
          }, this.options.checkpointMs)
        : undefined;
    timer?.unref();
    const seg: Segment = { path, fd, size: 0, dirty: new Set(), created: false, timer };
    this.seg = seg;
    return seg;
  }

  /** Starts a new segment for later batches and retires the current one in the background. */
  private rotate(): void {
    this.rotateWanted = false;
    const old = this.seg;
    if (!old) return;
    this.seg = undefined;
    if (old.timer) clearTimeout(old.timer);
    this.retiring = this.retiring.then(() => this.retire(old));
  }

  /**
   * Makes what a segment covers durable without it — an fsync of every transcript it wrote
   * that is still open here, and of the store directory if it created files — then deletes
   * it. On failure the segment is kept: the next process on this directory replays it.
   */
  private async retire(seg: Segment): Promise<void> {
    let failed: unknown;
    try {
      const synced = await this.options.syncTranscripts([...seg.dirty]);
      this.counters.checkpointSyncs += synced.fsyncs;
      failed = synced.failed;
    } catch (err) {
      failed = err;
    }
    if (failed === undefined && seg.created) {
      try {
        await this.options.syncDir(this.options.dir);
        this.counters.checkpointSyncs++;
      } catch (err) {
        failed = err;
      }
    }
    try {
      closeSync(seg.fd);
    } catch {
      // released anyway
    }
    this.options.budget.release();
    if (failed !== undefined) {
      this.options.warn(
        `write-ahead log segment ${seg.path} is kept: a transcript it covers could not be fsynced (${describeError(failed)}); ` +
          "the next process opening this store replays it",
      );
      return;
    }
    await unlink(seg.path).catch(() => {});
    this.counters.checkpoints++;
  }

  private storeError(action: string, err: unknown, path = this.walDir): TaifengError {
    const code = (err as NodeJS.ErrnoException).code;
    return new TaifengError(
      "store_error",
      `${action} the write-ahead log ${path} failed${code ? ` (${code})` : ""}: ${describeError(err)}; ` +
        "the lines stay queued for the next flush",
      { cause: err, details: { path, code } },
    );
  }
}
