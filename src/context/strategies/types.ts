import type { EventMsgOf, ResponseItem, Usage } from "../../protocol/index.ts";
import type { ArtifactStore } from "../../tool/artifacts.ts";
import type { TokenEstimator } from "../tokens.ts";

/** What triggered a compaction. */
export type CompactionTrigger = EventMsgOf<"compaction_started">["trigger"];

/** Everything a strategy may use. Strategies never mutate `items`. */
export interface CompactionContext {
  readonly threadId: string;
  readonly items: readonly ResponseItem[];
  readonly estimator: TokenEstimator;
  /** Raw token budget for the history after compaction. */
  readonly targetTokens: number;
  readonly trigger: CompactionTrigger;
  /**
   * Do nothing unless the change saves at least this many raw tokens. Early, cheap passes
   * set it so that a trim that would save little does not cost a cache rewrite.
   */
  readonly minSavingsTokens: number;
  /**
   * Set by the planner for a deeper trim than the strategy's own setting: keep only this
   * many of the newest tool outputs whole (1 when the window leaves no room for more; 0 at
   * a request boundary, where the last turn's outputs are no longer a working set).
   */
  readonly keepRecent?: number;
  readonly signal: AbortSignal;
  readonly artifacts: ArtifactStore | undefined;
  /**
   * Asks the thread's model to summarize `items` following `instructions`. The request
   * reuses the thread's prompt prefix, so it reads from the provider cache.
   */
  summarize(
    items: readonly ResponseItem[],
    instructions: string,
  ): Promise<{ text: string; usage: Usage | undefined }>;
}

/** A strategy's replacement history. */
export interface CompactionResult {
  readonly items: ResponseItem[];
  readonly summary?: string;
  readonly usage?: Usage;
}

/**
 * What a trim strategy removes, so the planner can price a trim before running it: tool
 * outputs larger than `minTokens` raw tokens, except the newest `keepRecent` outputs, each
 * replaced by a stub of about `stubTokens`.
 */
export interface TrimShape {
  readonly keepRecent: number;
  readonly minTokens: number;
  readonly stubTokens: number;
}

/**
 * One way to shrink a history. Returns undefined when it has nothing to do. Strategies are
 * composable: the context manager runs them in order until the history fits its target.
 */
export interface CompactionStrategy {
  readonly name: string;
  /** Set by trim strategies whose effect the planner can predict (microcompact). */
  readonly shape?: TrimShape;
  compact(ctx: CompactionContext): Promise<CompactionResult | undefined>;
}
