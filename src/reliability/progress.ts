/** A progress detector: notices a turn going in circles and warns, nudges or stops it. */
import { createHash } from "node:crypto";
import { TaifengError } from "../errors.ts";
import type { EngineOptions } from "../loop/engine-options.ts";
import type { EventListener, ListenerContext } from "../loop/event-hub.ts";
import type { StepCheck } from "../loop/step-check.ts";
import type { Event } from "../protocol/index.ts";

/** What to do when a turn stops making progress. */
export type ProgressAction = "warn" | "nudge" | "stop";

/** Options of `createProgressDetector`. */
export interface ProgressOptions {
  /** The same tool call (name and input) this many times in a turn is a loop. Default 3. */
  readonly repeatLimit?: number;
  /** This many model steps in a row with nothing new (no new text, no unseen tool output) is a stall. Default 4. */
  readonly stallSteps?: number;
  /** Default `warn`. `nudge` also tells the model; `stop` ends the turn (`turn_failed`, code `no_progress`). */
  readonly action?: ProgressAction;
  /** The message a nudge adds (as a system message before the next model call). */
  readonly nudgeText?: string;
}

const DEFAULT_NUDGE =
  "You are repeating yourself without making progress: the same tool calls return the same results. Change approach, or stop and report what blocks you.";

interface TurnProgress {
  readonly turnId: string;
  readonly calls: Map<string, number>;
  readonly seen: Set<string>;
  /** Anything new since the last check. */
  fresh: boolean;
  stalled: number;
  repeated: string | undefined;
  /** True once this turn was reported; a later finding is reported again only after progress. */
  reported: boolean;
  cause: Event;
  ctx: ListenerContext;
}

const digest = (text: string) => createHash("sha1").update(text).digest("base64");

/**
 * Watches each turn's tool calls and outputs. A loop is the same call made `repeatLimit`
 * times, or `stallSteps` model steps in a row adding nothing new. On a finding it emits one
 * `warning` (code `no_progress`) in the turn and then acts: `warn` only reports, `nudge` adds a
 * system message before the next model call, `stop` ends the turn with `turn_failed`
 * (`no_progress`) at that step boundary.
 */
export class ProgressDetector {
  readonly listener: EventListener;
  readonly check: StepCheck;
  private readonly turns = new Map<string, TurnProgress>();
  private readonly repeatLimit: number;
  private readonly stallSteps: number;
  private readonly action: ProgressAction;
  private readonly nudgeText: string;

  constructor(options: ProgressOptions = {}) {
    this.repeatLimit = options.repeatLimit ?? 3;
    this.stallSteps = options.stallSteps ?? 4;
    if (!(this.repeatLimit >= 2) || !(this.stallSteps >= 1))
      throw new TaifengError("invalid_config", "repeatLimit must be at least 2 and stallSteps at least 1");
    this.action = options.action ?? "warn";
    this.nudgeText = options.nudgeText ?? DEFAULT_NUDGE;
    this.listener = (event, ctx) => this.observe(event, ctx);
    this.check = (ctx) => {
      const turn = this.turns.get(ctx.threadId);
      if (!turn || turn.turnId !== ctx.turnId || ctx.step === 1) return undefined;
      turn.stalled = turn.fresh ? 0 : turn.stalled + 1;
      turn.fresh = false;
      const finding =
        turn.repeated !== undefined
          ? `the model made the same tool call ${this.repeatLimit} times: ${turn.repeated.slice(0, 200)}`
          : turn.stalled >= this.stallSteps
            ? `${turn.stalled} model steps in a row brought nothing new`
            : undefined;
      turn.repeated = undefined;
      if (finding === undefined) {
        if (turn.stalled === 0) turn.reported = false;
        return undefined;
      }
      if (!turn.reported) {
        turn.reported = true;
        turn.ctx.emit(
          { type: "warning", code: "no_progress", message: `no progress: ${finding}` },
          turn.cause,
        );
      }
      if (this.action === "stop")
        return {
          type: "stop",
          error: {
            code: "no_progress",
            message: `the turn stopped making progress: ${finding}`,
            source: "engine",
          },
        };
      if (this.action === "nudge") {
        turn.stalled = 0;
        return { type: "nudge", text: this.nudgeText };
      }
      return undefined;
    };
  }

  private observe(event: Event, ctx: ListenerContext): void {
    const msg = event.msg;
    if (msg.type === "turn_started" && event.turnId !== undefined) {
      this.turns.set(event.threadId, {
        turnId: event.turnId,
        calls: new Map(),
        seen: new Set(),
        fresh: false,
        stalled: 0,
        repeated: undefined,
        reported: false,
        cause: event,
        ctx,
      });
      return;
    }
    const turn = this.turns.get(event.threadId);
    if (!turn || turn.turnId !== event.turnId) return;
    turn.cause = event;
    turn.ctx = ctx;
    switch (msg.type) {
      case "assistant_message":
        if (this.novel(turn, `text\u0000${msg.text}`)) turn.fresh = true;
        return;
      case "tool_call_started": {
        const key = `${msg.name} ${JSON.stringify(msg.input)}`;
        const n = (turn.calls.get(key) ?? 0) + 1;
        turn.calls.set(key, n);
        if (n >= this.repeatLimit && n % this.repeatLimit === 0) turn.repeated = key;
        return;
      }
      case "tool_call_completed":
        if (this.novel(turn, `${msg.name}\u0000${JSON.stringify(msg.output)}`)) turn.fresh = true;
        return;
      case "turn_completed":
      case "turn_failed":
      case "turn_aborted":
        this.turns.delete(event.threadId);
        return;
      default:
        return;
    }
  }

  private novel(turn: TurnProgress, text: string): boolean {
    const key = digest(text);
    if (turn.seen.has(key)) return false;
    turn.seen.add(key);
    return true;
  }

  /**
   * Engine or pool options with the detector attached (listener and step check). The bound
   * names `model` so that options without listeners yet (`{ model, tools }`) are accepted.
   */
  instrument<T extends Pick<EngineOptions, "listeners" | "stepChecks"> & { readonly model?: unknown }>(
    options: T,
  ): T {
    return {
      ...options,
      listeners: [...(options.listeners ?? []), this.listener],
      stepChecks: [...(options.stepChecks ?? []), this.check],
    };
  }
}

/** Creates a ProgressDetector. Throws TaifengError `invalid_config` for limits out of range. */
export function createProgressDetector(options: ProgressOptions = {}): ProgressDetector {
  return new ProgressDetector(options);
}
