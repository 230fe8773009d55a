/** Usage and cost totals per turn, thread, session and pool, from the engine's events. */
import type { EventListener } from "../loop/event-hub.ts";
import type { Event, Usage } from "../protocol/index.ts";
import { addUsage, emptyUsage } from "../protocol/index.ts";

/** What a scope has spent. `costUsd` counts only calls whose price is known. */
export interface SpendTotals {
  readonly usage: Usage;
  readonly costUsd: number;
  readonly modelCalls: number;
}

interface MutableTotals {
  usage: Usage;
  costUsd: number;
  modelCalls: number;
}

/** Options of a SpendTracker. */
export interface SpendTrackerOptions {
  /** The session a thread belongs to (e.g. the pool's session id), for `session()` totals. */
  readonly sessionOf?: (threadId: string) => string | undefined;
  /**
   * What a thread had already spent before this process saw it (e.g. from the thread
   * directory's usage totals), asked once per thread. Default: nothing.
   */
  readonly seedThread?: (threadId: string) => SpendTotals | undefined;
}

const zero = (): MutableTotals => ({ usage: emptyUsage(), costUsd: 0, modelCalls: 0 });

function add(t: MutableTotals, usage: Usage, costUsd: number | undefined, calls: number): void {
  addUsage(t.usage, usage);
  if (costUsd !== undefined) t.costUsd += costUsd;
  t.modelCalls += calls;
}

function copy(t: MutableTotals | undefined): SpendTotals {
  return t ? { usage: { ...t.usage }, costUsd: t.costUsd, modelCalls: t.modelCalls } : zero();
}

/** Tokens a budget counts: every input token (cached ones included) plus every output token. */
export function totalTokens(usage: Usage): number {
  return usage.inputTokens + usage.outputTokens;
}

/**
 * Keeps running totals from `model_call_completed` (and compaction summaries' usage). Attach
 * `listener` to engines or a pool. A turn's totals live until the turn ends; a thread's until
 * its engine shuts down; session and pool totals for the tracker's life.
 */
export class SpendTracker {
  /** Updates the totals; constant time. */
  readonly listener: EventListener;
  private readonly turns = new Map<string, MutableTotals>();
  private readonly threads = new Map<string, MutableTotals>();
  private readonly sessions = new Map<string, MutableTotals>();
  private readonly all = zero();
  private readonly options: SpendTrackerOptions;
  private last: Event | undefined;
  private lastChanged = false;

  constructor(options: SpendTrackerOptions = {}) {
    this.options = options;
    this.listener = (event) => {
      this.record(event);
    };
  }

  /**
   * Applies one event; true when it changed a total. Budgets call this from their own
   * listener so that their checks see the new totals.
   */
  record(event: Event): boolean {
    // The tracker's own listener and a budget sharing it both see each event: count it once.
    if (event === this.last) return this.lastChanged;
    this.last = event;
    this.lastChanged = this.recordOnce(event);
    return this.lastChanged;
  }

  private recordOnce(event: Event): boolean {
    const msg = event.msg;
    switch (msg.type) {
      case "model_call_completed":
        this.apply(event, msg.usage, msg.costUsd, 1);
        return true;
      case "compaction_completed":
        if (!msg.usage) return false;
        this.apply(event, msg.usage, undefined, 1);
        return true;
      case "turn_completed":
      case "turn_failed":
      case "turn_aborted":
        if (event.turnId !== undefined) this.turns.delete(event.turnId);
        return false;
      case "shutdown_complete":
        this.threads.delete(event.threadId);
        return false;
      default:
        return false;
    }
  }

  private apply(event: Event, usage: Usage, costUsd: number | undefined, calls: number): void {
    if (event.turnId !== undefined) {
      let turn = this.turns.get(event.turnId);
      if (!turn) {
        turn = zero();
        this.turns.set(event.turnId, turn);
      }
      add(turn, usage, costUsd, calls);
    }
    add(this.threadTotals(event.threadId), usage, costUsd, calls);
    const session = this.options.sessionOf?.(event.threadId);
    if (session !== undefined) {
      let s = this.sessions.get(session);
      if (!s) {
        s = zero();
        this.sessions.set(session, s);
      }
      add(s, usage, costUsd, calls);
    }
    add(this.all, usage, costUsd, calls);
  }

  private threadTotals(threadId: string): MutableTotals {
    let t = this.threads.get(threadId);
    if (!t) {
      t = zero();
      const seed = this.options.seedThread?.(threadId);
      if (seed) add(t, seed.usage, seed.costUsd, seed.modelCalls);
      this.threads.set(threadId, t);
    }
    return t;
  }

  /** The running turn's totals (zero once it ended). */
  turn(turnId: string): SpendTotals {
    return copy(this.turns.get(turnId));
  }

  /** A live thread's totals, seeded by `seedThread`. */
  thread(threadId: string): SpendTotals {
    return copy(this.threadTotals(threadId));
  }

  /** A session's totals (needs `sessionOf`). */
  session(sessionId: string): SpendTotals {
    return copy(this.sessions.get(sessionId));
  }

  /** Everything this tracker saw: the pool's (or process's) totals. */
  pool(): SpendTotals {
    return copy(this.all);
  }

  /** Live totals without copying, for budgets. */
  peek(scope: "turn" | "thread", id: string): SpendTotals | undefined {
    return scope === "turn" ? this.turns.get(id) : this.threads.get(id);
  }
}
