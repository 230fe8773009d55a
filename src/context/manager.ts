import type { ThreadLog } from "../conversation/thread-log.ts";
import { describeError } from "../errors.ts";
import type { ModelClient, ToolSpec } from "../llm/types.ts";
import type { TurnHooks } from "../loop/guards.ts";
import type { EventMsg, ResponseItem, Usage } from "../protocol/index.ts";
import { addUsage, emptyUsage, textMessage } from "../protocol/index.ts";
import type { ArtifactStore } from "../tool/artifacts.ts";
import { summarizeWithin } from "./overflow.ts";
import { defaultPinned, PINNED_HEADER, previousSection } from "./pinned.ts";
import { handoffSummary } from "./strategies/handoff.ts";
import { microcompact } from "./strategies/microcompact.ts";
import { slidingWindow } from "./strategies/sliding-window.ts";
import type { CompactionStrategy, CompactionTrigger } from "./strategies/types.ts";
import { heuristicCounter, type TokenCounter, TokenEstimator } from "./tokens.ts";
import { firstDifference } from "./units.ts";

/** State re-added to the history after a compaction removed items (todo list, active skills, notes). */
export interface PinnedSource {
  readonly name: string;
  /** The current text, or undefined when there is nothing to pin. */
  read(threadId: string, items: readonly ResponseItem[]): string | undefined;
}

/** Context budget and compaction settings of an engine. */
export interface ContextOptions {
  /** The model's context window in tokens. Default 128,000. */
  readonly contextWindow?: number;
  /** Tokens kept free for the answer. Default 8,192. */
  readonly reserveOutputTokens?: number;
  /**
   * Run the cheap `trim` strategy when the prompt exceeds this share of the usable window.
   * Default 0.35. Trimming early keeps every later call cheaper (each context token is
   * re-read on every call) and stays cache-friendly: each pass rewrites only the part of the
   * history added since the previous pass.
   */
  readonly trimAt?: number;
  /** The cheap strategy run at `trimAt`. Default: microcompact(). */
  readonly trim?: CompactionStrategy;
  /**
   * A pass at `trimAt` runs only if it saves at least this share of the usable window
   * (default 0.1), so that small gains do not cost a cache rewrite every call.
   */
  readonly trimMinSavings?: number;
  /** Run the full `strategies` pipeline when the prompt exceeds this share. Default 0.8. */
  readonly compactAt?: number;
  /** After compacting, aim for at most this share. Default 0.5. */
  readonly targetAfter?: number;
  /** Run in order until the prompt fits. Default: microcompact, then handoff summary. */
  readonly strategies?: readonly CompactionStrategy[];
  /** Used after a context_overflow error. Default: aggressive microcompact, handoff, sliding window. */
  readonly overflowStrategies?: readonly CompactionStrategy[];
  /** Default: the todo list and the skills the thread used (`defaultPinned()`); `[]` for none. */
  readonly pinned?: readonly PinnedSource[];
  /** Token counter; default: exact for OpenAI models when resolved by the engine, else heuristic. */
  readonly counter?: TokenCounter;
  /** Where trimmed tool outputs are kept (default: the engine's artifact store). */
  readonly artifacts?: ArtifactStore;
}

/** What the context manager needs from the engine for one check. */
export interface ContextEnv {
  readonly threadId: string;
  readonly system: string;
  readonly tools: readonly ToolSpec[];
  readonly log: ThreadLog;
  readonly model: ModelClient;
  readonly signal: AbortSignal;
  /** pre_compact (may block a strategy) and post_compact hooks, when the engine has any. */
  readonly hooks?: Pick<TurnHooks, "run"> | undefined;
  emit(msg: EventMsg): void;
}

/**
 * Keeps a thread's prompt inside its budget. Before every model call it estimates the
 * prompt (calibrated by provider usage) and, over the trigger, runs the strategies in order
 * until the prompt fits. Each strategy that acts emits `compaction_started` /
 * `compaction_completed` with tokens before and after and the cached prefix tokens it
 * invalidated, and is persisted as a `compacted` checkpoint.
 */
export class ContextManager {
  readonly estimator: TokenEstimator;
  private readonly options: ContextOptions;
  // The pipelines are built on first use: most engines never compact.
  private pipeline: readonly CompactionStrategy[] | undefined;
  private overflowPipeline: readonly CompactionStrategy[] | undefined;
  private trimStrategy: CompactionStrategy | undefined;
  /** Calibrated tokens of the prefix the provider is believed to hold in cache. */
  private cachedPrefix = 0;
  /** Set after a pass changed nothing: no new pass before the prompt reaches `until`. */
  private hold: { generation: number; until: number } | undefined;
  /** The real window, when a provider's overflow error showed it to be smaller. */
  private learned: number | undefined;

  constructor(options: ContextOptions = {}) {
    this.options = options;
    this.estimator = new TokenEstimator(options.counter ?? heuristicCounter());
  }

  private get trim(): CompactionStrategy {
    this.trimStrategy ??= this.options.trim ?? microcompact();
    return this.trimStrategy;
  }

  private get strategies(): readonly CompactionStrategy[] {
    this.pipeline ??= this.options.strategies ?? [this.trim, handoffSummary()];
    return this.pipeline;
  }

  private get overflow(): readonly CompactionStrategy[] {
    this.overflowPipeline ??= this.options.overflowStrategies ?? [
      microcompact({ keepRecent: 1, minTokens: 200 }),
      handoffSummary(),
      slidingWindow(),
    ];
    return this.overflowPipeline;
  }

  /** The context window budgets are computed from: the configured one, or a smaller learned one. */
  get contextWindow(): number {
    const configured = this.options.contextWindow ?? 128_000;
    return this.learned !== undefined && this.learned < configured ? this.learned : configured;
  }

  /** Tokens available to the prompt. */
  get usableWindow(): number {
    const window = this.contextWindow;
    const reserve = this.options.reserveOutputTokens ?? 8_192;
    // A learned window can be small: the answer's reserve never takes more than a quarter.
    return window - (this.learned !== undefined ? Math.min(reserve, Math.floor(window / 4)) : reserve);
  }

  /**
   * Lowers the window budgets use to `tokens` (a provider's overflow error showed the real
   * one; `stated`: it said so in numbers, else it is a bound below a rejected prompt).
   * Emits a `context_window_learned` warning when the window shrinks; never grows it.
   */
  learnWindow(env: Pick<ContextEnv, "emit">, tokens: number, stated: boolean): void {
    const before = this.contextWindow;
    if (!(tokens > 0) || tokens >= before) return;
    this.learned = Math.floor(tokens);
    env.emit({
      type: "warning",
      code: "context_window_learned",
      message: stated
        ? `the provider reports a context window of ${this.learned} tokens (budgets assumed ${before}); budgets now use ${this.learned}`
        : `the provider rejected a prompt of about ${Math.round(tokens / 0.9)} tokens as too long without saying its window (budgets assumed ${before}); budgets now use ${this.learned}`,
    });
  }

  /** Calibrated estimate of the prompt the engine would send now. */
  promptTokens(env: Pick<ContextEnv, "system" | "tools" | "log">): number {
    return Math.round(this.rawPromptTokens(env) * this.estimator.calibration);
  }

  /** Uncalibrated estimate of the prompt, kept incrementally as the history grows. */
  rawPromptTokens(env: Pick<ContextEnv, "system" | "tools" | "log">): number {
    const e = this.estimator;
    return e.text(env.system) + e.tools(env.tools) + e.history(env.log.items, env.log.generation);
  }

  /**
   * Before a model call: over `compactAt`, runs the full pipeline; over `trimAt`, only the
   * trim strategy. Returns the usage of summary calls; undefined at once when the prompt is
   * under every threshold (nothing to wait for).
   */
  beforeCall(env: ContextEnv, trigger: CompactionTrigger): Promise<Usage | undefined> | undefined {
    const tokens = this.promptTokens(env);
    // After a pass that could do nothing, wait until the history has grown (or been
    // rewritten) enough for another pass to matter: a scan per call would grow with the thread.
    // A new request (pre-sampling) always gets a fresh attempt: it moves the summary's cut.
    const held =
      trigger !== "pre_sampling" &&
      this.hold !== undefined &&
      this.hold.generation === env.log.generation &&
      tokens < this.hold.until;
    if (held) return undefined;
    this.hold = undefined;
    // Most calls are far below every threshold: answer at once, without a promise.
    if (tokens <= this.usableWindow * (this.options.trimAt ?? 0.35)) return undefined;
    return this.relieve(env, trigger, tokens);
  }

  private async relieve(
    env: ContextEnv,
    trigger: CompactionTrigger,
    tokens: number,
  ): Promise<Usage | undefined> {
    const minSavings = this.usableWindow * (this.options.trimMinSavings ?? 0.1);
    if (tokens > this.usableWindow * (this.options.compactAt ?? 0.8)) {
      const spent = await this.compact(env, trigger, false);
      const now = this.promptTokens(env);
      if (now > this.usableWindow * (this.options.compactAt ?? 0.8)) {
        this.hold = { generation: env.log.generation, until: now + minSavings };
      }
      return spent;
    }
    if (tokens > this.usableWindow * (this.options.trimAt ?? 0.35)) {
      const result = await this.runStrategy(
        env,
        this.trim,
        trigger,
        tokens,
        0,
        minSavings / this.estimator.calibration,
      );
      if (!result.changed) this.hold = { generation: env.log.generation, until: tokens + minSavings };
    }
    return undefined;
  }

  /**
   * Runs the strategies (the overflow set for trigger `overflow`) until the prompt fits the
   * target; with `force`, at least one strategy that changes something runs even under it.
   * Never throws for a failing strategy: it emits a warning and tries the next.
   */
  async compact(env: ContextEnv, trigger: CompactionTrigger, force: boolean): Promise<Usage | undefined> {
    const strategies = trigger === "overflow" ? this.overflow : this.strategies;
    const share =
      trigger === "overflow"
        ? Math.min(0.4, this.options.targetAfter ?? 0.5)
        : (this.options.targetAfter ?? 0.5);
    let spent: Usage | undefined;
    let changedOnce = false;
    for (const strategy of strategies) {
      if (env.signal.aborted) break;
      // Per strategy: a summary call that overflowed may have taught a smaller window.
      const target = this.usableWindow * share;
      const before = this.promptTokens(env);
      if (before <= target && (changedOnce || !force)) break;
      const changed = await this.runStrategy(env, strategy, trigger, before, target);
      if (changed.usage) spent = addUsage(spent ?? emptyUsage(), changed.usage);
      changedOnce ||= changed.changed;
    }
    return spent;
  }

  /** Learns from a finished call: calibration and what the provider now caches. */
  afterCall(rawPromptTokens: number, usage: Usage | undefined): void {
    if (!usage || usage.inputTokens <= 0) return;
    this.estimator.calibrate(rawPromptTokens, usage.inputTokens);
    this.cachedPrefix = usage.cachedInputTokens + usage.cacheWriteTokens > 0 ? usage.inputTokens : 0;
  }

  private async runStrategy(
    env: ContextEnv,
    strategy: CompactionStrategy,
    trigger: CompactionTrigger,
    before: number,
    target: number,
    minSavingsTokens = 0,
  ): Promise<{ changed: boolean; usage: Usage | undefined }> {
    const items = env.log.items;
    const head = this.estimator.text(env.system) + this.estimator.tools(env.tools);
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
        estimator: this.estimator,
        targetTokens: Math.max(0, target / this.estimator.calibration - head),
        trigger,
        minSavingsTokens,
        signal: env.signal,
        artifacts: this.options.artifacts,
        summarize: (toSummarize, instructions) => {
          start();
          return summarizeWithin(this, env, toSummarize, instructions, head);
        },
      });
    } catch (err) {
      if (started) this.completed(env, strategy.name, trigger, before, before, 0, undefined);
      env.emit({
        type: "warning",
        code: "compaction_failed",
        message: `${strategy.name} failed: ${describeError(err)}`,
      });
      return { changed: false, usage: undefined };
    }
    if (!result) {
      if (started) this.completed(env, strategy.name, trigger, before, before, 0, undefined);
      return { changed: false, usage: undefined };
    }
    start();
    const next = this.withPinned(env, items, result.items);
    const afterEstimate = Math.round((head + this.estimator.items(next)) * this.estimator.calibration);
    if (afterEstimate >= before) {
      // A rewrite that does not shrink the prompt only costs cache: keep the history as it is.
      this.completed(env, strategy.name, trigger, before, before, 0, result.usage);
      env.emit({
        type: "warning",
        code: "compaction_ineffective",
        message: `${strategy.name} would not have shrunk the prompt (${before} -> ${afterEstimate} tokens); the history was kept`,
      });
      return { changed: false, usage: result.usage };
    }
    const first = firstDifference(items, next);
    const common = Math.round((head + this.estimator.items(items, 0, first)) * this.estimator.calibration);
    const invalidated = Math.max(0, this.cachedPrefix - common);
    this.cachedPrefix = Math.min(this.cachedPrefix, common);
    env.log.replace(strategy.name, next, result.summary);
    const after = afterEstimate; // the history is now `next`: no second pass over it
    this.completed(env, strategy.name, trigger, before, after, invalidated, result.usage);
    await env.hooks?.run("post_compact", {
      trigger,
      strategy: strategy.name,
      tokensBefore: before,
      tokensAfter: after,
    });
    return { changed: true, usage: result.usage };
  }

  private completed(
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

  /** Re-adds pinned state when a strategy removed items (a summary or dropped history). */
  private withPinned(
    env: ContextEnv,
    before: readonly ResponseItem[],
    after: ResponseItem[],
  ): ResponseItem[] {
    const pinned = this.options.pinned ?? defaultPinned();
    if (pinned.length === 0 || after.length >= before.length) return after;
    const sections: string[] = [];
    for (const source of pinned) {
      // A source whose state was folded into an earlier summary keeps what was pinned then.
      const text = (source.read(env.threadId, before) ?? previousSection(before, source.name))?.trim();
      if (text) sections.push(`## ${source.name}\n${text}`);
    }
    if (sections.length === 0) return after;
    const note = textMessage("system", `${PINNED_HEADER}\n\n${sections.join("\n\n")}`);
    const at = after[0]?.type === "compaction" ? 1 : 0;
    return [...after.slice(0, at), note, ...after.slice(at)];
  }
}
