/** Token and USD budgets per turn and per thread: warnings at thresholds, a hard stop at the limit. */
import { TaifengError } from "../errors.ts";
import type { EngineOptions } from "../loop/engine-options.ts";
import type { EventListener } from "../loop/event-hub.ts";
import type { StepCheck } from "../loop/step-check.ts";
import type { ErrorInfo, Event } from "../protocol/index.ts";
import { type SpendTotals, SpendTracker, totalTokens } from "./spend.ts";

/** Limits of one scope; either may be omitted. */
export interface BudgetLimits {
  /** Input (cached included) plus output tokens. */
  readonly tokens?: number;
  readonly usd?: number;
}

/** Options of `createBudget`. */
export interface BudgetOptions {
  readonly perTurn?: BudgetLimits;
  readonly perThread?: BudgetLimits;
  /** Fractions of a limit that emit `budget_warning` once each. Default [0.7, 0.9]. */
  readonly warnAt?: readonly number[];
  /**
   * The totals to check (share one across budgets and dashboards; an event is counted once
   * however many of them see it). Default: a private tracker.
   */
  readonly tracker?: SpendTracker;
}

type Scope = "turn" | "thread";
type Unit = "tokens" | "usd";

const used = (t: SpendTotals | undefined, unit: Unit): number =>
  t === undefined ? 0 : unit === "tokens" ? totalTokens(t.usage) : t.costUsd;

/**
 * Spend limits on turns and threads. Attach with `instrument(options)` (or add `listener` to
 * the listeners and `check` to `stepChecks`). After each model call the totals are updated and
 * every newly crossed threshold emits one `budget_warning` in the turn; before each model call
 * a spent budget (used >= limit) ends the turn with `turn_failed` code `budget_exceeded`.
 * The stop happens at a step boundary, so nothing the model or a tool produced is lost, and
 * the call that crossed the limit is allowed to finish: a budget bounds the next call, it
 * cannot un-spend the last one.
 */
export class SpendBudget {
  readonly listener: EventListener;
  readonly check: StepCheck;
  readonly tracker: SpendTracker;
  private readonly limits: { scope: Scope; unit: Unit; limit: number }[] = [];
  private readonly warnAt: readonly number[];
  /** `${scope}:${unit}:${threshold}` already reported, per turn and per thread id. */
  private readonly warned = new Map<string, Set<string>>();

  constructor(options: BudgetOptions) {
    for (const [scope, limits] of [
      ["turn", options.perTurn],
      ["thread", options.perThread],
    ] as const) {
      for (const unit of ["tokens", "usd"] as const) {
        const limit = limits?.[unit];
        if (limit === undefined) continue;
        if (!(limit > 0))
          throw new TaifengError("invalid_config", `budget ${scope} ${unit} must be positive, got ${limit}`);
        this.limits.push({ scope, unit, limit });
      }
    }
    this.warnAt = [...(options.warnAt ?? [0.7, 0.9])].sort((a, b) => a - b);
    for (const w of this.warnAt)
      if (!(w > 0 && w < 1))
        throw new TaifengError("invalid_config", `budget warnAt values must be in (0, 1), got ${w}`);
    this.tracker = options.tracker ?? new SpendTracker();
    this.listener = (event, ctx) => {
      const changed = this.tracker.record(event);
      if (changed) for (const msg of this.crossed(event)) ctx.emit(msg, event);
      else if (event.msg.type === "shutdown_complete") this.warned.delete(event.threadId);
      else if (event.turnId !== undefined && isEnd(event)) this.warned.delete(event.turnId);
    };
    this.check = (ctx) => {
      for (const l of this.limits) {
        const spent = used(
          this.tracker.peek(l.scope, l.scope === "turn" ? ctx.turnId : ctx.threadId),
          l.unit,
        );
        if (spent >= l.limit) return { type: "stop", error: exceeded(l.scope, l.unit, spent, l.limit) };
      }
      return undefined;
    };
  }

  private *crossed(event: Event) {
    for (const l of this.limits) {
      const id = l.scope === "turn" ? event.turnId : event.threadId;
      if (id === undefined) continue;
      const spent = used(this.tracker.peek(l.scope, id), l.unit);
      for (const threshold of this.warnAt) {
        if (spent < threshold * l.limit) break;
        const key = `${l.scope}:${l.unit}:${threshold}`;
        let seen = this.warned.get(id);
        if (!seen) {
          seen = new Set();
          this.warned.set(id, seen);
        }
        if (seen.has(key)) continue;
        seen.add(key);
        yield {
          type: "budget_warning" as const,
          scope: l.scope,
          unit: l.unit,
          threshold,
          used: l.unit === "usd" ? Math.round(spent * 1e6) / 1e6 : spent,
          limit: l.limit,
        };
      }
    }
  }

  /**
   * Engine or pool options with the budget attached (listener and step check). The bound names
   * `model` so that options without listeners yet (`{ model, tools }`) are accepted: a type of
   * only optional properties would reject them (TypeScript's weak-type check).
   */
  instrument<T extends Pick<EngineOptions, "listeners" | "stepChecks"> & { readonly model?: unknown }>(
    options: T,
  ): T {
    return {
      ...options,
      listeners: [...(options.listeners ?? []), this.listener],
      stepChecks: [...(options.stepChecks ?? []), this.check],
    };
  }
}

function isEnd(event: Event): boolean {
  const t = event.msg.type;
  return t === "turn_completed" || t === "turn_failed" || t === "turn_aborted";
}

function exceeded(scope: Scope, unit: Unit, spent: number, limit: number): ErrorInfo {
  const what = unit === "tokens" ? `${spent} tokens` : `$${spent.toFixed(4)}`;
  const of = unit === "tokens" ? `${limit} tokens` : `$${limit}`;
  return {
    code: "budget_exceeded",
    message: `the ${scope}'s budget of ${of} is spent (${what} used); the turn stopped before its next model call`,
    source: "engine",
  };
}

/** Creates a SpendBudget. Throws TaifengError `invalid_config` for a non-positive limit or threshold outside (0, 1). */
export function createBudget(options: BudgetOptions): SpendBudget {
  return new SpendBudget(options);
}
