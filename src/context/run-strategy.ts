import { describeError } from "../errors.ts";
import type { EventMsg, ResponseItem, Usage } from "../protocol/index.ts";
import type { ArtifactStore } from "../tool/artifacts.ts";
import type { ContextEnv, PinnedSource } from "./context-options.ts";
import { withPinned } from "./pinned.ts";
import type { CompactionStrategy, CompactionTrigger } from "./strategies/types.ts";
import type { TokenEstimator } from "./tokens.ts";
import { firstDifference } from "./units.ts";

/** What running one strategy needs from the context manager that owns the thread's budget. */
export interface StrategyHost {
  readonly estimator: TokenEstimator;
  readonly artifacts: ArtifactStore | undefined;
  readonly pinned: readonly PinnedSource[];
  /** A summary call within the window (see summarizeWithin). */
  summarize(
    env: ContextEnv,
    items: readonly ResponseItem[],
    instructions: string,
    head: number,
  ): Promise<{ text: string; usage: Usage | undefined }>;
  /**
   * The history is about to be rewritten keeping its first `common` calibrated tokens: returns
   * the cached tokens the rewrite invalidates (the provider's cached prefix past `common`).
   */
  rewritten(common: number): number;
  /** The history was rewritten by `strategy` (`summaryTokens` when it wrote a summary). */
  replaced(strategy: CompactionStrategy, summaryTokens: number | undefined): void;
}

/**
 * Runs one strategy on the thread: `pre_compact` hook (a deny is a `compaction_blocked`
 * warning), `compaction_started` / `compaction_completed` with tokens before and after and
 * the cached tokens invalidated, pinned state re-added, `post_compact` hook. A strategy that
 * throws is a `compaction_failed` warning; a rewrite that would not shrink the prompt is
 * dropped with a `compaction_ineffective` warning (it would only cost cache).
 */
export async function runStrategy(
  host: StrategyHost,
  env: ContextEnv,
  strategy: CompactionStrategy,
  trigger: CompactionTrigger,
  before: number,
  target: number,
  keepRecent?: number,
): Promise<{ changed: boolean; usage: Usage | undefined }> {
  const items = env.log.items;
  const head = host.estimator.text(env.system) + host.estimator.tools(env.tools);
  if (env.hooks) {
    const pre = await env.hooks.run("pre_compact", {
      trigger,
      strategy: strategy.name,
      tokensBefore: before,
    });
    if (pre.decision === "deny") {
      env.emit({
        type: "warning",
        code: "compaction_blocked",
        message: `${strategy.name} was blocked by a pre_compact hook${pre.reason ? `: ${pre.reason}` : ""}`,
      });
      return { changed: false, usage: undefined };
    }
  }
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    env.emit({ type: "compaction_started", strategy: strategy.name, trigger, tokensBefore: before });
  };
  let result: Awaited<ReturnType<CompactionStrategy["compact"]>>;
  try {
    result = await strategy.compact({
      threadId: env.threadId,
      items,
      estimator: host.estimator,
      targetTokens: Math.max(0, target / host.estimator.calibration - head),
      trigger,
      minSavingsTokens: 0,
      ...(keepRecent !== undefined ? { keepRecent } : {}),
      signal: env.signal,
      artifacts: host.artifacts,
      summarize: (toSummarize, instructions) => {
        start();
        return host.summarize(env, toSummarize, instructions, head);
      },
    });
  } catch (err) {
    if (started) completed(env, strategy.name, trigger, before, before, 0, undefined);
    env.emit({
      type: "warning",
      code: "compaction_failed",
      message: `${strategy.name} failed: ${describeError(err)}`,
    });
    return { changed: false, usage: undefined };
  }
  if (!result) {
    if (started) completed(env, strategy.name, trigger, before, before, 0, undefined);
    return { changed: false, usage: undefined };
  }
  start();
  const next = withPinned(env.threadId, host.pinned, items, result.items);
  const afterEstimate = Math.round((head + host.estimator.items(next)) * host.estimator.calibration);
  if (afterEstimate >= before) {
    // A rewrite that does not shrink the prompt only costs cache: keep the history as it is.
    completed(env, strategy.name, trigger, before, before, 0, result.usage);
    env.emit({
      type: "warning",
      code: "compaction_ineffective",
      message: `${strategy.name} would not have shrunk the prompt (${before} -> ${afterEstimate} tokens); the history was kept`,
    });
    return { changed: false, usage: result.usage };
  }
  const first = firstDifference(items, next);
  const common = Math.round((head + host.estimator.items(items, 0, first)) * host.estimator.calibration);
  const invalidated = host.rewritten(common);
  env.log.replace(strategy.name, next, result.summary);
  host.replaced(
    strategy,
    result.summary === undefined
      ? undefined
      : host.estimator.counter.count(result.summary) * host.estimator.calibration,
  );
  const after = afterEstimate; // the history is now `next`: no second pass over it
  completed(env, strategy.name, trigger, before, after, invalidated, result.usage);
  await env.hooks?.run("post_compact", {
    trigger,
    strategy: strategy.name,
    tokensBefore: before,
    tokensAfter: after,
  });
  return { changed: true, usage: result.usage };
}

function completed(
  env: ContextEnv,
  strategy: string,
  trigger: CompactionTrigger,
  before: number,
  after: number,
  invalidated: number,
  usage: Usage | undefined,
): void {
  const msg: EventMsg = {
    type: "compaction_completed",
    strategy,
    trigger,
    tokensBefore: before,
    tokensAfter: after,
    cachedTokensInvalidated: invalidated,
  };
  if (usage) msg.usage = usage;
  env.emit(msg);
}
