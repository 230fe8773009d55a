/** The simulator's stream: plays planned model events with delays, honouring an abort signal. */
import { unwatchAbort, watchAbort } from "../../abort-watch.ts";
import { modelError } from "../errors.ts";
import type { ModelEvent } from "../types.ts";

const DONE: IteratorResult<ModelEvent> = { done: true, value: undefined };

type Settle = (result: IteratorResult<ModelEvent>) => void;

/**
 * Plays a planned list of events, waiting `delays[i]` ms before event i. A plain iterator
 * rather than an async generator: most events are ready at once and are handed out without
 * generator machinery, and a delay is one timer plus one promise, with no async frame kept
 * alive while it runs (a server may hold thousands of streams waiting on their first chunk).
 * An abort ends the stream with an `aborted` error; `return()` ends it at once, releasing
 * its timer and answering a pending `next()` with done.
 */
export class SimStream implements AsyncIterableIterator<ModelEvent> {
  private index = 0;
  private finished = false;
  private readonly events: readonly ModelEvent[];
  private readonly delays: readonly number[];
  private readonly signal: AbortSignal | undefined;
  /** Settles the pending `next()` while a delay runs. */
  private settle: Settle | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Created on the first delay that has a signal to watch, then reused. */
  private onAbort: (() => void) | undefined;

  /** `delays[i]` is the time to wait before `events[i]` (missing or <= 0: none). */
  constructor(events: readonly ModelEvent[], delays: readonly number[], signal: AbortSignal | undefined) {
    this.events = events;
    this.delays = delays;
    this.signal = signal;
  }

  next(): Promise<IteratorResult<ModelEvent>> {
    if (this.finished) return Promise.resolve(DONE);
    if (this.signal?.aborted) return Promise.resolve(this.abort());
    if (this.settle) return Promise.reject(new Error("SimStream.next() called while a call is pending"));
    const delay = this.delays[this.index] ?? 0;
    if (delay <= 0) return Promise.resolve(this.take());
    const promise = new Promise<IteratorResult<ModelEvent>>((resolve) => {
      this.settle = resolve;
    });
    this.timer = setTimeout(elapsed, delay, this);
    const signal = this.signal;
    if (signal) {
      this.onAbort ??= () => this.wake(this.abort());
      watchAbort(signal, this.onAbort);
    }
    return promise;
  }

  return(): Promise<IteratorResult<ModelEvent>> {
    this.finished = true;
    this.wake(DONE);
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ModelEvent> {
    return this;
  }

  /** The delay ran out: hand out the next event. Internal (the timer's callback). */
  elapsed(): void {
    this.timer = undefined;
    this.wake(this.take());
  }

  /** Ends the running delay, if any, answering its `next()` with `result`. */
  private wake(result: IteratorResult<ModelEvent>): void {
    const settle = this.settle;
    if (!settle) return;
    this.settle = undefined;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.onAbort && this.signal) unwatchAbort(this.signal, this.onAbort);
    settle(result);
  }

  private take(): IteratorResult<ModelEvent> {
    const value = this.events[this.index++];
    if (value === undefined) {
      this.finished = true;
      return DONE;
    }
    if (this.index >= this.events.length) this.finished = true;
    return { done: false, value };
  }

  private abort(): IteratorResult<ModelEvent> {
    this.finished = true;
    return { done: false, value: { type: "error", error: modelError("aborted", "model call aborted") } };
  }
}

// A module function with the stream as the timer's argument: no closure per delay.
function elapsed(stream: SimStream): void {
  stream.elapsed();
}
