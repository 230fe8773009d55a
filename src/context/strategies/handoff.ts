import type { ResponseItem } from "../../protocol/index.ts";
import { cutAtOrBefore, cutPoints, lastUserMessage } from "../units.ts";
import type { CompactionStrategy } from "./types.ts";

/** The default instructions for a handoff summary. */
export const HANDOFF_TEMPLATE = `Summarize the conversation so far for a colleague who will continue the work without seeing it.
Keep: the user's goals and constraints, decisions made and why, facts learned (names, paths, numbers, versions), files changed, commands that worked or failed, and what remains to do.
Keep every line marked NOTE: verbatim. Be specific and concise; do not invent anything. Reply with the summary only.`;

/** Options for `handoffSummary`. */
export interface HandoffOptions {
  /** Summary instructions. Default HANDOFF_TEMPLATE. */
  readonly template?: string;
  /** Raw token budget for earlier user messages kept verbatim after the summary (at most a quarter of the target). Default 2,000. */
  readonly keepUserTokens?: number;
}

/**
 * Handoff summary: the model summarizes everything before the current request (with the
 * thread's own prompt prefix, so the call reads from cache); recent earlier user messages
 * are kept verbatim; the current request and its work so far stay as they are.
 */
export function handoffSummary(options: HandoffOptions = {}): CompactionStrategy {
  const template = options.template ?? HANDOFF_TEMPLATE;
  const keepUserTokens = options.keepUserTokens ?? 2000;
  return {
    name: "handoff_summary",
    async compact(ctx) {
      const items = ctx.items;
      const points = cutPoints(items);
      let cut = lastUserMessage(items);
      if (cut < 0) cut = items.length;
      // If the current request's own work is over budget, cut inside it at a unit boundary.
      const tailBudget = Math.floor(ctx.targetTokens / 2);
      while (cut < items.length && ctx.estimator.items(items, cut) > tailBudget) {
        const next = points.find((p) => p > cut);
        if (next === undefined || next >= items.length) break;
        cut = next;
      }
      cut = cutAtOrBefore(points, cut);
      if (cut === 0) return undefined;
      const head = items.slice(0, cut);
      const { text, usage } = await ctx.summarize(head, template);
      const kept: ResponseItem[] = [];
      // Verbatim requests may use at most a quarter of the target, or they defeat the summary.
      let budget = Math.min(keepUserTokens, Math.floor(ctx.targetTokens / 4));
      for (let i = head.length - 1; i >= 0; i--) {
        const item = head[i] as ResponseItem;
        if (item.type !== "message" || item.role !== "user") continue;
        const cost = ctx.estimator.item(item);
        if (cost > budget) break;
        budget -= cost;
        kept.unshift(item);
      }
      const summaryItem: ResponseItem = { type: "compaction", summary: text, replacedItems: head.length };
      const result = { items: [summaryItem, ...kept, ...items.slice(cut)], summary: text };
      return usage ? { ...result, usage } : result;
    },
  };
}
