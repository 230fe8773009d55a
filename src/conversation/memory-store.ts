import { TaifengError } from "../errors.ts";
import type { RolloutLine } from "../protocol/index.ts";
import { MemoryArtifactStore } from "../tool/artifacts.ts";
import { MemorySessionBindings } from "./memory-sessions.ts";
import type { OpenedThread, ThreadMeta, ThreadQuery, ThreadStore, ThreadWriter } from "./store.ts";
import { queryThreads, summarizeThread, type ThreadInfo } from "./summary.ts";

interface MemoryThread {
  lines: RolloutLine[];
  writer: MemoryWriter | undefined;
}

const DONE = Promise.resolve();

class MemoryWriter implements ThreadWriter {
  readonly synchronous = true;
  closed = false;
  readonly threadId: string;
  private readonly thread: MemoryThread;

  constructor(threadId: string, thread: MemoryThread) {
    this.threadId = threadId;
    this.thread = thread;
  }

  append(line: RolloutLine): void {
    if (this.closed) throw new TaifengError("store_error", `writer for thread ${this.threadId} is closed`);
    this.thread.lines.push(line);
  }

  flush(): Promise<void> {
    return DONE;
  }

  close(): Promise<void> {
    if (this.closed) return DONE;
    this.closed = true;
    if (this.thread.writer === this) this.thread.writer = undefined;
    return DONE;
  }
}

/**
 * Keeps transcripts in memory: for tests and for hosts that persist elsewhere. Lines are
 * stored by reference, so callers must not mutate items after appending them (the engine
 * never does). Same locking contract as the file store: one writer per thread.
 */
export class MemoryThreadStore implements ThreadStore {
  private readonly threads = new Map<string, MemoryThread>();
  /** Session bindings, for as long as this store lives. */
  readonly sessions = new MemorySessionBindings();
  /** Artifacts of the threads, for as long as this store lives. */
  readonly artifacts = new MemoryArtifactStore();

  async create(meta: ThreadMeta): Promise<ThreadWriter> {
    if (this.threads.has(meta.threadId)) {
      throw new TaifengError("store_error", `thread ${meta.threadId} already exists`);
    }
    const thread: MemoryThread = {
      lines: [{ ts: meta.createdAt, type: "thread_meta", payload: meta }],
      writer: undefined,
    };
    this.threads.set(meta.threadId, thread);
    const writer = new MemoryWriter(meta.threadId, thread);
    thread.writer = writer;
    return writer;
  }

  async open(threadId: string): Promise<OpenedThread> {
    const thread = this.get(threadId);
    if (thread.writer)
      throw new TaifengError("thread_locked", `thread ${threadId} is already open for writing`);
    const writer = new MemoryWriter(threadId, thread);
    thread.writer = writer;
    return { lines: thread.lines.slice(), writer, warnings: [] };
  }

  async read(threadId: string): Promise<RolloutLine[]> {
    return this.get(threadId).lines.slice();
  }

  async exists(threadId: string): Promise<boolean> {
    return this.threads.has(threadId);
  }

  async list(query: ThreadQuery = {}): Promise<ThreadInfo[]> {
    return queryThreads(
      [...this.threads.values()].map((t) => summarizeThread(t.lines)),
      query,
    );
  }

  async delete(threadId: string): Promise<void> {
    const thread = this.get(threadId);
    if (thread.writer)
      throw new TaifengError("thread_locked", `thread ${threadId} is open; close it before deleting`);
    this.threads.delete(threadId);
    this.sessions.dropThread(threadId);
    await this.artifacts.deleteThread(threadId);
  }

  async close(): Promise<void> {
    for (const thread of this.threads.values()) await thread.writer?.close();
  }

  private get(threadId: string): MemoryThread {
    const thread = this.threads.get(threadId);
    if (!thread) throw new TaifengError("thread_not_found", `no thread ${threadId}`);
    return thread;
  }
}
