import type { FunctionCallOutputItem, ResponseItem } from "../../protocol/index.ts";
import { itemText } from "../tokens.ts";
import type { CompactionStrategy, TrimShape } from "./types.ts";

/** Options for `microcompact`. */
export interface MicrocompactOptions {
  /** The newest tool outputs kept whole. Default 3. */
  readonly keepRecent?: number;
  /** Only outputs larger than this (raw tokens) are trimmed. Default 500. */
  readonly minTokens?: number;
  /** Characters of the output's head kept in the stub. Default 240. */
  readonly headChars?: number;
}

/** What `microcompact()` with default options removes (see TrimShape). */
export const DEFAULT_TRIM_SHAPE: TrimShape = { keepRecent: 3, minTokens: 500, stubTokens: 240 / 4 + 30 };

/** How every stub begins: an output that starts with it is not trimmed again. */
export const STUB_MARK = "[output trimmed";

/**
 * Surgical trim: replaces old, large tool outputs with a short stub (the head of the
 * output and, when an artifact store is configured, a reference to the full text). The
 * newest `keepRecent` outputs stay whole; calls keep their outputs (same callId); nothing
 * else moves, so everything before the first trimmed output stays cached.
 */
export function microcompact(options: MicrocompactOptions = {}): CompactionStrategy {
  const keepRecent = options.keepRecent ?? 3;
  const minTokens = options.minTokens ?? 500;
  const headChars = options.headChars ?? 240;
  return {
    name: "microcompact",
    // Each stub keeps about headChars / 4 tokens plus its note.
    shape: { keepRecent, minTokens, stubTokens: headChars / 4 + 30 },
    async compact(ctx) {
      const names = new Map<string, string>();
      const outputs: number[] = [];
      ctx.items.forEach((item, i) => {
        if (item.type === "function_call") names.set(item.callId, item.name);
        if (item.type === "function_call_output") outputs.push(i);
      });
      const keep = Math.min(keepRecent, ctx.keepRecent ?? keepRecent);
      const candidates = outputs.slice(0, Math.max(0, outputs.length - keep)).filter((i) => {
        const item = ctx.items[i] as FunctionCallOutputItem;
        return !itemText(item).startsWith(STUB_MARK) && ctx.estimator.item(item) > minTokens;
      });
      // Each stub keeps about headChars / 4 tokens plus its note.
      const savings = candidates.reduce(
        (n, i) => n + ctx.estimator.item(ctx.items[i] as ResponseItem) - headChars / 4 - 30,
        0,
      );
      if (candidates.length === 0 || savings < ctx.minSavingsTokens) return undefined;
      const items: ResponseItem[] = ctx.items.slice();
      let changed = false;
      for (const i of candidates) {
        const item = items[i] as FunctionCallOutputItem;
        const text = itemText(item);
        const tokens = ctx.estimator.item(item);
        const name = names.get(item.callId) ?? "tool";
        const saved = ctx.artifacts
          ? await ctx.artifacts
              .save(ctx.threadId, text, { tool: name, callId: item.callId })
              .catch(() => undefined)
          : undefined;
        const where = saved ? `; the full output is artifact ${saved.id} (read it with read_artifact)` : "";
        const head = text.slice(0, headChars).trimEnd();
        const stub: FunctionCallOutputItem = {
          type: "function_call_output",
          callId: item.callId,
          output: `${STUB_MARK}: ${name} returned ${tokens} tokens${where}]\n${head}${text.length > headChars ? "\n..." : ""}`,
        };
        if (item.isError) stub.isError = true;
        items[i] = stub;
        changed = true;
      }
      return changed ? { items } : undefined;
    },
  };
}
