/** The execution backend's per-thread inbox of submitted ops, next to the transcripts. */
import type pg from "pg";
import { describeError, TaifengError } from "../../errors.ts";
import type { Op } from "../../protocol/index.ts";
import type { PgThreadStore } from "./pg-store.ts";

/** One submitted op. `submissionId` is set once the op's first lines are stored. */
export interface InboxEntry {
  readonly threadId: string;
  readonly n: number;
  readonly op: Op;
  readonly submissionId: string | undefined;
  readonly error: string | undefined;
}

interface Row {
  thread_id: string;
  n: string;
  op: Op;
  submission_id: string | null;
  error: string | null;
}

const entry = (r: Row): InboxEntry => ({
  threadId: r.thread_id,
  n: Number(r.n),
  op: r.op,
  submissionId: r.submission_id ?? undefined,
  error: r.error ?? undefined,
});

/**
 * Ops wait here, numbered per thread (1, 2, ...), until a worker that holds the thread
 * consumes them in order. Consuming is recorded through the thread's writer (`consumeSql`), in
 * the transaction of the op's first transcript lines: an op is consumed exactly when its effects
 * on the transcript are, so a redelivered job neither loses nor repeats it.
 */
export class Inbox {
  private readonly pool: pg.Pool;
  private readonly store: PgThreadStore;

  constructor(store: PgThreadStore) {
    this.store = store;
    this.pool = store.pgPool;
  }

  private get s(): string {
    return this.store.quotedSchema;
  }

  /** Records a thread's recipe (the thread must exist in the store). */
  async setRecipe(threadId: string, recipe: unknown): Promise<void> {
    await this.store.migrate();
    await this.query(
      `INSERT INTO ${this.s}.backend_threads (thread_id, recipe) VALUES ($1, $2)
       ON CONFLICT (thread_id) DO UPDATE SET recipe = EXCLUDED.recipe`,
      [threadId, JSON.stringify(recipe)],
    );
  }

  /** The thread's recipe; TaifengError `thread_not_found` when it has none. */
  async recipe(threadId: string): Promise<unknown> {
    await this.store.migrate();
    const { rows } = await this.query<{ recipe: unknown }>(
      `SELECT recipe FROM ${this.s}.backend_threads WHERE thread_id = $1`,
      [threadId],
    );
    if (rows.length === 0)
      throw new TaifengError(
        "thread_not_found",
        `thread ${threadId} has no recipe: create it through the backend`,
      );
    return rows[0]?.recipe;
  }

  /** Appends an op; returns its number. */
  async push(threadId: string, op: Op): Promise<number> {
    await this.store.migrate();
    const { rows } = await this.query<{ n: string }>(
      `WITH c AS (UPDATE ${this.s}.backend_threads SET next_n = next_n + 1 WHERE thread_id = $1 RETURNING next_n)
       INSERT INTO ${this.s}.inbox (thread_id, n, op, enqueued_at) SELECT $1, next_n, $2, $3 FROM c RETURNING n`,
      [threadId, JSON.stringify(op), Date.now()],
    );
    if (rows.length === 0)
      throw new TaifengError(
        "thread_not_found",
        `thread ${threadId} has no recipe: create it through the backend`,
      );
    return Number(rows[0]?.n);
  }

  /** The oldest op numbered above `after` not yet consumed or failed. */
  async next(threadId: string, after = 0): Promise<InboxEntry | undefined> {
    const { rows } = await this.query<Row>(
      `SELECT * FROM ${this.s}.inbox WHERE thread_id = $1 AND n > $2 AND submission_id IS NULL AND error IS NULL ORDER BY n LIMIT 1`,
      [threadId, after],
    );
    return rows[0] ? entry(rows[0]) : undefined;
  }

  async get(threadId: string, n: number): Promise<InboxEntry | undefined> {
    const { rows } = await this.query<Row>(`SELECT * FROM ${this.s}.inbox WHERE thread_id = $1 AND n = $2`, [
      threadId,
      n,
    ]);
    return rows[0] ? entry(rows[0]) : undefined;
  }

  /**
   * The statement (for PgWriter.attach) that marks an op consumed by a submission whose lines
   * start at sequence number `firstSeq` (the writer's `nextSeq` when the op was submitted).
   */
  consumeSql(
    threadId: string,
    n: number,
    submissionId: string,
    firstSeq: number,
  ): { sql: (p: number) => string; values: unknown[] } {
    return {
      sql: (p) =>
        `UPDATE ${this.s}.inbox SET submission_id = $${p + 2}, first_seq = $${p + 3} WHERE thread_id = $${p} AND n = $${p + 1} AND submission_id IS NULL`,
      values: [threadId, n, submissionId, firstSeq],
    };
  }

  /**
   * In one query: an op's state, the thread's directory status and, once the op is consumed, the
   * stored rows from the one holding its first line (all rows for ops consumed before schema
   * version 5). Undefined when there is no such op.
   */
  async outcomeRows(
    threadId: string,
    n: number,
  ): Promise<
    | {
        submissionId: string | undefined;
        error: string | undefined;
        status: string | undefined;
        rows: string[];
      }
    | undefined
  > {
    await this.store.migrate();
    const { rows } = await this.query<{
      submission_id: string | null;
      error: string | null;
      status: string | null;
      rows: string[] | null;
    }>(
      `SELECT i.submission_id, i.error, t.info->>'status' AS status,
         CASE WHEN i.submission_id IS NOT NULL THEN ARRAY(
           SELECT l.text FROM ${this.s}.lines l
           WHERE l.thread_id = $1 AND l.seq + l.count > coalesce(i.first_seq, 0) ORDER BY l.seq) END AS rows
       FROM ${this.s}.inbox i JOIN ${this.s}.threads t ON t.thread_id = i.thread_id
       WHERE i.thread_id = $1 AND i.n = $2`,
      [threadId, n],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      submissionId: row.submission_id ?? undefined,
      error: row.error ?? undefined,
      status: row.status ?? undefined,
      rows: row.rows ?? [],
    };
  }

  /** The statement (for PgWriter.attach) that fails every pending op of a thread with `error`. */
  failSql(threadId: string, error: string): { sql: (p: number) => string; values: unknown[] } {
    return {
      sql: (p) =>
        `UPDATE ${this.s}.inbox SET error = $${p + 1} WHERE thread_id = $${p} AND submission_id IS NULL AND error IS NULL`,
      values: [threadId, error],
    };
  }

  /**
   * In one round trip: the oldest pending op, the thread's directory status and its recipe
   * (undefined when the thread or its recipe does not exist).
   */
  async peek(
    threadId: string,
  ): Promise<{ next: InboxEntry | undefined; status: string | undefined; recipe: unknown; exists: boolean }> {
    await this.store.migrate();
    const { rows } = await this.query<{
      next: Row | null;
      status: string | null;
      recipe: unknown;
      exists: boolean;
    }>(
      `SELECT
         (SELECT row_to_json(i) FROM (SELECT * FROM ${this.s}.inbox WHERE thread_id = $1 AND submission_id IS NULL AND error IS NULL ORDER BY n LIMIT 1) i) AS next,
         (SELECT info->>'status' FROM ${this.s}.threads WHERE thread_id = $1) AS status,
         (SELECT recipe FROM ${this.s}.backend_threads WHERE thread_id = $1) AS recipe,
         EXISTS (SELECT 1 FROM ${this.s}.threads WHERE thread_id = $1) AS exists`,
      [threadId],
    );
    const row = rows[0];
    return {
      next: row?.next ? entry(row.next) : undefined,
      status: row?.status ?? undefined,
      recipe: row?.recipe ?? undefined,
      exists: row?.exists === true,
    };
  }

  /** Records why a child thread's job failed (its parent reads it as the child's result). */
  async recordChildFailure(threadId: string, failure: string): Promise<void> {
    await this.query(`UPDATE ${this.s}.backend_threads SET failure = $2 WHERE thread_id = $1`, [
      threadId,
      failure,
    ]);
  }

  /** Why a child thread's job failed, if it did. */
  async childFailure(threadId: string): Promise<string | undefined> {
    const { rows } = await this.query<{ failure: string | null }>(
      `SELECT failure FROM ${this.s}.backend_threads WHERE thread_id = $1`,
      [threadId],
    );
    return rows[0]?.failure ?? undefined;
  }

  /** Marks one op failed with `error` (the engine refused it). */
  async failOne(threadId: string, n: number, error: string): Promise<void> {
    await this.query(
      `UPDATE ${this.s}.inbox SET error = $3 WHERE thread_id = $1 AND n = $2 AND submission_id IS NULL`,
      [threadId, n, error],
    );
  }

  /** Marks every pending op of a thread failed with `error` (a recipe that cannot be built). */
  async failPending(threadId: string, error: string): Promise<number> {
    const { rowCount } = await this.query(
      `UPDATE ${this.s}.inbox SET error = $2 WHERE thread_id = $1 AND submission_id IS NULL AND error IS NULL`,
      [threadId, error],
    );
    return rowCount ?? 0;
  }

  private async query<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw new TaifengError("store_error", `inbox: PostgreSQL: ${describeError(err)}`, { cause: err });
    }
  }
}
