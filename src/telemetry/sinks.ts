/**
 * Event sinks and the dispatcher that keeps them off the turn's path: the engine's listener
 * only queues the event; sinks get redacted batches later, one batch at a time each, and a
 * slow, failing or hanging sink only ever costs dropped events and one `warning`.
 */
import { describeError } from "../errors.ts";
import type { EventListener, ListenerContext } from "../loop/event-hub.ts";
import type { Event } from "../protocol/index.ts";
import { defaultRedactor } from "../redact/redactor.ts";
import type { Redactor } from "../redact/types.ts";

/**
 * Where events go (a terminal, a file, a collector). Receives batches of redacted events in
 * publication order and never two batches at once: when `write` returns a promise, the next
 * batch waits for it. A throw or a rejection is reported once as a `warning` and the sink
 * keeps receiving events.
 */
export interface EventSink {
  /** Names the sink in warnings. */
  readonly name: string;
  write(events: readonly Event[]): void | Promise<void>;
  /** Makes what was written durable / visible. */
  flush?(): Promise<void>;
  /** Flushes and releases files or connections. Called once by `SinkHub.close`. */
  close?(): Promise<void>;
}

/** Options of a SinkHub. */
export interface SinkHubOptions {
  /** Every event is passed through it before any sink sees it. Default: `defaultRedactor()`. */
  readonly redactor?: Redactor;
  /** Events a sink may have waiting while it is busy; older ones are dropped past it. Default 10,000. */
  readonly maxPending?: number;
}

interface SinkSlot {
  readonly sink: EventSink;
  pending: Event[];
  busy: boolean;
  dropped: number;
  written: number;
  /** True between a failure (or a drop) and the next successful write: one warning per episode. */
  troubled: boolean;
}

/** Counters of one sink. */
export interface SinkStats {
  readonly name: string;
  readonly written: number;
  readonly dropped: number;
  readonly pending: number;
}

const schedule: (fn: () => void) => void = (fn) => setImmediate(fn);

/**
 * Fans the engine's events out to sinks without slowing a turn. Attach `listener` to engines
 * or a pool (`listeners: [hub.listener]`). The listener appends the event to a queue; a
 * macrotask later the queue is redacted (once per event) and handed to every sink.
 */
export class SinkHub {
  /** The engine listener: constant time, never throws. */
  readonly listener: EventListener;
  private readonly slots: SinkSlot[];
  private readonly redactor: Redactor;
  private readonly maxPending: number;
  private queue: Event[] = [];
  private ctx: ListenerContext | undefined;
  private scheduled = false;
  private closed = false;
  private idle: (() => void)[] = [];

  constructor(sinks: readonly EventSink[], options: SinkHubOptions = {}) {
    this.slots = sinks.map((sink) => ({
      sink,
      pending: [],
      busy: false,
      dropped: 0,
      written: 0,
      troubled: false,
    }));
    this.redactor = options.redactor ?? defaultRedactor();
    this.maxPending = options.maxPending ?? 10_000;
    this.listener = (event, ctx) => {
      if (this.closed) return;
      this.queue.push(event);
      this.ctx = ctx;
      if (!this.scheduled) {
        this.scheduled = true;
        schedule(this.drain);
      }
    };
  }

  /** Per-sink counters. */
  stats(): SinkStats[] {
    return this.slots.map((s) => ({
      name: s.sink.name,
      written: s.written,
      dropped: s.dropped,
      pending: s.pending.length,
    }));
  }

  /**
   * Resolves when every queued event has been written (or dropped) and each sink flushed, or
   * after `timeoutMs` (default 5 s) when a sink hangs: a hung sink never holds its host.
   */
  async flush(timeoutMs = 5_000): Promise<void> {
    await this.settled(timeoutMs);
    await withTimeout(Promise.all(this.slots.map((s) => this.guard(s, () => s.sink.flush?.()))), timeoutMs);
  }

  /** Stops accepting events, writes what is queued, then closes every sink (each bounded by `timeoutMs`). Idempotent. */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.closed) return;
    await this.settled(timeoutMs);
    this.closed = true;
    await withTimeout(Promise.all(this.slots.map((s) => this.guard(s, () => s.sink.close?.()))), timeoutMs);
  }

  private settled(timeoutMs: number): Promise<void> {
    if (!this.scheduled && this.queue.length === 0 && this.slots.every((s) => !s.busy)) {
      return Promise.resolve();
    }
    return withTimeout(new Promise<void>((resolve) => this.idle.push(resolve)), timeoutMs);
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length > 0) {
      const redacted = batch.map((ev) => this.redactor.redactValue(ev));
      for (const slot of this.slots) this.offer(slot, redacted);
    }
    this.checkIdle();
  };

  private offer(slot: SinkSlot, events: readonly Event[]): void {
    if (slot.busy) {
      slot.pending.push(...events);
      const over = slot.pending.length - this.maxPending;
      if (over > 0) {
        slot.pending.splice(0, over);
        slot.dropped += over;
        this.warn(slot, `sink ${slot.sink.name} is falling behind: ${over} event(s) dropped`);
      }
      return;
    }
    this.write(slot, events);
  }

  private write(slot: SinkSlot, events: readonly Event[]): void {
    let result: void | Promise<void>;
    try {
      result = slot.sink.write(events);
    } catch (err) {
      this.failed(slot, events.length, err);
      return;
    }
    if (!(result instanceof Promise)) {
      this.succeeded(slot, events.length);
      return;
    }
    slot.busy = true;
    result
      .then(
        () => this.succeeded(slot, events.length),
        (err: unknown) => this.failed(slot, events.length, err),
      )
      .finally(() => {
        slot.busy = false;
        const next = slot.pending;
        if (next.length > 0) {
          slot.pending = [];
          this.write(slot, next);
        }
        this.checkIdle();
      });
  }

  private succeeded(slot: SinkSlot, n: number): void {
    slot.written += n;
    slot.troubled = false;
  }

  private failed(slot: SinkSlot, n: number, err: unknown): void {
    slot.dropped += n;
    this.warn(slot, `sink ${slot.sink.name} failed; ${n} event(s) lost: ${describeError(err)}`);
  }

  private warn(slot: SinkSlot, message: string): void {
    if (slot.troubled) return;
    slot.troubled = true;
    try {
      this.ctx?.emit({ type: "warning", code: "sink_failed", message: this.redactor.redact(message) });
    } catch {
      // Reporting is best effort: the engine may be gone.
    }
  }

  private async guard(slot: SinkSlot, fn: () => Promise<void> | undefined): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.warn(slot, `sink ${slot.sink.name} failed to flush or close: ${describeError(err)}`);
    }
  }

  private checkIdle(): void {
    if (this.scheduled || this.queue.length > 0 || this.slots.some((s) => s.busy)) return;
    const waiting = this.idle;
    this.idle = [];
    for (const resolve of waiting) resolve();
  }
}

function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([work.then(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

/** Creates a SinkHub for `sinks`. */
export function createSinks(sinks: readonly EventSink[], options: SinkHubOptions = {}): SinkHub {
  return new SinkHub(sinks, options);
}
