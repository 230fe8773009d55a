import { describeError } from "../errors.ts";
import type { ModelClient } from "../llm/types.ts";
import { isPromiseLike } from "../promise-like.ts";
import type { EventMsg, EventMsgOf } from "../protocol/index.ts";
import { emptyUsage } from "../protocol/index.ts";
import type { ToolSet } from "../tool/define.ts";
import type { ToolGate } from "../tool/scheduler.ts";
import { adoptTools } from "./adopt.ts";
import type { TurnHooks } from "./guards.ts";
import type { EngineCore } from "./process.ts";
import type { TurnEnv } from "./turn.ts";

/**
 * What a turn starts from: the engine's configured prefix and the context a contributor
 * (the skill catalog, later pinned state) may need to build on it.
 */
export interface PrepareTurnContext {
  readonly threadId: string;
  readonly turnId: string;
  /** The user's message that starts the turn; undefined for a turn resumed after a restart. */
  readonly input?: string | undefined;
  /** The engine's configured system instructions. */
  readonly system: string;
  /** The engine's configured tools. */
  readonly tools: ToolSet;
  /** The model this turn samples. */
  readonly model: ModelClient;
  readonly cwd: string;
  /** The turn's permission gate (policy, approvals, hooks), for contributors that run nested work. */
  readonly gate: ToolGate | undefined;
  /** The turn's hooks (skill_start / skill_end, ...), when the engine has any. */
  readonly hooks?: TurnHooks | undefined;
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

/**
 * The turn's prefix: the engine's own, or what its PrepareTurn built (a throw fails the turn).
 * Synchronous when there is no PrepareTurn or it answered synchronously.
 */
export function resolvePrefix(
  c: EngineCore,
  turn: TurnEnv,
  input?: string,
): TurnPrefix | EventMsgOf<"turn_failed"> | Promise<TurnPrefix | EventMsgOf<"turn_failed">> {
  if (!c.prepareTurn) {
    const last = c.lastPrefix;
    return last?.system === c.system && last.tools === c.tools ? last : { system: c.system, tools: c.tools };
  }
  const started = performance.now();
  let built: Promise<TurnPrefix> | TurnPrefix;
  try {
    built = c.prepareTurn({
      threadId: c.log.threadId,
      turnId: turn.turnId,
      input,
      system: c.system,
      tools: c.tools,
      model: turn.model,
      cwd: c.settings.cwd,
      gate: turn.gate,
      hooks: turn.hooks,
      resolveModel: c.resolveModel,
      signal: turn.signal,
      emit: turn.emit,
    });
  } catch (err) {
    return prepareFailed(err, started);
  }
  if (!isPromiseLike(built)) return { system: built.system, tools: adoptTools(c, built.tools) };
  return Promise.resolve(built).then(
    (prefix) => ({ system: prefix.system, tools: adoptTools(c, prefix.tools) }),
    (err: unknown) => prepareFailed(err, started),
  );
}

function prepareFailed(err: unknown, started: number): EventMsgOf<"turn_failed"> {
  return {
    type: "turn_failed",
    error: {
      code: "prepare_failed",
      message: `the turn could not be prepared: ${describeError(err)}`,
      source: "engine",
    },
    steps: 0,
    usage: emptyUsage(),
    durationMs: Math.round(performance.now() - started),
  };
}
