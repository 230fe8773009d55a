import type { EventMsgOf, ResponseItem } from "../protocol/index.ts";
import {
  batchTokens,
  type CacheCosts,
  rewriteCost,
  rewriteSaving,
  servedPrefix,
  usdOf,
} from "./cache-model.ts";
import { HistoryLedger } from "./ledger.ts";
import type { CompactionTrigger, TrimShape } from "./strategies/types.ts";
import type { TokenEstimator } from "./tokens.ts";

/** Why the planner acts. */
export type PlanReason =
  /** The reads paid for trimmable tokens since they became trimmable reached the rewrite's cost. */
  | "break_even"
  /** The next call would not fit: acting is not optional. */
  | "forced"
  /** The provider's cache has expired: a rewrite costs nothing extra now. */
  | "cold_cache"
  /** At a request boundary, the reads until the next one pay for the trim (the cheapest moment to cut). */
  | "boundary"
  /** A handoff would be forced during the coming turn: do it now, at the request boundary. */
  | "early"
  /** Carrying the untrimmable history has cost more than a handoff. */
  | "economic";

/** One decision, with the estimates behind it (tokens are calibrated; costs in input-token equivalents). */
export interface PlanDecision {
  readonly action: "trim" | "handoff" | "defer";
  readonly reason: PlanReason;
  /** Prompt tokens now. */
  readonly tokens: number;
  /** Tokens the action is expected to remove. */
  readonly tokensRemoved: number;
  /** Prompt tokens expected to stay cached across the rewrite. */
  readonly cachedTokensKept: number;
  /** What acting costs now: cache reads lost, writes of the rewritten tail, a summary call. */
  readonly cost: number;
  /** What it saves over `horizonCalls` later calls. */
  readonly saving: number;
  readonly horizonCalls: number;
  /** A deeper trim: keep only this many of the newest outputs whole. */
  readonly keepRecent?: number;
}

/** Settings of a planner (see ContextOptions for the user-facing ones). */
export interface PlannerSettings {
  readonly costs: CacheCosts;
  /** What the trim strategy removes; undefined when planned trimming is off. */
  readonly trim: TrimShape | undefined;
  /** Prior allowance for one step's growth, before any step was seen. */
  readonly headroom: number;
  /** Fixed forced-compaction share of the usable window (overrides the derived limit). */
  readonly compactAt: number | undefined;
  /**
   * Handoffs besides forced ones: `planned` also at the request before a turn that would
   * force one, and earlier when the window will force one before the thread is expected to
   * end and the reads it saves have paid for it; `economic` also when the window would never
   * force one, once the reads saved reach twice its cost.
   */
  readonly handoff: "forced" | "planned" | "economic";
  /** Summary tokens assumed before the thread made one. */
  readonly summaryTokens: number;
  /**
   * Trims at request boundaries that also stub the last turn's outputs (ADR 2700). Off by
   * default: the planner's state lives in memory, so a thread resumed by a new process would
   * trim at other requests than one that never stopped (ADR 2702).
   */
  readonly boundaryTrims?: boolean | undefined;
}

const EMA = 0.2;

/** Growth allowed for one step before any was seen: an eighth of the window, at most 4,096 tokens. */
export function priorHeadroom(usable: number): number {
  return Math.min(4_096, usable / 8);
}

/**
 * Prompt tokens below which the planner has nothing to do: fewer than the working set plus
 * one output a trim could stub, and under half the limit (so that handoffs are planned in time).
 */
export function quietTokens(
  usable: number,
  trim: TrimShape | undefined,
  compactAt: number | undefined,
  limit = compactAt !== undefined ? usable * compactAt : usable - priorHeadroom(usable),
): number {
  const trimFloor = trim ? (trim.keepRecent + 1) * trim.minTokens : Number.POSITIVE_INFINITY;
  return Math.min(trimFloor, limit * 0.5);
}

/**
 * Plans compaction for one thread from the price of a cache miss. It follows the history
 * through a HistoryLedger and keeps the running "rent" (what reading the trimmable outputs
 * has cost since they became trimmable, and what carrying the untrimmable history has cost
 * since the last summary), the growth per step, and the number of calls and turns. Its rule
 * for trims is rent-or-buy: trim when the rent reaches the one-time cost of the rewrite (the
 * square-root batch size in steady state, never worse than twice the best schedule
 * otherwise); at a request boundary, a trim that also stubs the last turn's outputs is due
 * when the next turn's reads pay for it (ADR 2700). Handoffs come when trimming cannot keep the next call in the window, at the
 * request boundary before a turn that would force one, and (see PlannerSettings.handoff)
 * when the reads a summary saves have paid for it. Decisions are values (PlanDecision);
 * the context manager carries them out.
 */
export class CompactionPlanner {
  private readonly settings: PlannerSettings;
  private readonly ledger: HistoryLedger;
  private rent = 0;
  private baseRent = 0;
  private calls = 0;
  private turns = 0;
  private growth = 0;
  private baseGrowth = 0;
  private maxGrowth = 0;
  private lastSummary: number | undefined;
  private deferredAt = -1;

  constructor(settings: PlannerSettings) {
    this.settings = settings;
    this.ledger = new HistoryLedger(settings.trim);
  }

  /** True once the planner has followed the history (a prompt left the quiet zone). */
  get active(): boolean {
    return this.ledger.active;
  }

  /** Catches up with the history: new items are counted once; a rewrite means one rescan. */
  observe(items: readonly ResponseItem[], generation: number, estimator: TokenEstimator): void {
    this.ledger.observe(items, generation, estimator);
  }

  /** Calibrated tokens a trim would remove now. */
  trimmable(calibration: number): number {
    return this.ledger.trimmable() * calibration;
  }

  /** Where the next request should carry cache breakpoints (see HistoryLedger.breakpoints). */
  breakpoints(): number[] {
    return this.ledger.breakpoints();
  }

  /**
   * Learns from a call the model answered (`tokens`: its calibrated prompt; `head`: system
   * and tools): growth per step, and the rent of what a trim or a handoff would remove.
   */
  called(tokens: number, head: number, calibration: number, pre: boolean): void {
    const costs = this.settings.costs;
    const removable = this.trimmable(calibration);
    // What a handoff would remove for good: not the working set, which the next turn rebuilds.
    const lasting = tokens - removable - this.ledger.working(true) * calibration;
    const grown = this.ledger.called();
    if (this.calls > 0) {
      const step = grown.appended * calibration;
      this.growth = this.calls === 1 ? step : this.growth + EMA * (step - this.growth);
      this.baseGrowth += EMA * (grown.base * calibration - this.baseGrowth);
      this.maxGrowth = Math.max(step, this.maxGrowth * 0.98);
    }
    this.calls++;
    if (pre) this.turns++;
    this.rent += removable * costs.read;
    this.baseRent += Math.max(0, lasting - this.afterHandoff(head)) * costs.read;
  }

  /** Forgets the rent after a rewrite: the tokens it carried are gone. */
  rewritten(kind: "trim" | "handoff", summaryTokens?: number): void {
    this.rent = 0;
    if (kind === "handoff") this.baseRent = 0;
    if (summaryTokens !== undefined) this.lastSummary = summaryTokens;
  }

  /** A call the planner did not follow (the prompt was quiet): the next growth it sees is not one step's. */
  skipped(): void {
    this.ledger.skipped();
  }

  /** Prompt tokens over which the next call is not allowed to start. */
  limit(usable: number): number {
    if (this.settings.compactAt !== undefined) return usable * this.settings.compactAt;
    return usable - this.headroom(usable);
  }

  /** Growth allowed for one step: the largest step seen (decaying), at least the prior. */
  headroom(usable: number): number {
    return Math.min(usable / 2, Math.max(this.settings.headroom, this.maxGrowth));
  }

  /** Tokens below which nothing can be due: no trimmable output and far from the limit. */
  quiet(usable: number): number {
    return quietTokens(usable, this.settings.trim, this.settings.compactAt, this.limit(usable));
  }

  /** Expected calls the thread has left: as many as it has made (at least a turn's worth). */
  private horizon(): number {
    return Math.max(this.calls, this.perTurn());
  }

  /** Calls per turn so far; before a request boundary was followed, the one turn seen lasted all of them. */
  private perTurn(): number {
    return Math.max(1, this.turns > 0 ? this.calls / this.turns : this.calls);
  }

  private afterHandoff(head: number): number {
    return head + (this.lastSummary ?? this.settings.summaryTokens);
  }

  /**
   * The decision before a call, or undefined to do nothing. `cached` is the prefix the
   * provider holds (0 when it expired), `head` the system prompt and tools, `tokens` the
   * calibrated prompt.
   */
  decide(input: {
    readonly tokens: number;
    readonly head: number;
    readonly cached: number;
    readonly calibration: number;
    readonly usable: number;
    readonly trigger: CompactionTrigger;
  }): PlanDecision | undefined {
    const { tokens, head, cached, calibration, usable, trigger } = input;
    const costs = this.settings.costs;
    const limit = this.limit(usable);
    const removable = this.trimmable(calibration);
    const room = this.headroom(usable);
    // At a request boundary the previous turn has ended with its answer: its outputs are no
    // longer a working set, and a trim that stubs them too resends only what follows the cut.
    // Mid-turn, when a trim would leave less room than the best batch, stub the working set
    // too (all but the newest output): the window, not the price, then sets the schedule.
    // (Not before the planner has seen a call: a thread reopened by a new engine may be asked
    // about its last outputs, and nothing yet says what the coming turn will read.)
    const boundary = this.settings.boundaryTrims === true && trigger === "pre_sampling" && this.calls > 0;
    const kept = this.keptPrefix(head, calibration);
    const horizon = this.horizon();
    // `fresh`: removed tokens the provider has not cached yet (outputs of the current step).
    const priced = (removed: number, fresh = 0) =>
      removed > 0
        ? rewriteCost(costs, { kept, cached, after: tokens - removed, removed: removed - fresh })
        : 0;
    const normalCost = priced(removable);
    const batch = batchTokens(costs, normalCost, this.growth);
    const keep = boundary
      ? 0
      : this.ledger.deeper(1) > 0 && limit - (tokens - removable) < Math.max(batch, 2 * room)
        ? 1
        : undefined;
    const removed = keep === undefined ? removable : removable + this.ledger.deeper(keep) * calibration;
    const trimCost = keep === undefined ? normalCost : priced(removed, this.ledger.fresh(keep) * calibration);
    const trim = (reason: PlanReason, calls: number): PlanDecision => ({
      action: "trim",
      reason,
      tokens,
      tokensRemoved: Math.round(removed),
      cachedTokensKept: Math.round(Math.min(servedPrefix(costs.profile, kept), cached)),
      cost: Math.round(trimCost),
      saving: Math.round(rewriteSaving(costs, removed, calls)),
      horizonCalls: calls,
      ...(keep !== undefined && removed > removable ? { keepRecent: keep } : {}),
    });
    if (tokens > limit) {
      if (removed > 0 && tokens - removed <= limit - room) return trim("forced", horizon);
      return this.handoff("forced", input, horizon);
    }
    const handoff = trigger === "pre_sampling" ? this.plannedHandoff(input, limit, room, horizon) : undefined;
    if (handoff) return handoff;
    if (removed > 0) {
      if (cached === 0 && costs.profile.style !== "none") return trim("cold_cache", horizon);
      // At a request boundary, a trim the reads until the next boundary would pay for is due
      // now: mid-turn it would cost more (the working set is resent) or wait a turn.
      const perTurn = this.perTurn();
      if (boundary && rewriteSaving(costs, removed, perTurn) >= trimCost) return trim("boundary", perTurn);
      if (this.rent >= trimCost) {
        // Savings stop when a forced handoff would remove the tokens anyway.
        const untilForced =
          this.baseGrowth > 0 ? Math.max(1, (limit - tokens + removed) / this.baseGrowth) : horizon;
        const calls = Math.min(horizon, untilForced);
        if (rewriteSaving(costs, removed, calls) >= trimCost) return trim("break_even", calls);
        if (this.deferredAt !== this.ledger.followedGeneration) {
          this.deferredAt = this.ledger.followedGeneration;
          return { ...trim("break_even", calls), action: "defer" };
        }
      }
    }
    return undefined;
  }

  /**
   * At a request boundary: a handoff the coming turn would force (cheaper now, with nothing
   * of the turn in flight), or one brought forward because the reads it saves paid for it.
   */
  private plannedHandoff(
    input: {
      readonly tokens: number;
      readonly head: number;
      readonly cached: number;
      readonly calibration: number;
    },
    limit: number,
    room: number,
    horizon: number,
  ): PlanDecision | undefined {
    if (this.calls === 0 || this.settings.handoff === "forced") return undefined;
    // What a trim at this boundary could not remove (it stubs the last turn's outputs too).
    const base = input.tokens - this.trimmable(input.calibration) - this.ledger.deeper(0) * input.calibration;
    const after = this.afterHandoff(input.head);
    if (base <= 2 * after) return undefined;
    // A handoff the coming turn would force is cheaper now: nothing of the turn is in flight.
    const perTurn = this.perTurn();
    if (base + this.baseGrowth * perTurn > limit - room) return this.handoff("early", input, horizon);
    // A summary loses detail: only bring forward one the window will force before the thread
    // is expected to end (the loss happens anyway), unless the host asked for economic ones
    // (then also earlier, once the reads saved reach twice its cost). (Tried and measured:
    // summaries only as the window forces them cost up to 0.87x naive without a cache and
    // 0.63-0.87x with bimodal outputs on 32k-64k windows; see ADR 2700.)
    const untilForced =
      this.baseGrowth > 0 ? (limit - room - base) / this.baseGrowth : Number.POSITIVE_INFINITY;
    const premium = untilForced <= horizon ? 1 : this.settings.handoff === "economic" ? 2 : 0;
    if (premium > 0 && this.baseRent >= premium * this.handoffCost(input, after))
      return this.handoff("economic", input, horizon);
    return undefined;
  }

  private handoff(
    reason: PlanReason,
    input: { readonly tokens: number; readonly head: number; readonly cached: number },
    horizon: number,
  ): PlanDecision {
    const after = this.afterHandoff(input.head);
    const removed = Math.max(0, input.tokens - after);
    return {
      action: "handoff",
      reason,
      tokens: input.tokens,
      tokensRemoved: Math.round(removed),
      cachedTokensKept: Math.round(
        Math.min(servedPrefix(this.settings.costs.profile, input.head), input.cached),
      ),
      cost: Math.round(this.handoffCost(input, after)),
      saving: Math.round(rewriteSaving(this.settings.costs, removed, horizon)),
      horizonCalls: horizon,
    };
  }

  /** A summary call (the prompt read from cache, the summary written as output) plus the rewrite. */
  private handoffCost(
    input: { readonly tokens: number; readonly head: number; readonly cached: number },
    after: number,
  ): number {
    const costs = this.settings.costs;
    const summary = after - input.head;
    const call = input.tokens * costs.read + summary * costs.output;
    const removed = Math.max(0, input.tokens - after);
    return (
      call +
      summary * costs.write +
      rewriteCost(costs, { kept: input.head, cached: input.cached, after, removed })
    );
  }

  /** Calibrated prompt tokens a trim keeps cached. */
  private keptPrefix(head: number, calibration: number): number {
    const ledger = this.ledger;
    const cut = ledger.cut;
    // Anthropic reads only at breakpoints: the prefix is kept up to the boundary placed for it.
    const through =
      this.settings.costs.profile.style === "anthropic"
        ? ledger.stableBoundary <= cut
          ? ledger.stableBoundary
          : 0
        : cut;
    return head + ledger.prefix(through) * calibration;
  }
}

/** The `compaction_planned` event of a decision (USD figures when the model's prices are known). */
export function plannedEvent(
  d: PlanDecision,
  trigger: CompactionTrigger,
  costs: CacheCosts,
): EventMsgOf<"compaction_planned"> {
  const msg: EventMsgOf<"compaction_planned"> = {
    type: "compaction_planned",
    action: d.action,
    reason: d.reason,
    trigger,
    cacheStyle: costs.profile.style,
    tokens: d.tokens,
    tokensRemoved: d.tokensRemoved,
    cachedTokensKept: d.cachedTokensKept,
    cost: d.cost,
    saving: d.saving,
    horizonCalls: Math.round(d.horizonCalls),
  };
  const costUsd = usdOf(costs, d.cost);
  const savingUsd = usdOf(costs, d.saving);
  if (costUsd !== undefined) msg.costUsd = costUsd;
  if (savingUsd !== undefined) msg.savingUsd = savingUsd;
  return msg;
}
