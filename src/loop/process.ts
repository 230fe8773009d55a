import type { ContextManager } from "../context/manager.ts";
import type { OpenTurn } from "../conversation/replay.ts";
import type { ThreadLog } from "../conversation/thread-log.ts";
import { describeError } from "../errors.ts";
import type { ModelClient } from "../llm/types.ts";
import type { Event, EventMsg, Op, Submission } from "../protocol/index.ts";
import { emptyUsage, newId } from "../protocol/index.ts";
import type { ArtifactStore } from "../tool/artifacts.ts";
import type { ToolSet } from "../tool/define.ts";
import type { ToolBatchEnv, ToolGate } from "../tool/scheduler.ts";
import type { EventHub } from "./event-hub.ts";
import { type PrepareTurn, resolvePrefix, type TurnPrefix } from "./prefix.ts";
import type { PendingRequests } from "./requests.ts";
import { runTurn, type TurnEnd, type TurnEnv, type TurnInput, type TurnSettings } from "./turn.ts";

/** The running turn, as control ops see it. */
export interface CurrentTurn {
  readonly turnId: string;
  readonly submissionId: string;
  readonly controller: AbortController;
  reason: "interrupt" | "shutdown" | "timeout";
}

/** The state an engine's actor loop works on. Internal: hosts use AgentEngine. */
export interface EngineCore {
  readonly log: ThreadLog;
  readonly hub: EventHub;
  model: ModelClient;
  readonly resolveModel: ((spec: string) => Promise<ModelClient>) | undefined;
  readonly system: string;
  readonly tools: ToolSet;
  settings: TurnSettings;
  readonly gate: ToolGate | undefined;
  readonly context: ContextManager | undefined;
  readonly artifacts: ArtifactStore;
  /** Builds each turn's stable prefix from `system` and `tools` (see PrepareTurn). */
  readonly prepareTurn: PrepareTurn | undefined;
  /** The prefix the last turn ran with (skills may add to it), reused by the compact op. */
  lastPrefix: TurnPrefix | undefined;
  readonly requests: PendingRequests;
  readonly queue: Submission[];
  steers: string[];
  current: CurrentTurn | undefined;
  pumping: boolean;
  status: "idle" | "running" | "closed";
  seq: number;
  lastActivity: number;
  permissionMode: string | undefined;
  shutdown:
    | { readonly submissionId: string; readonly done: Promise<void>; readonly resolve: () => void }
    | undefined;
}

/** Builds, records (per policy) and publishes one event. */
export function emit(
  c: EngineCore,
  submissionId: string | undefined,
  turnId: string | undefined,
  msg: EventMsg,
): Event {
  const ev: Event = { submissionId, threadId: c.log.threadId, turnId, seq: c.seq++, ts: Date.now(), msg };
  c.log.record(ev);
  c.hub.publish(ev);
  return ev;
}

/** Runs queued submissions one at a time until the queue is empty. Never throws. */
export async function processQueued(c: EngineCore): Promise<void> {
  if (c.pumping) return;
  c.pumping = true;
  c.status = "running";
  try {
    for (let sub = c.queue.shift(); sub !== undefined; sub = c.queue.shift()) {
      if (c.shutdown && sub.op.type !== "shutdown") {
        emit(c, sub.id, undefined, {
          type: "op_rejected",
          op: sub.op.type,
          code: "engine_closed",
          message: "the engine is shutting down",
        });
        c.hub.end(sub.id);
        continue;
      }
      try {
        await processOne(c, sub);
      } catch (err) {
        emit(c, sub.id, undefined, {
          type: "error",
          error: { code: "internal", message: `internal error: ${describeError(err)}`, source: "engine" },
        });
      }
      c.hub.end(sub.id);
      c.lastActivity = Date.now();
      if (isClosed(c)) return;
    }
  } finally {
    c.pumping = false;
    if (!isClosed(c)) c.status = "idle";
  }
}

function isClosed(c: EngineCore): boolean {
  return c.status === "closed";
}

async function processOne(c: EngineCore, sub: Submission): Promise<void> {
  const op: Op = sub.op;
  switch (op.type) {
    case "user_input":
      return runUserTurn(c, sub.id, op);
    case "steer":
      return runUserTurn(c, sub.id, { text: op.text });
    case "rewind":
      return rewind(c, sub.id, op.turns);
    case "compact":
      return compactNow(c, sub.id);
    case "override_context":
      return overrideContext(c, sub.id, op);
    case "shutdown":
      return shutdown(c, sub.id);
    case "interrupt":
    case "approval":
    case "user_input_answer":
      // Control ops are applied on submit and never queued.
      return;
  }
}

async function runUserTurn(c: EngineCore, submissionId: string, input: TurnInput): Promise<void> {
  const turnId = newId("turn");
  const controller = new AbortController();
  const current: CurrentTurn = { turnId, submissionId, controller, reason: "interrupt" };
  c.current = current;
  const model = c.model;
  emit(c, submissionId, turnId, { type: "turn_started", model: model.id });
  const context: Parameters<ThreadLog["beginTurn"]>[0] = {
    turnId,
    submissionId,
    model: model.id,
    cwd: c.settings.cwd,
  };
  if (c.permissionMode !== undefined) context.permissionMode = c.permissionMode;
  c.log.beginTurn(context);
  const env: TurnEnv = {
    threadId: c.log.threadId,
    turnId,
    model,
    system: c.system,
    tools: c.tools,
    log: c.log,
    settings: c.settings,
    signal: controller.signal,
    gate: c.gate,
    context: c.context,
    artifacts: c.artifacts,
    askUser: (request) => askUser(c, submissionId, turnId, request),
    emit: (msg) => emit(c, submissionId, turnId, msg),
    takeSteers: () => {
      const out = c.steers;
      c.steers = [];
      return out;
    },
    hasSteers: () => c.steers.length > 0,
    abortReason: () => current.reason,
  };
  let end: TurnEnd;
  try {
    const prefix = await resolvePrefix(c, env);
    if (!("type" in prefix)) c.lastPrefix = prefix;
    end =
      "type" in prefix
        ? prefix
        : await runTurn({ ...env, system: prefix.system, tools: prefix.tools }, input);
  } catch (err) {
    end = {
      type: "turn_failed",
      error: { code: "internal", message: `internal error: ${describeError(err)}`, source: "engine" },
      steps: 0,
      usage: emptyUsage(),
      durationMs: 0,
    };
  }
  c.current = undefined;
  // Steers that arrived too late for this turn are not lost: they start the next one.
  if (c.steers.length > 0 && !c.shutdown) {
    const text = c.steers.join("\n\n");
    c.steers = [];
    const id = newId("sub");
    c.hub.open(id);
    c.queue.unshift({ id, op: { type: "user_input", text } });
  }
  await finishTurn(c, submissionId, turnId, end);
}

/**
 * Emits `user_input_requested` for a tool call and waits for the matching
 * `user_input_answer` op (applied through `PendingRequests`); rejects when the call is
 * cancelled first.
 */
async function askUser(
  c: EngineCore,
  submissionId: string,
  turnId: string,
  request: Parameters<NonNullable<ToolBatchEnv["askUser"]>>[0],
): Promise<string> {
  const requestId = newId("ask");
  const msg: EventMsg = {
    type: "user_input_requested",
    requestId,
    callId: request.callId,
    question: request.question,
  };
  if (request.options && request.options.length > 0) msg.options = [...request.options];
  emit(c, submissionId, turnId, msg);
  const result = await c.requests.wait<{ answer: string }>("user_input", requestId, request.signal);
  if (result.kind === "answered") return result.value.answer;
  throw new Error("the question was cancelled before it was answered");
}

/** Records the turn's end, makes the transcript durable, then publishes the end event. */
async function finishTurn(c: EngineCore, submissionId: string, turnId: string, end: TurnEnd): Promise<void> {
  const ev: Event = {
    submissionId,
    threadId: c.log.threadId,
    turnId,
    seq: c.seq++,
    ts: Date.now(),
    msg: end,
  };
  c.log.record(ev);
  try {
    await c.log.flush();
  } catch (err) {
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
  c.hub.publish(ev);
}

async function compactNow(c: EngineCore, submissionId: string): Promise<void> {
  if (!c.context) {
    emit(c, submissionId, undefined, {
      type: "op_rejected",
      op: "compact",
      code: "compaction_unavailable",
      message: "context management is off for this engine",
    });
    return;
  }
  await c.context.compact(
    {
      threadId: c.log.threadId,
      system: c.lastPrefix?.system ?? c.system,
      tools: (c.lastPrefix?.tools ?? c.tools).specs,
      log: c.log,
      model: c.model,
      signal: new AbortController().signal,
      emit: (msg) => emit(c, submissionId, undefined, msg),
    },
    "manual",
    true,
  );
  await c.log.flush();
}

async function rewind(c: EngineCore, submissionId: string, turns: number): Promise<void> {
  const available = c.log.rewindableTurns;
  if (turns > available) {
    emit(c, submissionId, undefined, {
      type: "op_rejected",
      op: "rewind",
      code: "rewind_too_far",
      message: `cannot rewind ${turns} turn(s): ${available} can be rewound`,
    });
    return;
  }
  c.log.rollback(turns);
  try {
    await c.log.flush();
  } catch (err) {
    // The rollback line stays queued and is retried at the next flush; until then a crash
    // would bring the rewound turns back.
    emit(c, submissionId, undefined, {
      type: "error",
      error: {
        code: "store_error",
        message: `the rewind could not be saved yet: ${describeError(err)}`,
        source: "store",
      },
    });
  }
  emit(c, submissionId, undefined, { type: "thread_rewound", turns, remainingTurns: c.log.turnCount });
}

async function overrideContext(
  c: EngineCore,
  submissionId: string,
  op: Extract<Op, { type: "override_context" }>,
) {
  if (op.model !== undefined && op.model !== c.model.id) {
    if (!c.resolveModel) {
      emit(c, submissionId, undefined, {
        type: "op_rejected",
        op: op.type,
        code: "unknown_model",
        message: `cannot switch to ${op.model}: this engine has no model resolver`,
      });
      return;
    }
    try {
      c.model = await c.resolveModel(op.model);
    } catch (err) {
      emit(c, submissionId, undefined, {
        type: "op_rejected",
        op: op.type,
        code: "unknown_model",
        message: describeError(err),
      });
      return;
    }
  }
  if (op.cwd !== undefined) c.settings = { ...c.settings, cwd: op.cwd };
  if (op.permissionMode !== undefined) c.permissionMode = op.permissionMode;
  const msg: EventMsg = { type: "context_overridden" };
  if (op.model !== undefined) msg.model = c.model.id;
  if (op.cwd !== undefined) msg.cwd = op.cwd;
  if (op.permissionMode !== undefined) msg.permissionMode = op.permissionMode;
  emit(c, submissionId, undefined, msg);
}

async function shutdown(c: EngineCore, submissionId: string): Promise<void> {
  try {
    await c.log.close();
  } catch (err) {
    emit(c, submissionId, undefined, {
      type: "error",
      error: {
        code: "store_error",
        message: `closing the transcript failed: ${describeError(err)}`,
        source: "store",
      },
    });
  }
  c.status = "closed";
  const ev: Event = {
    submissionId,
    threadId: c.log.threadId,
    turnId: undefined,
    seq: c.seq++,
    ts: Date.now(),
    msg: { type: "shutdown_complete" },
  };
  c.hub.publish(ev);
  c.hub.end(submissionId);
  c.hub.close();
  c.shutdown?.resolve();
}

/**
 * Closes a turn a crash left open: every call without an output gets a synthetic one,
 * then `turn_aborted` (reason `crash`) is recorded, so the history is well-formed again.
 * `open.events` holds the turn's persisted events (e.g. a pending permission request): the
 * place to decide, once turns can suspend, to resume such a turn instead of closing it.
 */
export async function closeCrashedTurn(c: EngineCore, open: OpenTurn): Promise<void> {
  const sub = open.submissionId;
  for (const call of open.danglingCalls) {
    const output = "Tool call not completed: the process stopped during the turn.";
    c.log.append({ type: "function_call_output", callId: call.callId, output, isError: true });
    emit(c, sub, open.turnId, {
      type: "tool_call_completed",
      callId: call.callId,
      name: call.name,
      output,
      isError: true,
      status: "aborted",
      durationMs: 0,
    });
  }
  emit(c, sub, open.turnId, {
    type: "turn_aborted",
    reason: "crash",
    message: "the process stopped during the turn",
    steps: 0,
    usage: emptyUsage(),
    durationMs: 0,
  });
  try {
    await c.log.flush();
  } catch (err) {
    // The closing lines stay queued for the next flush; the engine is usable meanwhile.
    emit(c, sub, open.turnId, {
      type: "error",
      error: { code: "store_error", message: describeError(err), source: "store" },
    });
  }
}
