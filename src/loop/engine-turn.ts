/** One running turn of an engine: the TurnEnv its loop runs on, bound to the turn's ids. */
import { ownedController } from "../abort-watch.ts";
import type { EventMsg } from "../protocol/index.ts";
import type { ToolSet } from "../tool/define.ts";
import type { ToolBatchEnv, ToolGate } from "../tool/scheduler.ts";
import type { TurnHooks } from "./guards.ts";
import { type CurrentTurn, type EngineCore, emit, emitDurable } from "./process.ts";
import type { TurnEnv } from "./turn.ts";

/**
 * A turn as its engine runs it: the TurnEnv of the turn loop and the CurrentTurn that control
 * ops (interrupt, shutdown, steer) act on. `system` and `tools` are the engine's until the
 * turn's prefix is resolved (usePrefix); `gate`, `askUser` and `hooks` are bound by the
 * engine's guards (see bindGuards).
 */
export interface EngineTurn extends TurnEnv, CurrentTurn {
  // Only what differs from TurnEnv and CurrentTurn: the fields set after the turn is built,
  // and the optional TurnEnv hooks every engine turn has.
  system: string;
  tools: ToolSet;
  gate: ToolGate | undefined;
  askUser: ToolBatchEnv["askUser"];
  park: ToolBatchEnv["park"];
  hooks: TurnHooks | undefined;
  /** Runs the turn on the prefix it resolved (fixed from here to the turn's end). */
  usePrefix(system: string, tools: ToolSet): void;
  /** Makes the transcript durable now; a failure is a warning, the turn goes on. */
  checkpoint(): void;
  /**
   * Records an event and publishes it only once the transcript is durable (see emitDurable):
   * for questions put to a person. Undefined when the store is synchronous.
   */
  emitDurable(msg: EventMsg, beforePublish?: () => void): Promise<void> | undefined;
  /** Makes every line recorded so far durable; rejects when that failed. Undefined when synchronous. */
  durable(): Promise<void> | undefined;
  suspended(): boolean;
}

interface TurnState extends EngineTurn {
  readonly core: EngineCore;
}

/**
 * Builds a turn. An object literal whose methods are shared functions, not a class instance
 * and not an object of closures. Measured on Node 24: with a class instance here, each
 * finished run's engine survived minor collections (the kernel-overhead loop promoted 14 KB
 * per run instead of 0.6 KB, and V8 re-tenured ~30 allocation sites), most likely because
 * the instances were pretenured and everything young they pointed at was kept with them.
 * With a literal it does not happen; shared methods keep a waiting turn down to one object.
 */
export function newEngineTurn(c: EngineCore, submissionId: string, turnId: string): EngineTurn {
  // Aborted only by the engine's control ops (abortOwned): see ownedController.
  const controller = ownedController();
  const turn: TurnState = {
    core: c,
    threadId: c.log.threadId,
    turnId,
    submissionId,
    model: c.model,
    system: c.system,
    tools: c.tools,
    log: c.log,
    settings: c.settings,
    controller,
    signal: controller.signal,
    context: c.context,
    artifacts: c.artifacts,
    stragglers: c.stragglers,
    gate: c.gate,
    askUser: undefined,
    park: undefined,
    hooks: undefined,
    stepChecks: c.stepChecks,
    reason: "interrupt",
    // A bound function, not a shared method: batches and contributors call it detached.
    emit: (msg) => {
      emit(c, submissionId, turnId, msg);
    },
    usePrefix,
    takeSteers,
    hasSteers,
    abortReason,
    checkpoint,
    emitDurable: turnEmitDurable,
    durable,
    suspended,
  };
  return turn;
}

function usePrefix(this: TurnState, system: string, tools: ToolSet): void {
  this.system = system;
  this.tools = tools;
}

function takeSteers(this: TurnState): string[] {
  const c = this.core;
  const out = c.steers;
  if (out.length > 0) c.steers = [];
  return out;
}

function hasSteers(this: TurnState): boolean {
  return this.core.steers.length > 0;
}

function abortReason(this: TurnState): CurrentTurn["reason"] {
  return this.reason;
}

function checkpoint(this: TurnState): void {
  const c = this.core;
  c.log.flush()?.catch((err: unknown) => {
    emit(c, undefined, undefined, {
      type: "warning",
      code: "checkpoint_failed",
      message: `the transcript could not be made durable: ${(err as Error).message}`,
    });
  });
}

function turnEmitDurable(this: TurnState, msg: EventMsg, beforePublish?: () => void) {
  return emitDurable(this.core, this.submissionId, this.turnId, msg, beforePublish);
}

function durable(this: TurnState): Promise<void> | undefined {
  return this.core.log.flush();
}

function suspended(this: TurnState): boolean {
  return this.core.requests.size > 0;
}
