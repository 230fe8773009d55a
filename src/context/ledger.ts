import type { ResponseItem } from "../protocol/index.ts";
import { STUB_MARK } from "./strategies/microcompact.ts";
import type { TrimShape } from "./strategies/types.ts";
import { itemText, type TokenEstimator } from "./tokens.ts";

interface Queued {
  readonly index: number;
  readonly tokens: number;
}

/**
 * What the planner knows about a thread's history, kept incrementally: each new item is
 * counted once (a rewrite means one rescan). It tracks the running token totals, the large
 * tool outputs a trim would stub (and which of them the working set still protects), the
 * growth since the last call, and the boundaries worth a cache breakpoint. Raw tokens
 * throughout; callers apply the calibration.
 */
export class HistoryLedger {
  private readonly shape: TrimShape | undefined;
  private generation = -1;
  /** Items counted so far. */
  seen = 0;
  /** cum[i]: raw tokens of items [0, i). */
  private cum: number[] = [0];
  /** Every tool output's index, oldest first (the working set is the newest `keepRecent`). */
  private outputs: number[] = [];
  /** Large outputs not yet stubbed, oldest first; the first `trimmableCount` are outside the working set. */
  private queue: Queued[] = [];
  private trimmableRaw = 0;
  private trimmableCount = 0;
  /** Raw tokens appended since the last followed call, and the part a trim could not remove. */
  private appended = 0;
  private appendedBase = 0;
  private following = false;
  /** Item count up to which the next trim keeps the prefix (a breakpoint goes there). */
  private stable = 0;
  /** The stable boundary before the last rewrite: the next request reads through it. */
  private previousStable = 0;
  /** Item count of the last request followed. */
  private requestEnd: number | undefined;

  constructor(shape: TrimShape | undefined) {
    this.shape = shape;
  }

  /** True once the ledger has followed the history. */
  get active(): boolean {
    return this.generation >= 0;
  }

  /** The history generation the ledger last followed. */
  get followedGeneration(): number {
    return this.generation;
  }

  /** Catches up with the history: new items are counted once; a rewrite means one rescan. */
  observe(items: readonly ResponseItem[], generation: number, estimator: TokenEstimator): void {
    const same = generation === this.generation && items.length >= this.seen;
    // A rescan after a rewrite is not growth: only items appended since the last call are.
    const growing = same && this.following;
    if (!same) this.reset(generation);
    const shape = this.shape;
    for (let i = this.seen; i < items.length; i++) {
      const item = items[i] as ResponseItem;
      const tokens = estimator.item(item);
      this.cum.push((this.cum[i] as number) + tokens);
      const large =
        item.type === "function_call_output" &&
        shape !== undefined &&
        tokens > shape.minTokens &&
        !itemText(item).startsWith(STUB_MARK);
      if (growing) {
        this.appended += tokens;
        this.appendedBase += large ? (shape?.stubTokens ?? tokens) : tokens;
      }
      if (item.type !== "function_call_output") continue;
      this.outputs.push(i);
      if (large) this.queue.push({ index: i, tokens });
    }
    this.seen = items.length;
    this.advanceWorkingSet();
  }

  private reset(generation: number): void {
    if (this.generation >= 0) {
      this.previousStable = this.stable;
      this.requestEnd = undefined;
    }
    this.generation = generation;
    this.seen = 0;
    this.cum = [0];
    this.outputs = [];
    this.queue = [];
    this.trimmableRaw = 0;
    this.trimmableCount = 0;
  }

  private advanceWorkingSet(): void {
    const keep = this.shape?.keepRecent ?? 0;
    const boundary =
      keep === 0
        ? Number.POSITIVE_INFINITY
        : this.outputs.length > keep
          ? (this.outputs[this.outputs.length - keep] as number)
          : -1;
    for (let q = this.trimmableCount; q < this.queue.length; q++) {
      const entry = this.queue[q] as Queued;
      if (entry.index >= boundary) break;
      this.trimmableRaw += entry.tokens;
      this.trimmableCount++;
    }
    // The next trim cuts at the oldest large output still whole: cache the prefix before it.
    this.stable = this.queue.length > 0 ? (this.queue[0] as Queued).index : this.seen;
  }

  /** Raw tokens a trim would remove now (each stub keeps a few tokens). */
  trimmable(): number {
    return Math.max(0, this.trimmableRaw - (this.shape?.stubTokens ?? 0) * this.trimmableCount);
  }

  /**
   * Raw tokens of the working set's large outputs: `all` of them, or what a deeper trim would
   * remove on top of `trimmable` (all but the newest output, less the stubs they would leave).
   */
  working(all: boolean): number {
    return all ? this.deeper(0, false) : this.deeper(1, true);
  }

  /**
   * Raw tokens of the working set's large outputs older than the newest `keep` outputs: what
   * a trim keeping only `keep` outputs whole removes on top of `trimmable` (less the stubs it
   * leaves, with `stubs`; only outputs at item index `from` or later).
   */
  deeper(keep: number, stubs = true, from = 0): number {
    const stub = stubs ? (this.shape?.stubTokens ?? 0) : 0;
    const boundary = keep <= 0 ? Number.POSITIVE_INFINITY : (this.outputs[this.outputs.length - keep] ?? -1);
    let raw = 0;
    for (let q = this.trimmableCount; q < this.queue.length; q++) {
      const entry = this.queue[q] as Queued;
      if (entry.index < boundary && entry.index >= from) raw += entry.tokens - stub;
    }
    return Math.max(0, raw);
  }

  /**
   * Of what `deeper(keep)` removes, the raw tokens appended since the last request followed:
   * not cached yet, so removing them resends nothing.
   */
  fresh(keep: number): number {
    return this.deeper(keep, true, this.requestEnd ?? this.seen);
  }

  /** Index of the first item a trim would change (the oldest large output still whole). */
  get cut(): number {
    return this.queue.length > 0 ? (this.queue[0] as Queued).index : this.seen;
  }

  /** Raw tokens of the first `n` items. */
  prefix(n: number): number {
    return this.cum[Math.min(n, this.seen)] as number;
  }

  /** The boundary up to which the next trim keeps the history (where the breakpoint is). */
  get stableBoundary(): number {
    return this.stable;
  }

  /**
   * Where breakpoints pay off most, as item counts: after a rewrite, the boundary the rewrite
   * kept (the next call reads through it); else the boundary the next trim will keep, then
   * the end of the previous request (its lookback may not reach across a large step).
   */
  breakpoints(): number[] {
    const out: number[] = [];
    const add = (n: number | undefined) => {
      if (n !== undefined && n > 0 && n < this.seen && !out.includes(n)) out.push(n);
    };
    add(this.previousStable);
    add(this.stable);
    add(this.requestEnd);
    return out.slice(0, 2);
  }

  /** A followed call: returns the raw growth since the previous one (total, and untrimmable). */
  called(): { appended: number; base: number } {
    const growth = { appended: this.appended, base: this.appendedBase };
    this.appended = 0;
    this.appendedBase = 0;
    this.following = true;
    this.requestEnd = this.seen;
    this.previousStable = 0;
    return growth;
  }

  /** A call that was not followed: the next growth seen spans more than one step. */
  skipped(): void {
    this.following = false;
  }
}
