/**
 * Durable positions of thread events. A thread's transcript is an append-only list of lines;
 * the position of a live event is the number of lines appended when it was emitted, plus its
 * ordinal among the events emitted at that same line count. SSE ids are these positions:
 *
 * - `N` names transcript line N itself (1-based): replayed from the file;
 * - `N.K` names the K-th live event (from 0) emitted after line N was appended.
 *
 * Ordered by N, then K (`N` before `N.0`). A client that resumes with either form receives
 * exactly what followed it: from memory while the events are retained, else the transcript
 * lines after N (which hold every durable fact: items, turn ends, approvals), even after a
 * server restart.
 */
import type { OpenedThread, ThreadStore, ThreadWriter } from "../conversation/store.ts";

/** A position: `k` is -1 for a transcript line, else the live event's ordinal after line `line`. */
export interface Position {
  readonly line: number;
  readonly k: number;
}

/** Parses an SSE id (`12` or `12.3`). Undefined when it is not one of ours. */
export function parsePosition(id: string | undefined | null): Position | undefined {
  if (id === undefined || id === null) return undefined;
  const m = /^(\d{1,15})(?:\.(\d{1,9}))?$/.exec(id.trim());
  if (!m) return undefined;
  return { line: Number(m[1]), k: m[2] === undefined ? -1 : Number(m[2]) };
}

/** The SSE id of a position. */
export function formatPosition(p: Position): string {
  return p.k < 0 ? String(p.line) : `${p.line}.${p.k}`;
}

/** Negative when `a` comes before `b`. */
export function comparePositions(a: Position, b: Position): number {
  return a.line === b.line ? a.k - b.k : a.line - b.line;
}

/**
 * Wraps a ThreadStore and counts, per thread with a live writer, the lines in its
 * transcript: the count at open (or 1 after create) plus every append. Everything else
 * (reads, listing, session bindings, artifacts) is passed through unchanged.
 */
export class CountingStore implements ThreadStore {
  private readonly inner: ThreadStore;
  private readonly counts = new Map<string, number>();

  constructor(inner: ThreadStore) {
    this.inner = inner;
  }

  /** The inner store's session bindings, if it keeps them. */
  get sessions(): ThreadStore["sessions"] {
    return this.inner.sessions;
  }

  /** The inner store's artifacts, if it keeps them (so outputs survive a restart). */
  get artifacts(): ThreadStore["artifacts"] {
    return this.inner.artifacts;
  }

  /** Lines in the thread's transcript while a writer is open; undefined otherwise. */
  lineCount(threadId: string): number | undefined {
    return this.counts.get(threadId);
  }

  async create(meta: Parameters<ThreadStore["create"]>[0]): Promise<ThreadWriter> {
    const writer = await this.inner.create(meta);
    this.counts.set(meta.threadId, 1);
    return this.wrap(writer);
  }

  async open(threadId: string): Promise<OpenedThread> {
    const opened = await this.inner.open(threadId);
    this.counts.set(threadId, opened.lines.length);
    return { ...opened, writer: this.wrap(opened.writer) };
  }

  read(threadId: string): ReturnType<ThreadStore["read"]> {
    return this.inner.read(threadId);
  }
  exists(threadId: string): Promise<boolean> {
    return this.inner.exists(threadId);
  }
  list(query?: Parameters<ThreadStore["list"]>[0]): ReturnType<ThreadStore["list"]> {
    return this.inner.list(query);
  }
  delete(threadId: string): Promise<void> {
    return this.inner.delete(threadId);
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  private wrap(writer: ThreadWriter): ThreadWriter {
    const counts = this.counts;
    const id = writer.threadId;
    const wrapped: ThreadWriter = {
      threadId: id,
      append(line) {
        writer.append(line);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      },
      flush: () => writer.flush(),
      close: async () => {
        await writer.close();
        counts.delete(id);
      },
    };
    if (writer.synchronous !== undefined) Object.assign(wrapped, { synchronous: writer.synchronous });
    return wrapped;
  }
}
