/** The context manager's options and the environment it is called with. */
import type { ThreadLog } from "../conversation/thread-log.ts";
import type { ModelPrices } from "../llm/catalog.ts";
import type { CacheStyle, ModelClient, ToolSpec } from "../llm/types.ts";
import type { TurnHooks } from "../loop/guards.ts";
import type { EventMsg, ResponseItem } from "../protocol/index.ts";
import type { ArtifactStore } from "../tool/artifacts.ts";
import type { CacheProfile } from "./cache-model.ts";
import type { CompactionStrategy } from "./strategies/types.ts";
import type { TokenCounter } from "./tokens.ts";

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
   * How the provider caches prompts. Default: from the model (its client's `cacheStyle`, else
   * its provider: Anthropic breakpoints, Gemini implicit, OpenAI-style automatic prefix).
   */
  readonly cache?: CacheStyle | CacheProfile;
  /** The model's prices (relative prices drive every decision). Default: the model catalog's entry. */
  readonly prices?: ModelPrices;
  /**
   * The trim the planner schedules (default `microcompact()`): run when the reads paid for
   * the trimmable outputs since they became trimmable reach what the rewrite costs (see
   * docs/guides/context.md). `false`: never trim before a compaction is forced.
   */
  readonly trim?: CompactionStrategy | false;
  /**
   * When a handoff summary runs: `forced` only when trimming cannot keep the next call in the
   * window; `planned` (default) also at the request before a turn that would force one, and
   * earlier when the window will force one before the thread is expected to end and the reads
   * it saves have paid for it; `economic` also when the window would never force one, once
   * the reads saved reach twice its cost (cheaper, and it loses more detail).
   */
  readonly handoff?: "forced" | "planned" | "economic";
  /**
   * Trim at the start of a request and stub the previous turn's outputs too, when the reads
   * until the next request pay for it (ADR 2700): cheaper on most windows (long-session
   * matrix: 25 of 30 cached cells at or under 0.6x naive, against 18 without). Default false:
   * the planner's state is not persisted yet, so with it on a thread resumed by a new process
   * may compact at other requests than one that never stopped (resume byte-identity, P3,
   * holds only with it off; ADR 2702).
   */
  readonly boundaryTrims?: boolean;
  /**
   * Force a compaction when the prompt exceeds this share of the usable window. Default:
   * derived, the usable window less the largest step the thread has taken.
   */
  readonly compactAt?: number;
  /** After a forced compaction, aim for at most this share. Default: derived from the limit. */
  readonly targetAfter?: number;
  /** Clock for the provider cache's lifetime (an expired cache makes a rewrite free). Default `Date.now`. */
  readonly now?: () => number;
  /**
   * The pipeline of a forced or planned handoff (summaries first, then the trim while still
   * over the limit) and of the `compact` op. Default: microcompact, then handoff summary.
   */
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
