import { TaifengError } from "../errors.ts";
import type { Event, EventMsgOf } from "../protocol/index.ts";

/**
 * A synchronous event observer (sinks, UIs, budgets). It must not throw; errors are reported
 * and dropped. `ctx` lets a listener that is part of the engine's machinery add events of its
 * own (see ListenerContext).
 */
export type EventListener = (event: Event, ctx: ListenerContext) => void;

/** The events a listener may add: notices about the run, never turn lifecycle. */
export type ListenerEventMsg = EventMsgOf<
  | "warning"
  | "budget_warning"
  | "error"
  | "child_spawned"
  | "child_completed"
  | "peer_message"
  | "wake_scheduled"
>;

/**
 * What the engine lets its listeners do besides observing. `emit` publishes `msg` in the same
 * submission and turn as `cause` (omit it for an engine-level event), after the event being
 * delivered has reached everyone; it is recorded in the transcript like any event. Ignored
 * once the engine is closed.
 */
export interface ListenerContext {
  emit(msg: ListenerEventMsg, cause?: Event): void;
}

const NO_CONTEXT: ListenerContext = { emit: () => {} };

interface SubmissionLog {
  readonly events: Event[];
  done: boolean;
  /** Subscribers waiting for the next event: usually none or one, an array only for more. */
  waiting: Subscription | Subscription[] | undefined;
}

const DONE: IteratorResult<Event> = { done: true, value: undefined };

const ignore = (): void => {};

/**
 * Fans events out to listeners, per-submission subscribers and whole-engine streams.
 * Each submission's events are buffered from its start, so a late subscriber still sees
 * all of them; the logs of the last `retain` finished submissions are kept.
 */
export class EventHub {
  // Created on first use: most engines have neither listeners nor whole-engine streams.
  private listeners: Set<EventListener> | undefined;
  private readonly logs = new Map<string, SubmissionLog>();
  private readonly finished: string[] = [];
  private streams: Set<EventStream> | undefined;
  private readonly retain: number;
  private readonly onListenerError: (err: unknown) => void;
  private readonly context: ListenerContext;
  private closed = false;
  private delivering = false;
  private readonly backlog: (() => void)[] = [];

  constructor(options: {
    retain: number;
    onListenerError?: ((err: unknown) => void) | undefined;
    context?: ListenerContext | undefined;
  }) {
    this.retain = options.retain;
    this.onListenerError = options.onListenerError ?? ignore;
    this.context = options.context ?? NO_CONTEXT;
  }

  /** Starts buffering events of a submission. */
  open(submissionId: string): void {
    this.logs.set(submissionId, { events: [], done: false, waiting: undefined });
  }

  /**
   * Delivers one event to everyone interested. A listener may submit ops that publish more
   * events; those are delivered after this one has reached everyone, so every observer sees
   * events (and submission ends) in the order they were published.
   */
  publish(event: Event): void {
    if (this.delivering) {
      this.backlog.push(() => this.deliver(event));
      return;
    }
    this.delivering = true;
    try {
      this.deliver(event);
      for (let next = this.backlog.shift(); next !== undefined; next = this.backlog.shift()) next();
    } finally {
      this.delivering = false;
    }
  }

  /** Marks a submission finished: its subscribers end after its last event. */
  end(submissionId: string): void {
    this.serially(() => this.finish(submissionId));
  }

  private serially(task: () => void): void {
    if (this.delivering) {
      this.backlog.push(task);
      return;
    }
    this.delivering = true;
    try {
      task();
      for (let next = this.backlog.shift(); next !== undefined; next = this.backlog.shift()) next();
    } finally {
      this.delivering = false;
    }
  }

  private deliver(event: Event): void {
    if (this.listeners) {
      for (const listener of this.listeners) {
        try {
          listener(event, this.context);
        } catch (err) {
          this.onListenerError(err);
        }
      }
    }
    if (event.submissionId !== undefined) {
      const log = this.logs.get(event.submissionId);
      if (log && !log.done) {
        log.events.push(event);
        if (log.waiting) wakeAll(log);
      }
    }
    if (this.streams) for (const stream of this.streams) stream.push(event);
  }

  private finish(submissionId: string): void {
    const log = this.logs.get(submissionId);
    if (!log || log.done) return;
    log.done = true;
    if (log.waiting) wakeAll(log);
    this.finished.push(submissionId);
    while (this.finished.length > this.retain) this.logs.delete(this.finished.shift() as string);
  }

  /** True while the submission has not finished. */
  isOpen(submissionId: string): boolean {
    const log = this.logs.get(submissionId);
    return log !== undefined && !log.done;
  }

  /**
   * The events of one submission from its start; the iteration ends when the submission
   * is done. Throws TaifengError `invalid_op` for an id that is unknown or no longer retained.
   */
  subscribe(submissionId: string): AsyncIterableIterator<Event> {
    const log = this.logs.get(submissionId);
    if (!log) throw new TaifengError("invalid_op", `unknown or expired submission ${submissionId}`);
    return new Subscription(log);
  }

  /** Every event from now until the engine closes (or the consumer stops iterating). */
  stream(): AsyncIterableIterator<Event> {
    const stream = new EventStream(() => this.streams?.delete(stream));
    if (this.closed) stream.close();
    else {
      this.streams ??= new Set();
      this.streams.add(stream);
    }
    return stream;
  }

  /** Adds a synchronous listener; returns a function that removes it. */
  on(listener: EventListener): () => void {
    this.listeners ??= new Set();
    const listeners = this.listeners;
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  /** Ends every stream and open subscription (after any event still being delivered). */
  close(): void {
    this.serially(() => {
      this.closed = true;
      for (const id of [...this.logs.keys()]) this.finish(id);
      if (this.streams) for (const stream of this.streams) stream.close();
      this.streams?.clear();
    });
  }
}

function wakeAll(log: SubmissionLog): void {
  const waiting = log.waiting;
  log.waiting = undefined;
  if (waiting instanceof Subscription) waiting.wake();
  else if (waiting) for (const sub of waiting) sub.wake();
}

/** One subscriber's position in a submission's events. */
class Subscription implements AsyncIterableIterator<Event> {
  private readonly log: SubmissionLog;
  private index = 0;
  private resolve: ((result: IteratorResult<Event>) => void) | undefined;
  private pending: Promise<IteratorResult<Event>> | undefined;

  constructor(log: SubmissionLog) {
    this.log = log;
  }

  next(): Promise<IteratorResult<Event>> {
    const log = this.log;
    if (this.index < log.events.length)
      return Promise.resolve({ done: false, value: log.events[this.index++] as Event });
    if (log.done) return Promise.resolve(DONE);
    // A second next() before the first settled waits its turn.
    if (this.pending) return this.pending.then(() => this.next());
    const waiting = new Promise<IteratorResult<Event>>((resolve) => {
      this.resolve = resolve;
    });
    this.pending = waiting;
    const others = log.waiting;
    if (others === undefined) log.waiting = this;
    else if (others instanceof Subscription) log.waiting = [others, this];
    else others.push(this);
    return waiting;
  }

  /** Called by the hub when an event arrives or the submission ends. */
  wake(): void {
    const resolve = this.resolve;
    if (!resolve) return;
    this.resolve = undefined;
    this.pending = undefined;
    const log = this.log;
    resolve(
      this.index < log.events.length ? { done: false, value: log.events[this.index++] as Event } : DONE,
    );
  }

  return(): Promise<IteratorResult<Event>> {
    this.index = Number.POSITIVE_INFINITY;
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Event> {
    return this;
  }
}

/** An unbounded queue of events with an async iterator on top. */
class EventStream implements AsyncIterableIterator<Event> {
  private queue: Event[] = [];
  private head = 0;
  private closed = false;
  private waiter: ((r: IteratorResult<Event>) => void) | undefined;
  private readonly detach: () => void;

  constructor(detach: () => void) {
    this.detach = detach;
  }

  push(event: Event): void {
    if (this.closed) return;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter({ done: false, value: event });
      return;
    }
    this.queue.push(event);
  }

  close(): void {
    this.closed = true;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(DONE);
  }

  next(): Promise<IteratorResult<Event>> {
    if (this.head < this.queue.length) {
      const value = this.queue[this.head++] as Event;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.closed) return Promise.resolve(DONE);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  return(): Promise<IteratorResult<Event>> {
    this.close();
    this.queue = [];
    this.detach();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Event> {
    return this;
  }
}
