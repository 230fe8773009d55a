/** A ThreadStore on PostgreSQL: transcripts and the thread directory shared by many processes. */
import pg from "pg";
import type {
  OpenedThread,
  ThreadInfo,
  ThreadMeta,
  ThreadQuery,
  ThreadStore,
  ThreadWriter,
} from "../../conversation/store.ts";
import { ThreadSummarizer } from "../../conversation/summary.ts";
import { describeError, TaifengError } from "../../errors.ts";
import type { RolloutLine } from "../../protocol/index.ts";
import { PgArtifacts } from "./pg-artifacts.ts";
import { parseStoredLines } from "./pg-lines.ts";
import { PgSessionBindings } from "./pg-sessions.ts";
import { PgWriter } from "./pg-writer.ts";
import { migrate, quoteSchema } from "./schema.ts";

/** Options for a PgThreadStore. Give `pool` or `connectionString`. */
export interface PgStoreOptions {
  /** A pool the host owns (the store never ends it). */
  readonly pool?: pg.Pool;
  /** Else the store opens (and on close ends) its own pool. Default `DATABASE_URL`. */
  readonly connectionString?: string;
  /** Connections of the store's own pool (each open writer holds one). Default 20. */
  readonly maxConnections?: number;
  /** Schema holding the tables (created and migrated on first use). Default `taifeng`. */
  readonly schema?: string;
  /**
   * Writers open at once (each holds a connection for its whole life). Default: the pool's
   * size minus 2, kept for reads and directory queries, so writers can never take every
   * connection and starve the queries they wait on. One more waits for a free one.
   */
  readonly maxWriters?: number;
  /** How long opening a thread waits for a free writer connection before it fails. Default 10 s. */
  readonly writerWaitMs?: number;
  /** Longest time appended lines wait before a background write. Default 25 ms. */
  readonly batchDelayMs?: number;
  /** Lines of a thread committed up to sequence number `seq` (0 = thread_meta). */
  readonly onCommitted?: (threadId: string, seq: number) => void;
}

const THREAD_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function checkId(threadId: string): void {
  if (!THREAD_ID.test(threadId))
    throw new TaifengError(
      "store_error",
      `invalid thread id ${JSON.stringify(threadId)}: use 1-128 letters, digits, "_", "-" or ".", starting with a letter or digit`,
    );
}

function dbError(what: string, err: unknown): TaifengError {
  if (err instanceof TaifengError) return err;
  return new TaifengError("store_error", `${what}: PostgreSQL: ${describeError(err)}`, { cause: err });
}

/** The 64-bit advisory lock key of a thread in a schema. */
const LOCK_KEY = "hashtextextended($1, 0)";

/**
 * Transcripts in PostgreSQL, with the same contract as the JSONL store: append-only lines per
 * thread keyed by a per-thread sequence (stored as the exact text the JSONL store would write,
 * so a resumed prompt is byte-identical), the directory (titles, status, usage, parent links)
 * kept in the same statement as the lines, one writer per thread enforced by the database: a
 * writer holds a session-level advisory lock on a connection of its own, so a second writer
 * anywhere gets TaifengError `thread_locked`, and a process that dies releases its threads as
 * soon as PostgreSQL sees its connection close. The schema is migrated on first use
 * (`schema.ts`). See docs/guides/distributed.md.
 */
export class PgThreadStore implements ThreadStore {
  readonly schema: string;
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly s: string;
  private readonly options: PgStoreOptions;
  private readonly writers = new Map<string, PgWriter>();
  /** Sessions holding or taking a thread's lock (open writers and locks being taken). */
  private sessionsInUse = 0;
  private readonly slotWaiters: (() => void)[] = [];
  /** Most writer sessions at once (see PgStoreOptions.maxWriters). */
  readonly maxWriters: number;
  /** EnginePool session bindings, in the same database (table `sessions`). */
  readonly sessions: PgSessionBindings;
  /** Full tool outputs kept with their thread (table `artifacts`). */
  readonly artifacts: PgArtifacts;
  private ready: Promise<void> | undefined;
  private closed = false;

  constructor(options: PgStoreOptions = {}) {
    this.options = options;
    this.schema = options.schema ?? "taifeng";
    this.s = quoteSchema(this.schema);
    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else {
      const connectionString = options.connectionString ?? process.env.DATABASE_URL;
      if (!connectionString)
        throw new TaifengError(
          "invalid_config",
          "PgThreadStore needs a pool, a connectionString or DATABASE_URL",
        );
      this.pool = new pg.Pool({ connectionString, max: options.maxConnections ?? 20 });
      this.pool.on("error", () => {}); // an idle client's failure; the next query reports it
      this.ownsPool = true;
    }
    const poolMax = (this.pool as unknown as { options: { max?: number } }).options.max ?? 10;
    this.maxWriters = options.maxWriters ?? Math.max(1, poolMax - 2);
    this.sessions = new PgSessionBindings(this.pool, this.s, () => this.migrate());
    this.artifacts = new PgArtifacts(this.pool, this.s, () => this.migrate());
  }

  /** The pool the store queries through (the backend's inbox shares it). */
  get pgPool(): pg.Pool {
    return this.pool;
  }

  /** The schema, quoted for SQL. */
  get quotedSchema(): string {
    return this.s;
  }

  /** Creates or upgrades the schema now (otherwise done on first use). */
  migrate(): Promise<void> {
    this.ready ??= migrate(this.pool, this.schema).then(
      () => undefined,
      (err) => {
        this.ready = undefined;
        throw err;
      },
    );
    return this.ready;
  }

  async create(meta: ThreadMeta): Promise<ThreadWriter> {
    checkId(meta.threadId);
    const client = await this.session(meta.threadId);
    try {
      const line: RolloutLine = { ts: meta.createdAt, type: "thread_meta", payload: meta };
      const summarizer = new ThreadSummarizer(meta, meta.createdAt);
      const info = summarizer.info();
      const { rowCount } = await client.query(
        `WITH t AS (INSERT INTO ${this.s}.threads (thread_id, created_at, updated_at, title, parent_thread_id, lines, info)
           VALUES ($1, $2, $2, $3, $4, 1, $5) ON CONFLICT DO NOTHING RETURNING thread_id)
         INSERT INTO ${this.s}.lines (thread_id, seq, count, text) SELECT thread_id, 0, 1, $6 FROM t`,
        [
          meta.threadId,
          meta.createdAt,
          info.title ?? null,
          info.parentThreadId ?? null,
          JSON.stringify(info),
          JSON.stringify(line),
        ],
      );
      if (rowCount !== 1) throw new TaifengError("store_error", `thread ${meta.threadId} already exists`);
      return this.startWriter(meta.threadId, client, 1, summarizer);
    } catch (err) {
      await this.releaseSession(client);
      throw dbError(`creating thread ${meta.threadId}`, err);
    }
  }

  async open(threadId: string): Promise<OpenedThread> {
    checkId(threadId);
    const client = await this.session(threadId);
    try {
      const lines = await this.readWith(client, threadId);
      const meta = lines[0] as Extract<RolloutLine, { type: "thread_meta" }>;
      const summarizer = new ThreadSummarizer(meta.payload, meta.ts);
      for (let i = 1; i < lines.length; i++) summarizer.push(lines[i] as RolloutLine);
      const writer = this.startWriter(threadId, client, lines.length, summarizer);
      return { lines, writer, warnings: [] };
    } catch (err) {
      await this.releaseSession(client);
      throw dbError(`opening thread ${threadId}`, err);
    }
  }

  async read(threadId: string): Promise<RolloutLine[]> {
    checkId(threadId);
    await this.migrate();
    return this.readWith(this.pool, threadId);
  }

  async exists(threadId: string): Promise<boolean> {
    checkId(threadId);
    await this.migrate();
    try {
      const { rowCount } = await this.pool.query(`SELECT 1 FROM ${this.s}.threads WHERE thread_id = $1`, [
        threadId,
      ]);
      return rowCount === 1;
    } catch (err) {
      throw dbError(`looking up thread ${threadId}`, err);
    }
  }

  /** The directory's status of a thread (as of its last flush); undefined when it does not exist. */
  async status(threadId: string): Promise<ThreadInfo["status"] | undefined> {
    await this.migrate();
    try {
      const { rows } = await this.pool.query<{ status: ThreadInfo["status"] }>(
        `SELECT info->>'status' AS status FROM ${this.s}.threads WHERE thread_id = $1`,
        [threadId],
      );
      return rows[0]?.status;
    } catch (err) {
      throw dbError(`reading the status of thread ${threadId}`, err);
    }
  }

  async list(query: ThreadQuery = {}): Promise<ThreadInfo[]> {
    await this.migrate();
    const search =
      query.search === undefined ? null : `%${query.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    try {
      const { rows } = await this.pool.query<{ info: ThreadInfo }>(
        `SELECT info FROM ${this.s}.threads
         WHERE ($1::text IS NULL OR title ILIKE $1) AND ($2::text IS NULL OR parent_thread_id = $2)
         ORDER BY updated_at DESC, thread_id LIMIT $3`,
        [search, query.parentThreadId ?? null, query.limit ?? null],
      );
      return rows.map((r) => normalizeInfo(r.info));
    } catch (err) {
      throw dbError("listing threads", err);
    }
  }

  async delete(threadId: string): Promise<void> {
    checkId(threadId);
    const client = await this.session(threadId, "is open; close it before deleting");
    try {
      const { rowCount } = await client.query(`DELETE FROM ${this.s}.threads WHERE thread_id = $1`, [
        threadId,
      ]);
      if (rowCount !== 1) throw new TaifengError("thread_not_found", `no thread ${threadId}`);
    } catch (err) {
      throw dbError(`deleting thread ${threadId}`, err);
    } finally {
      await this.releaseSession(client);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const results = await Promise.allSettled([...this.writers.values()].map((w) => w.close()));
    if (this.ownsPool) await this.pool.end().catch(() => {});
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** A connection holding the thread's advisory lock. Throws `thread_locked` when another session holds it. */
  private async session(threadId: string, locked = "is already open for writing"): Promise<pg.PoolClient> {
    if (this.closed) throw new TaifengError("store_error", "the PostgreSQL store is closed");
    await this.migrate();
    if (this.writers.has(threadId)) throw new TaifengError("thread_locked", `thread ${threadId} ${locked}`);
    if (this.sessionsInUse >= this.maxWriters) await this.waitForSlot(threadId);
    this.sessionsInUse++;
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      this.freeSlot();
      throw dbError("connecting", err);
    }
    client.on("error", ignore); // until a writer takes the session (it listens itself)
    try {
      const { rows } = await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${LOCK_KEY}) AS ok`, [
        `${this.schema}/${threadId}`,
      ]);
      if (rows[0]?.ok !== true) throw new TaifengError("thread_locked", `thread ${threadId} ${locked}`);
      return client;
    } catch (err) {
      this.freeSlot();
      client.off("error", ignore);
      client.release();
      throw dbError(`locking thread ${threadId}`, err);
    }
  }

  /**
   * Waits (FIFO) until a writer session is free, at most `writerWaitMs`; then throws a clear
   * `store_error`. Queries never wait here: they keep the connections writers may not take.
   */
  private waitForSlot(threadId: string): Promise<void> {
    const ms = this.options.writerWaitMs ?? 10_000;
    return new Promise<void>((resolve, reject) => {
      const waiter = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.slotWaiters.splice(this.slotWaiters.indexOf(waiter), 1);
        reject(
          new TaifengError(
            "store_error",
            `cannot open thread ${threadId}: all ${this.maxWriters} writer connections of this PostgreSQL store stayed in use for ${ms} ms (each open thread holds one); close threads or raise maxConnections / maxWriters`,
          ),
        );
      }, ms);
      this.slotWaiters.push(waiter);
    });
  }

  /** A writer session ended: the next waiter takes its slot. */
  private freeSlot(): void {
    this.sessionsInUse--;
    this.slotWaiters.shift()?.();
  }

  private async releaseSession(client: pg.PoolClient): Promise<void> {
    this.freeSlot();
    client.off("error", ignore);
    const failed = await client
      .query("SELECT pg_advisory_unlock_all()")
      .then(() => undefined)
      .catch((err: Error) => err);
    client.release(failed);
  }

  private startWriter(
    threadId: string,
    client: pg.PoolClient,
    nextSeq: number,
    summarizer: ThreadSummarizer,
  ): PgWriter {
    client.off("error", ignore);
    const writer = new PgWriter({
      threadId,
      client,
      schema: this.s,
      nextSeq,
      summarizer,
      batchDelayMs: this.options.batchDelayMs ?? 25,
      onClose: () => {
        if (this.writers.get(threadId) === writer) this.writers.delete(threadId);
        this.freeSlot();
      },
      ...(this.options.onCommitted ? { onCommitted: this.options.onCommitted } : {}),
    });
    this.writers.set(threadId, writer);
    return writer;
  }

  private async readWith(db: pg.Pool | pg.PoolClient, threadId: string): Promise<RolloutLine[]> {
    let rows: string[][];
    try {
      // Rows as arrays, in sequence order: one string per written batch, parsed as returned.
      ({ rows } = await db.query<string[]>({
        text: `SELECT text FROM ${this.s}.lines WHERE thread_id = $1 ORDER BY seq`,
        values: [threadId],
        rowMode: "array",
      }));
    } catch (err) {
      throw dbError(`reading thread ${threadId}`, err);
    }
    if (rows.length === 0) throw new TaifengError("thread_not_found", `no thread ${threadId}`);
    return parseStoredLines(
      rows.map((r) => r[0] as string),
      `postgres:${this.schema}.${threadId}`,
    );
  }
}

function ignore(): void {}

/** JSON has no `undefined`: restore the optional fields ThreadInfo always carries. */
function normalizeInfo(info: ThreadInfo): ThreadInfo {
  return {
    ...info,
    title: info.title ?? undefined,
    parentThreadId: info.parentThreadId ?? undefined,
    parentTurns: info.parentTurns ?? undefined,
  };
}
