import type { ResponseItem } from "../../protocol/index.ts";
import { textMessage } from "../../protocol/index.ts";
import { cutPoints } from "../units.ts";
import type { CompactionStrategy } from "./types.ts";

/**
 * Drops the oldest items (whole call/output units) until the history fits the target,
 * leaving a note that says how much was dropped. A leading compaction summary is kept.
 * Cheap and lossy: a fallback when no summary can be made.
 */
export function slidingWindow(): CompactionStrategy {
  return {
    name: "sliding_window",
    async compact(ctx) {
      const items = ctx.items;
      const keepHead = items[0]?.type === "compaction" ? 1 : 0;
      const points = cutPoints(items).filter((p) => p >= keepHead);
      let total = ctx.estimator.items(items, keepHead);
      let cut = keepHead;
      for (const p of points) {
        if (total <= ctx.targetTokens) break;
        if (p <= cut) continue;
        total -= ctx.estimator.items(items, cut, p);
        cut = p;
      }
      if (cut === keepHead || cut >= items.length) return undefined;
      const note = textMessage(
        "system",
        `[${cut - keepHead} earlier items were dropped to fit the context window]`,
      );
      const next: ResponseItem[] = [...items.slice(0, keepHead), note, ...items.slice(cut)];
      return { items: next };
    },
  };
}
