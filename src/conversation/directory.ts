import { existsSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { describeError } from "../errors.ts";
import type { ThreadQuery } from "./store.ts";
import type { ThreadInfo, ThreadStatus } from "./summary.ts";

/**
 * Bumped when the table layout changes; an index of another version is rebuilt. Version 2
 * added `sessions`. The `sessions` table is data, not an index (bindings cannot be derived
 * from transcripts): a later layout change must migrate it, not drop it. Version 3 added the
 * agent links (`agent_*`) on one branch and `threads.resume` (the latest checkpoint, see
 * checkpoint.ts) on another; version 4 has both. Versions 2 and 3 are migrated in place
 * (migrateToCurrent): missing columns added, rows emptied so the next reconcile re-reads
 * every transcript; sessions stay.
 */
const INDEX_VERSION = 4;

const AGENT_COLUMNS = `agent_parent_id TEXT, agent_call_id TEXT, agent_path TEXT`;
const AGENT_INDEX = "CREATE INDEX IF NOT EXISTS threads_agent_parent ON threads (agent_parent_id);";
/** Columns later layouts added to `threads`, with their types. */
const ADDED_COLUMNS: readonly (readonly [string, string])[] = [
  ["agent_parent_id", "TEXT"],
  ["agent_call_id", "TEXT"],
  ["agent_path", "TEXT"],
  ["resume", "TEXT"],
];

// Every statement is idempotent: processes that create a new store at the same moment each
// run it, one after the other (BEGIN IMMEDIATE), and the later ones change nothing.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS threads (
  id TEXT PRIMARY KEY,
  title TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  turns INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('idle', 'running', 'suspended', 'failed')),
  input_tokens INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL,
  cache_write_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  reasoning_tokens INTEGER NOT NULL,
  parent_id TEXT,
  parent_turns INTEGER,
  file_bytes INTEGER NOT NULL,
  ${AGENT_COLUMNS},
  resume TEXT
);
CREATE INDEX IF NOT EXISTS threads_updated ON threads (updated_at DESC);
CREATE INDEX IF NOT EXISTS threads_parent ON threads (parent_id);
${AGENT_INDEX}
CREATE TABLE IF NOT EXISTS sessions (
  session_id TEXT PRIMARY KEY,
  thread_id TEXT NOT NULL,
  bound_at INTEGER NOT NULL,
  used_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_thread ON sessions (thread_id);
PRAGMA user_version = ${INDEX_VERSION};
`;

interface Row {
  id: string;
  title: string | null;
  created_at: number;
  updated_at: number;
  turns: number;
  status: string;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  parent_id: string | null;
  parent_turns: number | null;
  agent_parent_id: string | null;
  agent_call_id: string | null;
  agent_path: string | null;
}

function toInfo(row: Row): ThreadInfo {
  return {
    threadId: row.id,
    title: row.title ?? undefined,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    turns: row.turns,
    status: row.status as ThreadStatus,
    usage: {
      inputTokens: row.input_tokens,
      cachedInputTokens: row.cached_input_tokens,
      cacheWriteTokens: row.cache_write_tokens,
      outputTokens: row.output_tokens,
      reasoningTokens: row.reasoning_tokens,
    },
    parentThreadId: row.parent_id ?? undefined,
    parentTurns: row.parent_turns ?? undefined,
    ...(row.agent_parent_id !== null
      ? {
          agent: {
            parentThreadId: row.agent_parent_id,
            callId: row.agent_call_id ?? "",
            path: row.agent_path ?? "",
          },
        }
      : {}),
  };
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * The thread directory: one SQLite row per transcript (`node:sqlite`, no native addon),
 * searchable by title. It is only an index: every row can be rebuilt from the JSONL files,
 * so a file that is missing, corrupt or of another layout version is moved aside and
 * started afresh (`fresh` tells the store to re-index every transcript).
 */
export class ThreadDirectory {
  readonly path: string;
  /** True when the index was just created empty (missing, corrupt or outdated before). */
  readonly fresh: boolean;
  private readonly db: DatabaseSync;
  private readonly upsertStmt: StatementSync;
  private resumeStmt: StatementSync | undefined;
  private transactions = 0;
  private writes = 0;

  /** Opens or creates the index; `onWarning` hears about a corrupt index being replaced. */
  constructor(path: string, onWarning: (message: string) => void) {
    this.path = path;
    const existed = existsSync(path);
    let opened = tryOpen(path);
    if (opened.ok && existed && (opened.version === 2 || opened.version === 3)) migrate(opened.db);
    else if (opened.ok && existed && opened.version !== INDEX_VERSION && opened.version !== 0) {
      opened.db.close();
      onWarning(
        `thread index ${path} has layout version ${opened.version}; rebuilding it from the transcripts`,
      );
      removeIndex(path);
      opened = tryOpen(path);
    } else if (!opened.ok && opened.corrupt) {
      onWarning(`thread index ${path} is unreadable (${opened.message}); rebuilding it from the transcripts`);
      moveAside(path);
      opened = tryOpen(path);
    }
    if (!opened.ok) throw opened.error;
    this.db = opened.db;
    this.fresh = opened.version !== INDEX_VERSION && createSchema(this.db);
    this.upsertStmt = this.db.prepare(
      `INSERT INTO threads VALUES (:id, :title, :created_at, :updated_at, :turns, :status, :input_tokens,
         :cached_input_tokens, :cache_write_tokens, :output_tokens, :reasoning_tokens, :parent_id, :parent_turns, :file_bytes,
         :agent_parent_id, :agent_call_id, :agent_path, :resume)
       ON CONFLICT (id) DO UPDATE SET title = excluded.title, updated_at = excluded.updated_at, turns = excluded.turns,
         status = excluded.status, input_tokens = excluded.input_tokens, cached_input_tokens = excluded.cached_input_tokens,
         cache_write_tokens = excluded.cache_write_tokens, output_tokens = excluded.output_tokens,
         reasoning_tokens = excluded.reasoning_tokens, parent_id = excluded.parent_id,
         parent_turns = excluded.parent_turns, file_bytes = excluded.file_bytes,
         agent_parent_id = excluded.agent_parent_id, agent_call_id = excluded.agent_call_id,
         agent_path = excluded.agent_path,
         resume = CASE WHEN :keep_resume THEN threads.resume ELSE excluded.resume END`,
    );
  }

  /**
   * Inserts or replaces a thread's row; `fileBytes` is the transcript length it reflects.
   * `resume`: the thread's latest checkpoint (encoded), `null` to clear it, undefined to keep
   * the one stored.
   */
  upsert(info: ThreadInfo, fileBytes: number, resume?: string | null): void {
    this.writes++;
    this.upsertStmt.run({
      id: info.threadId,
      title: info.title ?? null,
      created_at: info.createdAt,
      updated_at: info.updatedAt,
      turns: info.turns,
      status: info.status,
      input_tokens: info.usage.inputTokens,
      cached_input_tokens: info.usage.cachedInputTokens,
      cache_write_tokens: info.usage.cacheWriteTokens,
      output_tokens: info.usage.outputTokens,
      reasoning_tokens: info.usage.reasoningTokens,
      parent_id: info.parentThreadId ?? null,
      parent_turns: info.parentTurns ?? null,
      file_bytes: fileBytes,
      agent_parent_id: info.agent?.parentThreadId ?? null,
      agent_call_id: info.agent?.callId ?? null,
      agent_path: info.agent?.path ?? null,
      resume: resume ?? null,
      keep_resume: resume === undefined ? 1 : 0,
    });
  }

  /** The stored checkpoint of a thread (encoded), if any. */
  resumePoint(threadId: string): string | undefined {
    this.resumeStmt ??= this.db.prepare("SELECT resume FROM threads WHERE id = ?");
    const row = this.resumeStmt.get(threadId) as { resume: string | null } | undefined;
    return row?.resume ?? undefined;
  }

  /** Write transactions and row writes so far (thread rows and session bindings). */
  get stats(): { readonly transactions: number; readonly writes: number } {
    return { transactions: this.transactions, writes: this.writes };
  }

  /** Runs `fn` in one transaction (many upserts at once are far faster). */
  transaction(fn: () => void): void {
    this.transactions++;
    this.db.exec("BEGIN");
    try {
      fn();
      this.db.exec("COMMIT");
    } catch (err) {
      this.db.exec("ROLLBACK");
      throw err;
    }
  }

  /** Drops a thread's row (its transcript cannot be read now; its bindings stay). */
  remove(threadId: string): void {
    this.db.prepare("DELETE FROM threads WHERE id = ?").run(threadId);
  }

  /** Drops a deleted thread's row and every session bound to it. */
  forget(threadId: string): void {
    this.remove(threadId);
    this.db.prepare("DELETE FROM sessions WHERE thread_id = ?").run(threadId);
  }

  /**
   * The thread a session is bound to, and marks the binding used. A binding unused for longer
   * than `ttlMs` (when given) is dropped instead and undefined returned.
   */
  sessionThread(sessionId: string, now: number, ttlMs?: number): string | undefined {
    const row = this.sessionRow(sessionId);
    if (!row) return undefined;
    if (ttlMs !== undefined && now - row.usedAt > ttlMs) {
      this.unbindSession(sessionId);
      return undefined;
    }
    this.touchSession(sessionId, now);
    return row.threadId;
  }

  /** A session's binding, read without marking it used. */
  sessionRow(sessionId: string): { readonly threadId: string; readonly usedAt: number } | undefined {
    const row = this.db
      .prepare("SELECT thread_id, used_at FROM sessions WHERE session_id = ?")
      .get(sessionId) as { thread_id: string; used_at: number } | undefined;
    return row && { threadId: row.thread_id, usedAt: row.used_at };
  }

  /** Marks a binding used at `now`. */
  touchSession(sessionId: string, now: number): void {
    this.counted();
    this.db.prepare("UPDATE sessions SET used_at = ? WHERE session_id = ?").run(now, sessionId);
  }

  /** Binds a session to a thread (replacing an earlier binding). */
  bindSession(sessionId: string, threadId: string, now: number): void {
    this.counted();
    this.db
      .prepare(
        `INSERT INTO sessions VALUES (?, ?, ?, ?) ON CONFLICT (session_id) DO UPDATE SET
           thread_id = excluded.thread_id, bound_at = CASE WHEN sessions.thread_id = excluded.thread_id
           THEN sessions.bound_at ELSE excluded.bound_at END, used_at = excluded.used_at`,
      )
      .run(sessionId, threadId, now, now);
  }

  unbindSession(sessionId: string): void {
    this.counted();
    this.db.prepare("DELETE FROM sessions WHERE session_id = ?").run(sessionId);
  }

  /** Counts a row write, and its transaction when it commits on its own. */
  private counted(): void {
    this.writes++;
    if (!this.db.isTransaction) this.transactions++;
  }

  /** Number of session bindings. */
  sessionCount(): number {
    return (this.db.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n;
  }

  /** Deletes every row. */
  clear(): void {
    this.db.exec("DELETE FROM threads");
  }

  /** The indexed transcript length of every thread, for reconciling with the files. */
  indexedBytes(): Map<string, number> {
    const out = new Map<string, number>();
    for (const row of this.db.prepare("SELECT id, file_bytes FROM threads").all())
      out.set(row.id as string, row.file_bytes as number);
    return out;
  }

  /** One thread's row. */
  get(threadId: string): ThreadInfo | undefined {
    const row = this.db.prepare("SELECT * FROM threads WHERE id = ?").get(threadId);
    return row ? toInfo(row as unknown as Row) : undefined;
  }

  /** Rows matching the query, most recently updated first. */
  query(query: ThreadQuery = {}): ThreadInfo[] {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    if (query.search !== undefined && query.search !== "") {
      where.push("title LIKE :search ESCAPE '\\'");
      params.search = `%${escapeLike(query.search)}%`;
    }
    if (query.parentThreadId !== undefined) {
      where.push("parent_id = :parent");
      params.parent = query.parentThreadId;
    }
    if (query.agentParentThreadId !== undefined) {
      where.push("agent_parent_id = :agentParent");
      params.agentParent = query.agentParentThreadId;
    }
    const sql =
      `SELECT * FROM threads${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""}` +
      ` ORDER BY updated_at DESC, id DESC${query.limit !== undefined ? " LIMIT :limit" : ""}`;
    if (query.limit !== undefined) params.limit = query.limit;
    return this.db
      .prepare(sql)
      .all(params)
      .map((row) => toInfo(row as unknown as Row));
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }
}

/**
 * Creates the tables unless another process just did: the version is read again inside an
 * immediate (write-locked) transaction, so concurrent first users create them once and wait
 * for each other (busy timeout) instead of failing. True when this call created them.
 * Exported for its test.
 */
export function createSchema(db: DatabaseSync): boolean {
  db.exec("BEGIN IMMEDIATE");
  try {
    const version = (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
    if (version === INDEX_VERSION) {
      db.exec("COMMIT");
      return false;
    }
    if (version === 2 || version === 3) {
      migrateToCurrent(db);
      db.exec("COMMIT");
      return false;
    }
    db.exec(SCHEMA);
    db.exec("COMMIT");
    return true;
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
}

/** Version 2 or 3 -> current in one immediate transaction (a concurrent opener waits, then sees the current version). */
function migrate(db: DatabaseSync): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    const version = (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
    if (version === 2 || version === 3) migrateToCurrent(db);
    db.exec("COMMIT");
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
}

/** Adds the columns a version 2 or 3 index lacks and empties the rows; inside the caller's transaction. */
function migrateToCurrent(db: DatabaseSync): void {
  const have = new Set(
    (db.prepare("PRAGMA table_info(threads)").all() as { name: string }[]).map((c) => c.name),
  );
  for (const [name, type] of ADDED_COLUMNS)
    if (!have.has(name)) db.exec(`ALTER TABLE threads ADD COLUMN ${name} ${type};`);
  db.exec(`${AGENT_INDEX}\nDELETE FROM threads;\nPRAGMA user_version = ${INDEX_VERSION};`);
}

const load = createRequire(import.meta.url);
let sqliteModule: typeof import("node:sqlite") | undefined;

/**
 * `node:sqlite`, loaded on first use rather than imported: a static import fails while the
 * module graph is linked, before any code runs, so an old Node would die with
 * ERR_UNKNOWN_BUILTIN_MODULE instead of the one-line version message of src/node-check.ts.
 */
function sqlite(): typeof import("node:sqlite") {
  sqliteModule ??= load("node:sqlite") as typeof import("node:sqlite");
  return sqliteModule;
}

type Opened =
  | { ok: true; db: DatabaseSync; version: number }
  | { ok: false; message: string; error: unknown; corrupt: boolean };

/** SQLITE_CORRUPT and SQLITE_NOTADB: the file is damaged, not merely busy. */
const CORRUPT_CODES = new Set([11, 26]);

function tryOpen(path: string): Opened {
  let db: DatabaseSync | undefined;
  try {
    db = new (sqlite().DatabaseSync)(path, { timeout: 5_000 });
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
    const check = db.prepare("PRAGMA quick_check").get() as { quick_check?: string } | undefined;
    if (check?.quick_check !== "ok") {
      db.close();
      return {
        ok: false,
        message: `integrity check failed: ${check?.quick_check}`,
        error: undefined,
        corrupt: true,
      };
    }
    const version = (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
    return { ok: true, db, version };
  } catch (err) {
    try {
      db?.close();
    } catch {
      // already unusable
    }
    const code = (err as { errcode?: number }).errcode;
    return { ok: false, message: describeError(err), error: err, corrupt: CORRUPT_CODES.has(code ?? -1) };
  }
}

function removeIndex(path: string): void {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
}

function moveAside(path: string): void {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  try {
    renameSync(path, `${path}.corrupt-${stamp}`);
  } catch {
    // nothing to keep
  }
  removeIndex(path);
}
