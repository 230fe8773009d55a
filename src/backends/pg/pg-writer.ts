/** The writer of one thread in PostgreSQL: buffered appends, one statement per flush. */
import type { PoolClient } from "pg";
import type { ThreadWriter } from "../../conversation/store.ts";
import type { ThreadSummarizer } from "../../conversation/summary.ts";
import { describeError, TaifengError } from "../../errors.ts";
import type { RolloutLine } from "../../protocol/index.ts";

/** What a PgWriter needs from its store. */
export interface PgWriterInit {
  readonly threadId: string;
  /** The session holding the thread's advisory lock; every write goes through it. */
  readonly client: PoolClient;
  /** The quoted schema. */
  readonly schema: string;
  /** Sequence number of the next line (lines already stored). */
  readonly nextSeq: number;
  readonly summarizer: ThreadSummarizer;
  readonly batchDelayMs: number;
  /** Called once when the writer is closed (the store forgets it). */
  readonly onClose: () => void;
  /** Lines reached the database (committed): `seq` is the last one's sequence number. */
  readonly onCommitted?: (threadId: string, seq: number) => void;
}

/**
 * Appends go to a queue; `flush` (and a timer after `batchDelayMs`) writes the queue in one
 * statement that inserts the lines and updates the directory row, so both commit together.
 * The writer's session holds the thread's advisory lock, and lines are written only through
 * that session: a writer whose session died (and so lost the lock) cannot append anymore.
 * A failed write keeps the lines queued for the next flush; the primary key
 * (thread, sequence) makes a line written twice impossible.
 */
export class PgWriter implements ThreadWriter {
  readonly threadId: string;
  private readonly init: PgWriterInit;
  private queue: { seq: number; text: string }[] = [];
  private nextSeq: number;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closed: Promise<void> | undefined;
  private broken: Error | undefined;
  /** Statements waiting for a line numbered `from` or later. */
  private attached: { sql: (firstParam: number) => string; values: unknown[]; from: number }[] = [];

  private readonly onSessionError = (err: Error) => {
    this.broken ??= err;
  };

  constructor(init: PgWriterInit) {
    this.init = init;
    this.threadId = init.threadId;
    this.nextSeq = init.nextSeq;
    // A session that dies while idle (terminated, network) reports it here: the lease is lost.
    init.client.on("error", this.onSessionError);
  }

  /** The sequence number the next appended line gets. */
  get nextLineSeq(): number {
    return this.nextSeq;
  }

  append(line: RolloutLine): void {
    if (this.closed) throw new TaifengError("store_error", `writer for thread ${this.threadId} is closed`);
    this.queue.push({ seq: this.nextSeq++, text: JSON.stringify(line) });
    this.init.summarizer.push(line);
    if (this.timer === undefined && this.init.batchDelayMs >= 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush().catch(() => {}); // the next flush reports it
      }, this.init.batchDelayMs);
      this.timer.unref();
    }
  }

  /**
   * Adds a data-modifying statement to the statement that writes the next batch of lines
   * appended after this call (as a CTE of that one statement): what it records commits exactly
   * when those lines do, never without one. `sql(p)` gets the number of its first parameter
   * (`$p`) and returns e.g. `UPDATE ... SET x = $p WHERE y = $(p+1)`. Execution backends mark
   * a submission consumed this way, atomically with the first lines it produced. Dropped when
   * the writer closes before another line is appended.
   */
  attach(sql: (firstParam: number) => string, values: unknown[]): void {
    if (this.closed) throw new TaifengError("store_error", `writer for thread ${this.threadId} is closed`);
    this.attached.push({ sql, values, from: this.nextSeq });
  }

  flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.chain = this.chain.catch(() => {}).then(() => this.write());
    return this.chain;
  }

  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.closed = (async () => {
      try {
        await this.flush();
      } finally {
        this.init.onClose();
        this.init.client.off("error", this.onSessionError);
        // Unlocking ends the lease; a session that failed is thrown away (its lock dies with it).
        if (this.broken) this.init.client.release(this.broken);
        else {
          const unlocked = await this.init.client
            .query("SELECT pg_advisory_unlock_all()")
            .then(() => undefined)
            .catch((err: Error) => err);
          this.init.client.release(unlocked);
        }
      }
    })();
    return this.closed;
  }

  private async write(): Promise<void> {
    if (this.queue.length === 0) return;
    if (this.broken)
      throw new TaifengError(
        "store_error",
        `thread ${this.threadId}: its PostgreSQL session failed earlier (${this.broken.message}); the lease is lost and ${this.queue.length} line(s) were not written`,
      );
    const batch = this.queue;
    const lastSeq = (batch.at(-1) as { seq: number }).seq;
    const attached = this.attached.filter((a) => a.from <= lastSeq);
    this.queue = [];
    this.attached = this.attached.filter((a) => a.from > lastSeq);
    const info = this.init.summarizer.info();
    const s = this.init.schema;
    const params: unknown[] = [
      this.threadId,
      (batch[0] as { seq: number }).seq,
      batch.map((l) => l.text).join("\n"),
      info.updatedAt,
      info.title ?? null,
      lastSeq + 1,
      JSON.stringify(info),
    ];
    const ctes = attached.map((a, i) => {
      const text = a.sql(params.length + 1);
      params.push(...a.values);
      return `a${i} AS (${text}), `;
    });
    try {
      // One statement, so one round trip and one transaction: lines, directory row, attachments.
      await this.init.client.query(
        `WITH ${ctes.join("")}ins AS (INSERT INTO ${s}.lines (thread_id, seq, count, text) VALUES ($1, $2, ${batch.length}, $3))
         UPDATE ${s}.threads SET updated_at = $4, title = $5, lines = $6, info = $7 WHERE thread_id = $1`,
        params,
      );
    } catch (err) {
      this.attached = attached.concat(this.attached);
      // A statement error leaves the session usable; a dead connection does not.
      if (isConnectionError(err)) this.broken = err as Error;
      this.queue = batch.concat(this.queue);
      throw new TaifengError(
        "store_error",
        `writing ${batch.length} line(s) of thread ${this.threadId} to PostgreSQL failed: ${describeError(err)}; they stay queued`,
        { cause: err },
      );
    }
    const last = batch.at(-1);
    if (last) this.init.onCommitted?.(this.threadId, last.seq);
  }
}

/** True for errors that mean the session is gone (and with it the advisory lock). */
export function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string" && (code.startsWith("08") || code === "57P01" || code === "ECONNRESET"))
    return true;
  const message = err instanceof Error ? err.message : "";
  return /Connection terminated|not queryable|ECONNREFUSED|EPIPE/i.test(message);
}
