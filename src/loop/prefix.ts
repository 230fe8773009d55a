import type { ModelClient } from "../llm/types.ts";
import type { EventMsg } from "../protocol/index.ts";
import type { ToolSet } from "../tool/define.ts";
import type { ToolGate } from "../tool/scheduler.ts";

/**
 * What a turn starts from: the engine's configured prefix and the context a contributor
 * (the skill catalog, later pinned state) may need to build on it.
 */
export interface PrepareTurnContext {
  readonly threadId: string;
  readonly turnId: string;
  /** The engine's configured system instructions. */
  readonly system: string;
  /** The engine's configured tools. */
  readonly tools: ToolSet;
  /** The model this turn samples. */
  readonly model: ModelClient;
  readonly cwd: string;
  /** The engine's permission gate, for contributors that run nested work (child turns). */
  readonly gate: ToolGate | undefined;
  /** The engine's model resolver, for contributors that honour per-task model specs. */
  readonly resolveModel: ((spec: string) => Promise<ModelClient>) | undefined;
  /** The turn's signal: aborted on interrupt or shutdown. */
  readonly signal: AbortSignal;
  /** Emits an event on this turn (same submission and turn id as the turn's own events). */
  emit(msg: EventMsg): void;
}

/** The stable prefix a turn runs with. Fixed for the whole turn. */
export interface TurnPrefix {
  readonly system: string;
  readonly tools: ToolSet;
}

/**
 * Builds a turn's stable prefix. Called exactly once at the start of every turn, before the
 * first model call; whatever it returns is used unchanged by every model call of that turn,
 * so the prompt prefix (and the provider's prompt cache) cannot change mid-turn. Return
 * byte-identical values when nothing changed, or the cache is lost. A throw fails the turn
 * with `turn_failed` (code `prepare_failed`).
 */
export type PrepareTurn = (turn: PrepareTurnContext) => Promise<TurnPrefix> | TurnPrefix;
