/** A turn from `turn_started` to its end event, as the engine's queue runs it. */
import type { ThreadLog } from "../conversation/thread-log.ts";
import { describeError } from "../errors.ts";
import { isPromiseLike } from "../promise-like.ts";
import type { Event } from "../protocol/index.ts";
import { emptyUsage, newId } from "../protocol/index.ts";
import { redactEventMsg } from "../redact/walk.ts";
import { type EngineTurn, newEngineTurn } from "./engine-turn.ts";
import { bindGuards, runEngineHook } from "./guards.ts";
import { resolvePrefix, type TurnPrefix } from "./prefix.ts";
import { type EngineCore, emit } from "./process.ts";
import { closeInterrupted, type ResumePlan } from "./resume.ts";
import { runTurn, type TurnEnd, type TurnStart } from "./turn.ts";

/**
 * Runs a turn from `turn_started` to its end event; `resumed` continues an existing one.
 * Plain promise chaining rather than an async function: while the turn waits on its model,
 * the engine holds the turn's promise and one callback, not a suspended frame. An engine
 * bug fails the turn (`internal`) instead of leaving it open.
 */
export function driveTurn(
  c: EngineCore,
  submissionId: string,
  turnId: string,
  input: TurnStart,
  resumed: ResumePlan | undefined,
): Promise<void> | undefined {
  const turn = startTurn(c, submissionId, turnId, resumed);
  let running: Promise<TurnEnd> | TurnEnd;
  try {
    running = turn.hooks
      ? turn.hooks
          .run("turn_start", { resumed: resumed !== undefined })
          .then(() => runOnPrefix(c, turn, input))
      : runOnPrefix(c, turn, input);
  } catch (err) {
    running = internalFailure(err);
  }
  if (!isPromiseLike(running)) return endTurn(c, turn, running);
  return running.then(
    (end) => endTurn(c, turn, end),
    (err: unknown) => endTurn(c, turn, internalFailure(err)),
  );
}

function startTurn(
  c: EngineCore,
  submissionId: string,
  turnId: string,
  resumed: ResumePlan | undefined,
): EngineTurn {
  const turn = newEngineTurn(c, submissionId, turnId);
  c.current = turn;
  const modelId = turn.model.id;
  const started = emit(c, submissionId, turnId, { type: "turn_started", model: modelId });
  if (resumed) {
    closeInterrupted(c, submissionId, turnId, resumed.interrupted);
  } else {
    const context: Parameters<ThreadLog["beginTurn"]>[0] = {
      turnId,
      submissionId,
      model: modelId,
      cwd: c.settings.cwd,
    };
    if (c.permissionMode !== undefined) context.permissionMode = c.permissionMode;
    c.log.beginTurn(context, started.ts);
  }
  bindGuards(c, turn);
  return turn;
}

/** Resolves the turn's prefix (a PrepareTurn may build it), then runs the turn loop on it. */
function runOnPrefix(c: EngineCore, turn: EngineTurn, input: TurnStart): Promise<TurnEnd> | TurnEnd {
  const prefix = resolvePrefix(c, turn, "text" in input ? input.text : undefined);
  return isPromiseLike(prefix)
    ? prefix.then((resolved) => runOn(c, turn, input, resolved))
    : runOn(c, turn, input, prefix);
}

function runOn(
  c: EngineCore,
  turn: EngineTurn,
  input: TurnStart,
  prefix: TurnPrefix | TurnEnd,
): Promise<TurnEnd> | TurnEnd {
  if ("type" in prefix) return prefix;
  c.lastPrefix = prefix;
  turn.usePrefix(prefix.system, prefix.tools);
  return runTurn(turn, input);
}

function internalFailure(err: unknown): TurnEnd {
  return {
    type: "turn_failed",
    error: { code: "internal", message: `internal error: ${describeError(err)}`, source: "engine" },
    steps: 0,
    usage: emptyUsage(),
    durationMs: 0,
  };
}

/** Records the end, makes it durable, then publishes it and runs the turn_end hooks. */
function endTurn(c: EngineCore, turn: EngineTurn, result: TurnEnd): Promise<void> | undefined {
  c.current = undefined;
  c.guards.notes.clear();
  let end = result;
  if (c.log.isFrozen && end.type === "turn_aborted") {
    end = {
      ...end,
      message: "the engine shut down while the turn waited for a person; reopening the thread resumes it",
    };
  }
  // Steers that arrived too late for this turn are not lost: they start the next one.
  if (c.steers.length > 0 && !c.shutdown) {
    const text = c.steers.join("\n\n");
    c.steers = [];
    const id = newId("sub");
    c.hub.open(id);
    c.queue.unshift({ id, op: { type: "user_input", text } });
  }
  const ev = recordEnd(c, turn.submissionId, turn.turnId, end);
  const flushed = c.log.flush();
  if (!flushed) return publishEnd(c, turn, ev);
  return flushed.then(
    () => publishEnd(c, turn, ev),
    (err: unknown) => {
      storeFailed(ev, end, err);
      return publishEnd(c, turn, ev);
    },
  );
}

/**
 * Records the turn's end. It is published only once the transcript is durable (the caller
 * flushes first), so an observer that saw the end can rely on the transcript holding it.
 */
function recordEnd(c: EngineCore, submissionId: string, turnId: string, end: TurnEnd): Event {
  const ev: Event = {
    submissionId,
    threadId: c.log.threadId,
    turnId,
    seq: c.seq++,
    ts: Date.now(),
    msg: c.redactor ? redactEventMsg(c.redactor, end) : end,
  };
  c.log.record(ev);
  return ev;
}

/** Turns the end event into a `store_error` failure when the transcript could not be written. */
function storeFailed(ev: Event, end: TurnEnd, err: unknown): void {
  ev.msg = {
    type: "turn_failed",
    error: {
      code: "store_error",
      message: `the transcript could not be written: ${describeError(err)}`,
      source: "store",
    },
    steps: end.steps,
    usage: end.usage,
    durationMs: end.durationMs,
  };
}

function publishEnd(c: EngineCore, turn: EngineTurn, ev: Event): Promise<void> | undefined {
  c.hub.publish(ev);
  const ended = ev.msg as TurnEnd;
  if (!c.guards.hooks?.has("turn_end")) return undefined;
  const status =
    ended.type === "turn_completed" ? "completed" : ended.type === "turn_failed" ? "failed" : "aborted";
  return runEngineHook(
    c,
    "turn_end",
    { status, ...(ended.type === "turn_completed" ? { text: ended.text } : {}) },
    { submissionId: turn.submissionId, turnId: turn.turnId },
  ).then(() => undefined);
}
