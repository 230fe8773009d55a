/** Artifacts (full tool outputs) in PostgreSQL, kept with their thread. */
import type pg from "pg";
import type { ThreadArtifacts } from "../../conversation/store.ts";
import { describeError, TaifengError } from "../../errors.ts";
import { type ArtifactRef, artifactId } from "../../tool/artifacts.ts";

function ref(id: string, content: string): ArtifactRef {
  let lines = content.length === 0 ? 0 : 1;
  for (let i = content.indexOf("\n"); i >= 0 && i < content.length - 1; i = content.indexOf("\n", i + 1))
    lines++;
  return { id, chars: content.length, lines };
}

/**
 * ThreadArtifacts on the store's `artifacts` table. Ids derive from thread, call and content
 * (`artifactId`), so saving the same output again (a redelivered job, a resumed turn) is a
 * no-op with the same id. Deleting a thread drops its artifacts; a fork gets copies.
 */
export class PgArtifacts implements ThreadArtifacts {
  private readonly pool: pg.Pool;
  private readonly s: string;
  private readonly ready: () => Promise<void>;

  constructor(pool: pg.Pool, quotedSchema: string, ready: () => Promise<void>) {
    this.pool = pool;
    this.s = quotedSchema;
    this.ready = ready;
  }

  async save(
    threadId: string,
    content: string,
    meta: { tool: string; callId: string },
  ): Promise<ArtifactRef> {
    const id = artifactId(threadId, meta.callId, content);
    await this.query(
      `INSERT INTO ${this.s}.artifacts VALUES ($1, $2, $3, $4, $5) ON CONFLICT (thread_id, id) DO NOTHING`,
      [threadId, id, content, meta.tool, meta.callId],
    );
    return ref(id, content);
  }

  async read(threadId: string, id: string): Promise<string | undefined> {
    const { rows } = await this.query<{ content: string }>(
      `SELECT content FROM ${this.s}.artifacts WHERE thread_id = $1 AND id = $2`,
      [threadId, id],
    );
    return rows[0]?.content;
  }

  async copyThread(from: string, to: string): Promise<void> {
    await this.query(
      `INSERT INTO ${this.s}.artifacts SELECT $2, id, content, tool, call_id FROM ${this.s}.artifacts WHERE thread_id = $1
       ON CONFLICT (thread_id, id) DO NOTHING`,
      [from, to],
    );
  }

  private async query<R extends pg.QueryResultRow>(
    text: string,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    await this.ready();
    try {
      return await this.pool.query<R>(text, values);
    } catch (err) {
      throw new TaifengError("store_error", `artifacts: PostgreSQL: ${describeError(err)}`, { cause: err });
    }
  }
}
