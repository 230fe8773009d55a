import type { RolloutLine, RolloutLineOf } from "../protocol/index.ts";

/** The payload of a transcript's first line. */
export type ThreadMeta = RolloutLineOf<"thread_meta">["payload"];

/**
 * Appends lines to one thread's transcript. There is at most one writer per thread.
 * `append` is synchronous and only buffers (lines keep their order); `flush` makes every
 * line appended so far durable to the degree the store's durability mode promises, and
 * rejects with TaifengError `store_error` when that failed (the file stays valid).
 */
export interface ThreadWriter {
  readonly threadId: string;
  append(line: RolloutLine): void;
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

/** A row of the thread directory. */
export interface ThreadInfo {
  readonly threadId: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly title?: string | undefined;
  readonly parentThreadId?: string | undefined;
}

/**
 * Where transcripts live. Implementations: MemoryThreadStore (here) and the JSONL store.
 * Throws TaifengError `thread_not_found` for an unknown id and `thread_locked` when another
 * writer holds the thread.
 */
export interface ThreadStore {
  /** Creates a thread whose first line is `thread_meta`; returns its writer. */
  create(meta: ThreadMeta): Promise<ThreadWriter>;
  /** Opens an existing thread for writing. */
  open(threadId: string): Promise<OpenedThread>;
  /** Reads a thread's lines without taking the writer. */
  read(threadId: string): Promise<RolloutLine[]>;
  exists(threadId: string): Promise<boolean>;
  list(): Promise<ThreadInfo[]>;
  delete(threadId: string): Promise<void>;
  /** Flushes and releases every writer. */
  close(): Promise<void>;
}
