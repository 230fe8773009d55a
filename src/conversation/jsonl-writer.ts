import { ftruncateSync, writeSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { describeError, TaifengError } from "../errors.ts";
import type { RolloutLine } from "../protocol/index.ts";
import type { HeldLock } from "./lock-file.ts";
import type { Durability, ThreadWriter } from "./store.ts";
import type { ThreadInfo, ThreadSummarizer } from "./summary.ts";

/** What a JsonlWriter needs; built by JsonlThreadStore. */
export interface JsonlWriterInit {
  readonly threadId: string;
  readonly path: string;
  /** Opened for reading and writing; lines are written at `offset` and onwards. */
  readonly handle: FileHandle;
  /** Current length of the valid file. */
  readonly offset: number;
  /** Lines the file holds at `offset`. */
  readonly lines: number;
  readonly durability: Durability;
  /** How long appended lines may wait before a background write (modes `turn` and `none`). */
  readonly batchDelayMs: number;
  /** A batch this large is written at once. */
  readonly maxBatchBytes: number;
  readonly lock: HeldLock;
  readonly summarizer: ThreadSummarizer;
  /** Fsync the directory at the first sync (the file is new). */
  readonly syncDirectory?: () => Promise<void>;
  /** Called after every successful flush with the summary and the file length. */
  readonly onFlushed: (info: ThreadInfo, bytes: number) => void;
  /** Called whenever lines reach the durability the mode promises (see JsonlStoreOptions.onCommitted). */
  readonly onCommitted: ((commit: CommitInfo) => void) | undefined;
  /** Called once when the writer has closed and released its lock. */
  readonly onClosed: () => void;
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
 */
export class JsonlWriter implements ThreadWriter {
  readonly threadId: string;
  private readonly init: JsonlWriterInit;
  private queue: string[] = [];
  private queuedChars = 0;
  private chain: Promise<void> = Promise.resolve();
  private offset: number;
  private synced: number;
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
    this.synced = init.offset;
    this.linesWritten = init.lines;
    this.directorySynced = init.syncDirectory === undefined;
  }

  /** Bytes written to the file so far (not counting queued lines). */
  get bytesWritten(): number {
    return this.offset;
  }

  /** Bytes known to be on stable storage (fsynced). */
  get bytesDurable(): number {
    return this.synced;
  }

  /** The thread's summary, counting every appended line. */
  summary(): ThreadInfo {
    return this.init.summarizer.info();
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
    this.queue.push(text);
    this.queuedChars += text.length;
    this.init.summarizer.push(line);
    this.schedule();
  }

  flush(): Promise<void> {
    this.cancelTimers();
    return this.enqueue(async () => {
      await this.writeQueued(this.init.durability !== "none");
      this.init.onFlushed(this.init.summarizer.info(), this.offset);
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
    try {
      await this.init.handle.close();
    } catch (err) {
      failure ??= this.storeError("closing", err);
    }
    await this.init.lock.release();
    this.init.onClosed();
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
    if (this.queuedChars >= this.init.maxBatchBytes) {
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

  /** Writes every queued line in one call, then fsyncs if asked. Runs inside the chain. */
  private async writeQueued(sync: boolean): Promise<void> {
    if (this.fatal) throw this.fatal;
    if (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      this.queuedChars = 0;
      const buf = Buffer.from(batch.join(""), "utf8");
      try {
        writeFully(this.init.handle.fd, buf, this.offset);
      } catch (err) {
        this.cutBack();
        this.queue = batch.concat(this.queue);
        for (const text of batch) this.queuedChars += text.length;
        this.lastError = this.storeError("appending to", err);
        throw this.lastError;
      }
      this.offset += buf.length;
      this.linesWritten += batch.length;
      if (this.init.durability === "none") this.committed();
    }
    if (sync && this.synced < this.offset) {
      try {
        await this.init.handle.datasync();
        if (!this.directorySynced) {
          await this.init.syncDirectory?.();
          this.directorySynced = true;
        }
      } catch (err) {
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
      this.synced = this.offset;
      this.committed();
    }
    this.lastError = undefined;
  }

  private committed(): void {
    this.init.onCommitted?.({ threadId: this.threadId, lines: this.linesWritten, bytes: this.offset });
  }

  /** Removes a partly written batch so the file ends with a complete line. */
  private cutBack(): void {
    try {
      ftruncateSync(this.init.handle.fd, this.offset);
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

function writeFully(fd: number, buf: Buffer, position: number): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done, position + done);
}
