import type { ThreadLog } from "../conversation/thread-log.ts";
import type { ModelClient } from "../llm/types.ts";
import type { Usage } from "../protocol/index.ts";
import { addUsage, emptyUsage } from "../protocol/index.ts";
import { type CacheCosts, cacheCosts, cacheProfile, cacheProfileFor } from "./cache-model.ts";
import type { ContextEnv, ContextOptions } from "./context-options.ts";
import { summarizeWithin } from "./overflow.ts";
import { defaultPinned } from "./pinned.ts";
import { CompactionPlanner, type PlanDecision, plannedEvent, priorHeadroom, quietTokens } from "./planner.ts";
import { runStrategy, type StrategyHost } from "./run-strategy.ts";
import { handoffSummary } from "./strategies/handoff.ts";
import { DEFAULT_TRIM_SHAPE, microcompact } from "./strategies/microcompact.ts";
import { slidingWindow } from "./strategies/sliding-window.ts";
import type { CompactionStrategy, CompactionTrigger } from "./strategies/types.ts";
import { heuristicCounter, TokenEstimator } from "./tokens.ts";

export type { ContextEnv, ContextOptions, PinnedSource } from "./context-options.ts";

/**
 * Keeps a thread's prompt inside its budget at the lowest cost the provider's cache allows.
 * Before every model call it estimates the prompt (calibrated by provider usage) and asks its
 * planner whether to trim, summarize or wait, pricing each rewrite by the cache reads it
 * loses against what it saves over the calls to come (see CompactionPlanner). Each decision
 * is a `compaction_planned` event; each strategy that acts emits `compaction_started` /
 * `compaction_completed` with tokens before and after and the cached prefix tokens it
 * invalidated, and is persisted as a `compacted` checkpoint.
 */
export class ContextManager {
  readonly estimator: TokenEstimator;
  private readonly options: ContextOptions;
  // The pipelines and the planner are built on first use: most engines never compact.
  private pipeline: readonly CompactionStrategy[] | undefined;
  private overflowPipeline: readonly CompactionStrategy[] | undefined;
  private trimStrategy: CompactionStrategy | undefined;
  private planner: CompactionPlanner | undefined;
  private quietBelow: number | undefined;
  private costs: CacheCosts | undefined;
  /** Calibrated tokens of the prefix the provider is believed to hold in cache. */
  private cachedPrefix = 0;
  /** When the last call ended; read only once the planner exists (no clock reads before). */
  private lastCallAt: number | undefined;
  /** Set by a call the planner followed: afterCall feeds it (head tokens, request boundary). */
  private followed: { head: number; pre: boolean; log: ThreadLog } | undefined;
  /** Set after a pass changed nothing: no new pass before the prompt reaches `until`. */
  private hold: { generation: number; until: number } | undefined;
  /** The real window, when a provider's overflow error showed it to be smaller. */
  private learned: number | undefined;
  private strategyHost: StrategyHost | undefined;

  constructor(options: ContextOptions = {}) {
    this.options = options;
    this.estimator = new TokenEstimator(options.counter ?? heuristicCounter());
  }

  /** What runStrategy needs: the rewrite bookkeeping stays here (cached prefix, planner). */
  private get host(): StrategyHost {
    this.strategyHost ??= {
      estimator: this.estimator,
      artifacts: this.options.artifacts,
      pinned: this.options.pinned ?? defaultPinned(),
      summarize: (env, items, instructions, head) => summarizeWithin(this, env, items, instructions, head),
      rewritten: (common) => {
        const invalidated = Math.max(0, this.cachedNow() - common);
        this.cachedPrefix = Math.min(this.cachedPrefix, common);
        return invalidated;
      },
      replaced: (strategy, summaryTokens) =>
        this.planner?.rewritten(strategy === this.trim ? "trim" : "handoff", summaryTokens),
    };
    return this.strategyHost;
  }

  private get trim(): CompactionStrategy | undefined {
    if (this.options.trim === false) return undefined;
    this.trimStrategy ??= this.options.trim ?? microcompact();
    return this.trimStrategy;
  }

  private get strategies(): readonly CompactionStrategy[] {
    this.pipeline ??= this.options.strategies ?? [this.trim ?? microcompact(), handoffSummary()];
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

  /** The planner's quiet threshold before it exists (see CompactionPlanner.quiet). */
  private firstQuiet(): number {
    this.quietBelow ??= quietTokens(
      this.usableWindow,
      this.options.trim === false ? undefined : (this.options.trim?.shape ?? DEFAULT_TRIM_SHAPE),
      this.options.compactAt,
    );
    return this.quietBelow;
  }

  private plannerFor(model: Pick<ModelClient, "id" | "cacheStyle">): CompactionPlanner {
    if (this.planner) return this.planner;
    const given = this.options.cache;
    const profile =
      given === undefined
        ? cacheProfileFor(model.id, model.cacheStyle)
        : typeof given === "string"
          ? cacheProfile(given)
          : given;
    this.costs = cacheCosts(profile, this.options.prices);
    this.planner = new CompactionPlanner({
      costs: this.costs,
      trim: this.trim ? (this.trim.shape ?? microcompact().shape) : undefined,
      headroom: priorHeadroom(this.usableWindow),
      compactAt: this.options.compactAt,
      handoff: this.options.handoff ?? "planned",
      summaryTokens: 1_500,
      boundaryTrims: this.options.boundaryTrims === true,
    });
    return this.planner;
  }

  /**
   * Before a model call: asks the planner and carries out its decision. Returns the usage of
   * summary calls; undefined at once when there is nothing to do (nothing to wait for).
   */
  beforeCall(env: ContextEnv, trigger: CompactionTrigger): Promise<Usage | undefined> | undefined {
    this.followed = undefined;
    const tokens = this.promptTokens(env);
    // After a pass that could do nothing, wait until the history has grown (or been
    // rewritten) enough for another pass to matter: a scan per call would grow with the thread.
    // A new request (pre-sampling) always gets a fresh attempt: it moves the summary's cut.
    const held =
      trigger !== "pre_sampling" &&
      this.hold !== undefined &&
      this.hold.generation === env.log.generation &&
      tokens < this.hold.until;
    if (held) {
      this.planner?.skipped();
      return undefined;
    }
    this.hold = undefined;
    // Most calls are far from anything the planner could do: answer at once, without a
    // promise (and, until a prompt first gets there, without building the planner).
    const quiet = this.planner?.quiet(this.usableWindow) ?? this.firstQuiet();
    if (tokens <= quiet) {
      this.planner?.skipped();
      return undefined;
    }
    const planner = this.plannerFor(env.model);
    const calibration = this.estimator.calibration;
    const head = Math.round(
      (this.estimator.text(env.system) + this.estimator.tools(env.tools)) * calibration,
    );
    planner.observe(env.log.items, env.log.generation, this.estimator);
    this.followed = { head, pre: trigger === "pre_sampling", log: env.log };
    const decision = planner.decide({
      tokens,
      head,
      cached: this.cachedNow(),
      calibration,
      usable: this.usableWindow,
      trigger,
    });
    if (!decision) return undefined;
    env.emit(plannedEvent(decision, trigger, this.costs as CacheCosts));
    if (decision.action === "defer") return undefined;
    return this.carryOut(env, trigger, decision);
  }

  /** The cached prefix, or 0 once the provider's entry has outlived its lifetime. */
  private cachedNow(): number {
    const ttl = this.costs?.profile.ttlMs ?? 0;
    const now = (this.options.now ?? Date.now)();
    return this.lastCallAt !== undefined && now - this.lastCallAt > ttl ? 0 : this.cachedPrefix;
  }

  private async carryOut(
    env: ContextEnv,
    trigger: CompactionTrigger,
    decision: PlanDecision,
  ): Promise<Usage | undefined> {
    const planner = this.planner as CompactionPlanner;
    const limit = planner.limit(this.usableWindow);
    const trim = this.trim;
    if (decision.action === "trim" && trim) {
      const result = await runStrategy(
        this.host,
        env,
        trim,
        trigger,
        decision.tokens,
        0,
        decision.keepRecent,
      );
      if (!result.changed)
        this.hold = {
          generation: env.log.generation,
          until: decision.tokens + planner.headroom(this.usableWindow),
        };
      return undefined;
    }
    // A handoff: the summary reads the untouched history from cache, so it runs before any
    // trim; a trim follows only if the prompt is still over the limit.
    const target =
      this.options.targetAfter !== undefined ? this.usableWindow * this.options.targetAfter : limit / 2;
    const order = [
      ...this.strategies.filter((s) => s !== trim),
      ...this.strategies.filter((s) => s === trim),
    ];
    let spent: Usage | undefined;
    let changed = false;
    for (const strategy of order) {
      if (env.signal.aborted) break;
      const before = this.promptTokens(env);
      // The planner chose to hand off: the first strategy that changes something runs
      // whatever the size; the rest only while the prompt is still over the limit.
      if (changed && before <= limit) break;
      const result = await runStrategy(this.host, env, strategy, trigger, before, target);
      if (result.usage) spent = addUsage(spent ?? emptyUsage(), result.usage);
      changed ||= result.changed;
    }
    const now = this.promptTokens(env);
    if (now > limit)
      this.hold = { generation: env.log.generation, until: now + planner.headroom(this.usableWindow) };
    return spent;
  }

  /**
   * Where the next request should carry cache breakpoints (item counts, most valuable
   * first), for providers with explicit breakpoints; undefined to leave the provider's own
   * placement (automatic caches, or before the planner has anything to place).
   */
  cacheBreakpoints(log: ThreadLog): readonly number[] | undefined {
    const planner = this.planner;
    if (!planner || this.costs?.profile.style !== "anthropic" || !planner.active) return undefined;
    planner.observe(log.items, log.generation, this.estimator);
    return planner.breakpoints();
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
      const changed = await runStrategy(this.host, env, strategy, trigger, before, target);
      if (changed.usage) spent = addUsage(spent ?? emptyUsage(), changed.usage);
      changedOnce ||= changed.changed;
    }
    return spent;
  }

  /** Learns from a finished call: calibration, what the provider now caches, and the planner's rent. */
  afterCall(rawPromptTokens: number, usage: Usage | undefined): void {
    const followed = this.followed;
    this.followed = undefined;
    if (!usage || usage.inputTokens <= 0) return;
    this.estimator.calibrate(rawPromptTokens, usage.inputTokens);
    if (this.costs) this.lastCallAt = (this.options.now ?? Date.now)();
    const profile = this.costs?.profile;
    const reported = usage.cachedInputTokens + usage.cacheWriteTokens > 0;
    // Automatic caches store a long enough prompt without reporting a write.
    const cached =
      profile === undefined || profile.style === "anthropic"
        ? reported
        : profile.style !== "none" && (reported || usage.inputTokens >= profile.minTokens);
    this.cachedPrefix = cached ? usage.inputTokens : 0;
    const planner = this.planner;
    if (followed && planner) {
      // The request's history (nothing is appended before afterCall): after a rewrite, rescanned.
      planner.observe(followed.log.items, followed.log.generation, this.estimator);
      planner.called(usage.inputTokens, followed.head, this.estimator.calibration, followed.pre);
    }
  }
}
