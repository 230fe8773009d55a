/** A view of a PgThreadStore that remembers the writer of each thread this process opened. */
import type {
  OpenedThread,
  ThreadInfo,
  ThreadMeta,
  ThreadQuery,
  ThreadStore,
  ThreadWriter,
} from "../../conversation/store.ts";
import { TaifengError } from "../../errors.ts";
import type { RolloutLine } from "../../protocol/index.ts";
import type { PgThreadStore } from "../pg/pg-store.ts";
import { PgWriter } from "../pg/pg-writer.ts";

/**
 * Delegates to the store and keeps the PgWriter of every thread opened through it (until the
 * writer closes), so the worker can attach statements to a thread's next lines and tools can
 * make the transcript durable before an effect. `close` does not close the shared store.
 */
export class TrackedStore implements ThreadStore {
  private readonly inner: PgThreadStore;
  private readonly writers = new Map<string, PgWriter>();
  private readonly existing = new Set<string>();

  constructor(inner: PgThreadStore) {
    this.inner = inner;
  }

  /** The open writer of a thread. Throws TaifengError `internal` when this process does not hold it. */
  writerOf(threadId: string): PgWriter {
    const writer = this.writers.get(threadId);
    if (!writer) throw new TaifengError("internal", `no writer of thread ${threadId} is open in this worker`);
    return writer;
  }

  /** The caller just saw the thread in the store: the engine's `exists` check needs no query. */
  knownToExist(threadId: string): void {
    this.existing.add(threadId);
  }

  async create(meta: ThreadMeta): Promise<ThreadWriter> {
    return this.track(meta.threadId, await this.inner.create(meta));
  }

  async open(threadId: string): Promise<OpenedThread> {
    const opened = await this.inner.open(threadId);
    return { ...opened, writer: this.track(threadId, opened.writer) };
  }

  read(threadId: string): Promise<RolloutLine[]> {
    return this.inner.read(threadId);
  }

  exists(threadId: string): Promise<boolean> {
    if (this.existing.delete(threadId)) return Promise.resolve(true);
    return this.inner.exists(threadId);
  }

  list(query?: ThreadQuery): Promise<ThreadInfo[]> {
    return this.inner.list(query);
  }

  delete(threadId: string): Promise<void> {
    return this.inner.delete(threadId);
  }

  async close(): Promise<void> {}

  private track(threadId: string, writer: ThreadWriter): ThreadWriter {
    if (!(writer instanceof PgWriter)) return writer;
    this.writers.set(threadId, writer);
    const close = writer.close.bind(writer);
    writer.close = () => {
      if (this.writers.get(threadId) === writer) this.writers.delete(threadId);
      return close();
    };
    return writer;
  }
}
