/** EnginePool session bindings in PostgreSQL, next to the threads they point to. */
import type pg from "pg";
import type { SessionBindings } from "../../conversation/store.ts";
import { describeError, TaifengError } from "../../errors.ts";

/**
 * SessionBindings on the store's `sessions` table: a returning session finds its thread from
 * any process. A binding unused for longer than `ttlMs` (when the caller passes it) is dropped
 * on lookup; deleting a thread drops its bindings (foreign key).
 */
export class PgSessionBindings implements SessionBindings {
  private readonly pool: pg.Pool;
  private readonly s: string;
  private readonly ready: () => Promise<void>;

  constructor(pool: pg.Pool, quotedSchema: string, ready: () => Promise<void>) {
    this.pool = pool;
    this.s = quotedSchema;
    this.ready = ready;
  }

  async threadOf(sessionId: string, ttlMs?: number): Promise<string | undefined> {
    const now = Date.now();
    if (ttlMs !== undefined)
      await this.query(`DELETE FROM ${this.s}.sessions WHERE session_id = $1 AND used_at < $2`, [
        sessionId,
        now - ttlMs,
      ]);
    const { rows } = await this.query<{ thread_id: string }>(
      `UPDATE ${this.s}.sessions SET used_at = $2 WHERE session_id = $1 RETURNING thread_id`,
      [sessionId, now],
    );
    return rows[0]?.thread_id;
  }

  async bind(sessionId: string, threadId: string): Promise<void> {
    const now = Date.now();
    await this.query(
      `INSERT INTO ${this.s}.sessions VALUES ($1, $2, $3, $3) ON CONFLICT (session_id) DO UPDATE SET
         thread_id = EXCLUDED.thread_id,
         bound_at = CASE WHEN sessions.thread_id = EXCLUDED.thread_id THEN sessions.bound_at ELSE EXCLUDED.bound_at END,
         used_at = EXCLUDED.used_at`,
      [sessionId, threadId, now],
    );
  }

  async unbind(sessionId: string): Promise<void> {
    await this.query(`DELETE FROM ${this.s}.sessions WHERE session_id = $1`, [sessionId]);
  }

  private async query<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    await this.ready();
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw new TaifengError("store_error", `session bindings: PostgreSQL: ${describeError(err)}`, {
        cause: err,
      });
    }
  }
}
