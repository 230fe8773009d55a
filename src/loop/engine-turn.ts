/** One running turn of an engine: the TurnEnv its loop runs on, bound to the turn's ids. */
import type { ContextManager } from "../context/manager.ts";
import type { ThreadLog } from "../conversation/thread-log.ts";
import type { ModelClient } from "../llm/types.ts";
import type { EventMsg } from "../protocol/index.ts";
import type { ArtifactStore } from "../tool/artifacts.ts";
import type { ToolSet } from "../tool/define.ts";
import type { ToolBatchEnv, ToolGate } from "../tool/scheduler.ts";
import type { TurnHooks } from "./guards.ts";
import { type CurrentTurn, type EngineCore, emit } from "./process.ts";
import type { TurnEnv, TurnSettings } from "./turn.ts";

/**
 * A turn as its engine runs it: the TurnEnv of the turn loop and the CurrentTurn that control
 * ops (interrupt, shutdown, steer) act on. A class rather than an object of closures: a turn
 * that waits seconds on its model keeps one small object alive, not a dozen closures.
 * `system` and `tools` are the engine's until the turn's prefix is resolved (usePrefix);
 * `gate`, `askUser` and `hooks` are bound by the engine's guards (see bindGuards).
 */
export class EngineTurn implements TurnEnv, CurrentTurn {
  readonly threadId: string;
  readonly turnId: string;
  readonly submissionId: string;
  readonly model: ModelClient;
  system: string;
  tools: ToolSet;
  readonly log: ThreadLog;
  readonly settings: TurnSettings;
  readonly controller = new AbortController();
  readonly signal: AbortSignal;
  readonly context: ContextManager | undefined;
  readonly artifacts: ArtifactStore;
  gate: ToolGate | undefined;
  askUser: ToolBatchEnv["askUser"];
  hooks: TurnHooks | undefined;
  reason: CurrentTurn["reason"] = "interrupt";
  /** Emits an event on this turn. A bound function: batches and contributors call it detached. */
  readonly emit: (msg: EventMsg) => void;
  private readonly core: EngineCore;

  constructor(c: EngineCore, submissionId: string, turnId: string) {
    this.core = c;
    this.threadId = c.log.threadId;
    this.turnId = turnId;
    this.submissionId = submissionId;
    this.model = c.model;
    this.system = c.system;
    this.tools = c.tools;
    this.log = c.log;
    this.settings = c.settings;
    this.signal = this.controller.signal;
    this.context = c.context;
    this.artifacts = c.artifacts;
    this.gate = c.gate;
    this.emit = (msg) => {
      emit(c, submissionId, turnId, msg);
    };
  }

  /** Runs the turn on the prefix it resolved (fixed from here to the turn's end). */
  usePrefix(system: string, tools: ToolSet): void {
    this.system = system;
    this.tools = tools;
  }

  takeSteers(): string[] {
    const c = this.core;
    const out = c.steers;
    if (out.length > 0) c.steers = [];
    return out;
  }

  hasSteers(): boolean {
    return this.core.steers.length > 0;
  }

  abortReason(): CurrentTurn["reason"] {
    return this.reason;
  }

  /** Makes the transcript durable now; a failure is a warning, the turn goes on. */
  checkpoint(): void {
    const c = this.core;
    c.log.flush()?.catch((err: unknown) => {
      emit(c, undefined, undefined, {
        type: "warning",
        code: "checkpoint_failed",
        message: `the transcript could not be made durable: ${(err as Error).message}`,
      });
    });
  }

  suspended(): boolean {
    return this.core.requests.size > 0;
  }
}
