/** The PostgreSQL thread store's schema: versioned migrations applied once per schema. */
import type { Pool, PoolClient } from "pg";
import { describeError, TaifengError } from "../../errors.ts";

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Checks a schema name (lower-case letters, digits, `_`; at most 63 characters) and quotes it. */
export function quoteSchema(schema: string): string {
  if (!SCHEMA_NAME.test(schema)) {
    throw new TaifengError(
      "invalid_config",
      `invalid PostgreSQL schema name ${JSON.stringify(schema)}: use 1-63 lower-case letters, digits or "_", not starting with a digit`,
    );
  }
  return `"${schema}"`;
}

/** One schema change. Versions are contiguous from 1 and never edited once released. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  /** SQL run in the migration's transaction; `$S` stands for the quoted schema. */
  readonly sql: string;
}

/**
 * Every migration, in order. Version 1: `threads` (one row per thread: the directory's
 * columns and the ThreadInfo as JSON) and `lines` (the transcript: one row per written batch —
 * `count` lines from sequence number `seq`, their text exactly as serialized, newline-joined —
 * so resuming a long thread reads one row per flush, not one per line). Version 2: the execution backend's
 * `backend_threads` (a thread's recipe and its submission counter) and `inbox` (submitted ops
 * in order; `submission_id` is set in the transaction that stores the op's first lines).
 * Version 3: `sessions` (EnginePool session bindings; deleting a thread drops its bindings).
 * Version 4: `artifacts` (full tool outputs kept with their thread). Version 5: `inbox.first_seq`
 * (the sequence number from which an op's lines were appended, so reading a submission's
 * outcome reads the lines of its turn, not the whole thread) and `backend_threads.failure` (why a
 * child thread's job failed — poisoned, stalled too often — for its parent to read).
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "threads and lines",
    sql: `
      CREATE TABLE $S.threads (
        thread_id text PRIMARY KEY,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        title text,
        parent_thread_id text,
        lines bigint NOT NULL,
        info json NOT NULL
      );
      CREATE INDEX threads_updated ON $S.threads (updated_at DESC);
      CREATE INDEX threads_parent ON $S.threads (parent_thread_id) WHERE parent_thread_id IS NOT NULL;
      CREATE TABLE $S.lines (
        thread_id text NOT NULL REFERENCES $S.threads (thread_id) ON DELETE CASCADE,
        seq bigint NOT NULL,
        count int NOT NULL,
        text text NOT NULL,
        PRIMARY KEY (thread_id, seq)
      );`,
  },
  {
    version: 2,
    name: "execution backend: recipes and inboxes",
    sql: `
      CREATE TABLE $S.backend_threads (
        thread_id text PRIMARY KEY REFERENCES $S.threads (thread_id) ON DELETE CASCADE,
        recipe json NOT NULL,
        next_n bigint NOT NULL DEFAULT 0
      );
      CREATE TABLE $S.inbox (
        thread_id text NOT NULL REFERENCES $S.threads (thread_id) ON DELETE CASCADE,
        n bigint NOT NULL,
        op json NOT NULL,
        enqueued_at bigint NOT NULL,
        submission_id text,
        error text,
        PRIMARY KEY (thread_id, n)
      );`,
  },
  {
    version: 3,
    name: "session bindings",
    sql: `
      CREATE TABLE $S.sessions (
        session_id text PRIMARY KEY,
        thread_id text NOT NULL REFERENCES $S.threads (thread_id) ON DELETE CASCADE,
        bound_at bigint NOT NULL,
        used_at bigint NOT NULL
      );
      CREATE INDEX sessions_thread ON $S.sessions (thread_id);`,
  },
  {
    version: 4,
    name: "artifacts",
    sql: `
      CREATE TABLE $S.artifacts (
        thread_id text NOT NULL REFERENCES $S.threads (thread_id) ON DELETE CASCADE,
        id text NOT NULL,
        content text NOT NULL,
        tool text NOT NULL,
        call_id text NOT NULL,
        PRIMARY KEY (thread_id, id)
      );`,
  },
  {
    version: 5,
    name: "where an op's lines start; failed child threads",
    sql: `
      ALTER TABLE $S.inbox ADD COLUMN first_seq bigint;
      ALTER TABLE $S.backend_threads ADD COLUMN failure text;`,
  },
];

/** The newest schema version this code knows. */
export const SCHEMA_LATEST = MIGRATIONS.length;

/**
 * Brings `schema` up to `migrations`' last version in one transaction, serialized across
 * processes by a transaction-scoped advisory lock (concurrent first use is safe). Returns the
 * versions applied. Throws TaifengError `store_error` when the database is at a newer version
 * than this code knows, or when a migration fails (nothing of it is kept).
 */
export async function migrate(
  pool: Pool,
  schema: string,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  const s = quoteSchema(schema);
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw new TaifengError("store_error", `cannot connect to PostgreSQL: ${describeError(err)}`, {
      cause: err,
    });
  }
  const applied: number[] = [];
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
      `taifeng-migrate:${schema}`,
    ]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s}.migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ v: number | null }>(
      `SELECT max(version) AS v FROM ${s}.migrations`,
    );
    const current = rows[0]?.v ?? 0;
    const latest = migrations.at(-1)?.version ?? 0;
    if (current > latest) {
      throw new TaifengError(
        "store_error",
        `PostgreSQL schema ${schema} is at version ${current}, newer than this Taifeng knows (${latest}); upgrade Taifeng to use it`,
        { details: { schema, version: current } },
      );
    }
    for (const m of migrations) {
      if (m.version <= current) continue;
      await client.query(m.sql.replaceAll("$S", s));
      await client.query(`INSERT INTO ${s}.migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      applied.push(m.version);
    }
    await client.query("COMMIT");
    return applied;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    if (err instanceof TaifengError) throw err;
    throw new TaifengError(
      "store_error",
      `migrating PostgreSQL schema ${schema} failed: ${describeError(err)}`,
      {
        cause: err,
      },
    );
  } finally {
    client.release();
  }
}
