/** The router's budget input from the observability layer's spend totals. */
import { type SpendTotals, type SpendTracker, totalTokens } from "../reliability/spend.ts";

/** Limits per thread and for everything the tracker saw (e.g. a month's account, when the tracker lives that long). */
export interface BudgetLeftLimits {
  readonly perThread?: { readonly tokens?: number; readonly usd?: number };
  readonly overall?: { readonly tokens?: number; readonly usd?: number };
}

function left(
  t: SpendTotals,
  limits: { readonly tokens?: number; readonly usd?: number } | undefined,
): number {
  let fraction = 1;
  if (limits?.tokens !== undefined) fraction = Math.min(fraction, 1 - totalTokens(t.usage) / limits.tokens);
  if (limits?.usd !== undefined) fraction = Math.min(fraction, 1 - t.costUsd / limits.usd);
  return Math.max(0, fraction);
}

/**
 * A `budgetLeft` for `createRouter`: the smallest fraction left of the thread's and the
 * overall limits, from a SpendTracker attached to the engines (its `listener`). Undefined when
 * no limit is set, so the router does not downgrade.
 */
export function budgetLeftFrom(
  tracker: SpendTracker,
  limits: BudgetLeftLimits,
): (threadId: string | undefined) => number | undefined {
  if (!limits.perThread && !limits.overall) return () => undefined;
  return (threadId) => {
    let fraction = limits.overall ? left(tracker.pool(), limits.overall) : 1;
    if (limits.perThread && threadId !== undefined)
      fraction = Math.min(fraction, left(tracker.thread(threadId), limits.perThread));
    return fraction;
  };
}
