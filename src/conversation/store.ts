import type { RolloutLine, RolloutLineOf } from "../protocol/index.ts";
import type { ArtifactStore } from "../tool/artifacts.ts";
import type { ReplayedThread } from "./replay.ts";
import type { ThreadInfo } from "./summary.ts";

export type { ThreadInfo, ThreadStatus } from "./summary.ts";

/** The payload of a transcript's first line. */
export type ThreadMeta = RolloutLineOf<"thread_meta">["payload"];

/**
 * How hard `flush` works before it resolves:
 * - `turn` (default): lines are written in batches and fsynced when the engine flushes at
 *   the end of every turn (and on rewind and close);
 * - `item`: additionally, every batch is fsynced as soon as it is written (group commit:
 *   lines appended while a sync runs share the next one);
 * - `none`: lines reach the operating system at every flush but are never fsynced, so they
 *   survive a process crash, not a power loss.
 */
export type Durability = "turn" | "item" | "none";

/**
 * Appends lines to one thread's transcript. There is at most one writer per thread.
 * `append` is synchronous and only buffers (lines keep their order); `flush` makes every
 * line appended so far durable to the degree the store's durability mode promises, and
 * rejects with TaifengError `store_error` when that failed. After a failure the file still
 * ends with its last complete line and the unwritten lines stay queued for the next flush.
 */
export interface ThreadWriter {
  readonly threadId: string;
  append(line: RolloutLine): void;
  /**
   * True when `append` already stores each line where readers see it and `flush` and
   * `close` finish synchronously (in-memory stores): the engine then skips waiting on them.
   */
  readonly synchronous?: boolean;
  flush(): Promise<void>;
  /** Flushes and releases the thread. Idempotent. */
  close(): Promise<void>;
}

/** A thread opened for writing: its lines (repaired if torn) and the writer. */
export interface OpenedThread {
  readonly lines: RolloutLine[];
  readonly writer: ThreadWriter;
  /** Problems repaired while opening (e.g. a torn last line), for a `warning` event. */
  readonly warnings: string[];
}

/**
 * A thread opened for writing and replayed, possibly without reading what precedes its
 * latest compaction checkpoint (ThreadStore.resume).
 */
export interface ResumedThread {
  /** Exactly what replayRollout gives for the whole transcript. */
  readonly replayed: ReplayedThread;
  readonly writer: ThreadWriter;
  /** Problems repaired while opening, as in OpenedThread. */
  readonly warnings: string[];
  /** Lines in the transcript, every one counted. */
  readonly lineCount: number;
  /** Lines read and parsed to resume (the whole file, or `thread_meta` plus the lines from the checkpoint on). */
  readonly linesRead: number;
}

/** Filters for `ThreadStore.list`. */
export interface ThreadQuery {
  /** Case-insensitive substring of the title. */
  readonly search?: string;
  /** Only forks of this thread. */
  readonly parentThreadId?: string;
  /** Only child agents spawned by this thread (`ThreadInfo.agent.parentThreadId`). */
  readonly agentParentThreadId?: string;
  /** Most rows returned (most recently updated first). */
  readonly limit?: number;
}

/**
 * Which thread each session continues: the binding an EnginePool routes by. Bindings are
 * data, kept where the store keeps its threads (the JSONL store: the `sessions` table of its
 * SQLite directory), so a returning session finds its thread after any restart. A binding
 * lasts until the session is bound to another thread, it is unbound, its thread is deleted,
 * or — when the caller passes `ttlMs` — it went unused for longer than that.
 * Methods throw TaifengError `store_error` when storage fails.
 */
export interface SessionBindings {
  /** The session's thread (marking the binding used), or undefined when it has none. */
  threadOf(sessionId: string, ttlMs?: number): Promise<string | undefined>;
  /** Binds the session to the thread, durably, replacing an earlier binding. */
  bind(sessionId: string, threadId: string): Promise<void>;
  unbind(sessionId: string): Promise<void>;
}

/**
 * A store's artifacts (full texts of capped tool outputs and of outputs microcompact trimmed),
 * kept with its threads: an engine on the store uses them unless given its own, so a prompt
 * that names an artifact still finds it after a resume, an eviction or a restart. Deleting a
 * thread deletes its artifacts; forking gives the fork its source's.
 */
export interface ThreadArtifacts extends ArtifactStore {
  /** Gives the thread `to` (a fork) the artifacts of `from`. */
  copyThread?(from: string, to: string): Promise<void>;
}

/**
 * Where transcripts live. Implementations: MemoryThreadStore and JsonlThreadStore (files
 * plus a SQLite directory). Throws TaifengError `thread_not_found` for an unknown id,
 * `thread_locked` when another writer holds the thread, `store_error` when storage fails.
 */
export interface ThreadStore {
  /** Creates a thread whose first line is `thread_meta`; returns its writer. */
  create(meta: ThreadMeta): Promise<ThreadWriter>;
  /** Opens an existing thread for writing. */
  open(threadId: string): Promise<OpenedThread>;
  /**
   * Opens an existing thread for writing and replays it, reading as little as the store can
   * (the JSONL store starts at the latest compaction checkpoint). Optional: callers fall back
   * to `open` and replayRollout, which give the same state.
   */
  resume?(threadId: string): Promise<ResumedThread>;
  /** Reads a thread's lines without taking the writer (a line still being written is left out). */
  read(threadId: string): Promise<RolloutLine[]>;
  exists(threadId: string): Promise<boolean>;
  /** Threads, most recently updated first. */
  list(query?: ThreadQuery): Promise<ThreadInfo[]>;
  delete(threadId: string): Promise<void>;
  /** Flushes and releases every writer. */
  close(): Promise<void>;
  /**
   * Session bindings stored with the threads. Optional: a pool over a store without them keeps
   * bindings in its own memory (lost when its process stops). Deleting a thread drops them.
   */
  readonly sessions?: SessionBindings;
  /**
   * Artifacts stored with the threads. Optional: an engine on a store without them keeps
   * artifacts in memory (lost when its process stops) unless EngineOptions.artifacts is given.
   */
  readonly artifacts?: ThreadArtifacts;
}
