/** The tree's event stream: every agent's events, tagged, to listeners and async iterators. */
import type { TreeEvent } from "./types.ts";

interface Stream {
  buffer: TreeEvent[];
  wake: (() => void) | undefined;
  readonly keep: ((event: TreeEvent) => boolean) | undefined;
}

/**
 * Fans tree events out. Listeners run synchronously and must not throw (a throw is dropped);
 * streams buffer what their reader has not taken yet, from the moment they are opened.
 */
export class EventFeed {
  private readonly listeners = new Set<(event: TreeEvent) => void>();
  private readonly streams = new Set<Stream>();
  private closed = false;

  on(listener: (event: TreeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(event: TreeEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // an observer's bug must not stop the tree
      }
    }
    for (const s of this.streams) {
      if (s.keep && !s.keep(event)) continue;
      s.buffer.push(event);
      s.wake?.();
    }
  }

  /** A stream of the events `keep` accepts (all when omitted), from now on. */
  stream(keep?: (event: TreeEvent) => boolean): AsyncIterableIterator<TreeEvent> {
    const s: Stream = { buffer: [], wake: undefined, keep };
    if (!this.closed) this.streams.add(s);
    const feed = this;
    const iterator: AsyncIterableIterator<TreeEvent> = {
      async next(): Promise<IteratorResult<TreeEvent>> {
        for (;;) {
          const ev = s.buffer.shift();
          if (ev) return { done: false, value: ev };
          if (feed.closed || !feed.streams.has(s)) return { done: true, value: undefined };
          await new Promise<void>((r) => (s.wake = r));
          s.wake = undefined;
        }
      },
      async return(): Promise<IteratorResult<TreeEvent>> {
        feed.streams.delete(s);
        s.wake?.();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  close(): void {
    this.closed = true;
    for (const s of this.streams) s.wake?.();
  }
}
