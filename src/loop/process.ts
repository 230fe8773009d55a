import type { ContextManager } from "../context/manager.ts";
import type { ThreadLog } from "../conversation/thread-log.ts";
import { describeError } from "../errors.ts";
import type { ModelClient } from "../llm/types.ts";
import { isPromiseLike } from "../promise-like.ts";
import type { Event, EventMsg, Op, Submission } from "../protocol/index.ts";
import { emptyUsage, newId } from "../protocol/index.ts";
import type { ArtifactStore } from "../tool/artifacts.ts";
import type { ToolSet } from "../tool/define.ts";
import type { ToolGate } from "../tool/scheduler.ts";
import type { EventHub } from "./event-hub.ts";
import { type EngineGuards, runEngineHook, turnGuards } from "./guards.ts";
import { compactNow, overrideContext, rewind } from "./ops.ts";
import { type PrepareTurn, resolvePrefix, type TurnPrefix } from "./prefix.ts";
import type { PendingRequests } from "./requests.ts";
import { closeInterrupted, type ResumePlan } from "./resume.ts";
import { runTurn, type TurnEnd, type TurnEnv, type TurnSettings, type TurnStart } from "./turn.ts";

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
  /** Permission policy, hooks and approval settings. */
  readonly guards: EngineGuards;
  /** A turn suspended before a restart, to continue before any queued work. */
  resumed: ResumePlan | undefined;
  /** Request ids of resumed calls, reused when they ask again (by call id). */
  resumeRequests: Map<string, string> | undefined;
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
    const resumed = c.resumed;
    if (resumed) {
      c.resumed = undefined;
      await settle(c, resumed.submissionId, () =>
        driveTurn(c, resumed.submissionId, resumed.turnId, { resume: resumed.rerun }, resumed),
      );
    }
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
      const next = sub;
      const pending = settle(c, next.id, () => startWork(c, next));
      if (pending) await pending;
      if (isClosed(c)) return;
    }
  } finally {
    c.pumping = false;
    if (!isClosed(c)) c.status = "idle";
  }
}

/**
 * Runs one submission's work, turning a bug into an `error` event, then ends the submission.
 * Work that finishes synchronously (most control paths) is settled without a promise.
 */
function settle(
  c: EngineCore,
  submissionId: string,
  work: () => Promise<void> | undefined,
): Promise<void> | undefined {
  return thenAlways(
    work,
    (err) => internalError(c, submissionId, err),
    () => done(c, submissionId),
  );
}

/**
 * Runs `work`; a throw or a rejection goes to `failed`; `after` runs either way. Stays
 * synchronous (returns undefined) when the work was.
 */
function thenAlways(
  work: () => Promise<void> | undefined,
  failed: (err: unknown) => void,
  after: () => void,
): Promise<void> | undefined {
  let pending: Promise<void> | undefined;
  try {
    pending = work();
  } catch (err) {
    failed(err);
  }
  if (!pending) {
    after();
    return undefined;
  }
  return pending.then(after, (err: unknown) => {
    failed(err);
    after();
  });
}

function internalError(c: EngineCore, submissionId: string, err: unknown): void {
  emit(c, submissionId, undefined, {
    type: "error",
    error: { code: "internal", message: `internal error: ${describeError(err)}`, source: "engine" },
  });
}

function done(c: EngineCore, submissionId: string): void {
  c.hub.end(submissionId);
  c.lastActivity = Date.now();
}

function isClosed(c: EngineCore): boolean {
  return c.status === "closed";
}

/** Starts the work of one queued submission. */
function startWork(c: EngineCore, sub: Submission): Promise<void> | undefined {
  const op: Op = sub.op;
  switch (op.type) {
    case "user_input":
      return driveTurn(c, sub.id, newId("turn"), op, undefined);
    case "steer":
      return driveTurn(c, sub.id, newId("turn"), { text: op.text }, undefined);
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
      return undefined;
  }
}

/** Runs a turn from `turn_started` to its end event; `resumed` continues an existing one. */
async function driveTurn(
  c: EngineCore,
  submissionId: string,
  turnId: string,
  input: TurnStart,
  resumed: ResumePlan | undefined,
): Promise<void> {
  const controller = new AbortController();
  const current: CurrentTurn = { turnId, submissionId, controller, reason: "interrupt" };
  c.current = current;
  const model = c.model;
  emit(c, submissionId, turnId, { type: "turn_started", model: model.id });
  if (resumed) {
    closeInterrupted(c, submissionId, turnId, resumed.interrupted);
  } else {
    const context: Parameters<ThreadLog["beginTurn"]>[0] = {
      turnId,
      submissionId,
      model: model.id,
      cwd: c.settings.cwd,
    };
    if (c.permissionMode !== undefined) context.permissionMode = c.permissionMode;
    c.log.beginTurn(context);
  }
  const guards = turnGuards(c, submissionId, turnId, controller.signal);
  if (guards.hooks) await guards.hooks.run("turn_start", { resumed: resumed !== undefined });
  const env: TurnEnv = {
    threadId: c.log.threadId,
    turnId,
    model,
    system: c.system,
    tools: c.tools,
    log: c.log,
    settings: c.settings,
    signal: controller.signal,
    gate: guards.gate,
    askUser: guards.askUser,
    hooks: guards.hooks,
    checkpoint: guards.checkpoint,
    suspended: guards.suspended,
    context: c.context,
    artifacts: c.artifacts,
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
    let prefix = resolvePrefix(c, env);
    if (isPromiseLike(prefix)) prefix = await prefix;
    if (!("type" in prefix)) c.lastPrefix = prefix;
    end =
      "type" in prefix
        ? prefix
        : await runTurn(
            prefix.system === env.system && prefix.tools === env.tools
              ? env
              : { ...env, system: prefix.system, tools: prefix.tools },
            input,
          );
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
  c.guards.notes.clear();
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
  const ev = recordEnd(c, submissionId, turnId, end);
  const flushed = c.log.flush();
  if (flushed) await flushed.catch((err: unknown) => storeFailed(ev, end, err));
  c.hub.publish(ev);
  const ended = ev.msg as TurnEnd;
  if (!c.guards.hooks?.has("turn_end")) return;
  const status =
    ended.type === "turn_completed" ? "completed" : ended.type === "turn_failed" ? "failed" : "aborted";
  await runEngineHook(
    c,
    "turn_end",
    { status, ...(ended.type === "turn_completed" ? { text: ended.text } : {}) },
    { submissionId, turnId },
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
    msg: end,
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

function shutdown(c: EngineCore, submissionId: string): Promise<void> | undefined {
  if (c.guards.hooks?.has("session_end")) {
    return runEngineHook(c, "session_end", { reason: "shutdown" }, { submissionId }).then(() =>
      closeLog(c, submissionId),
    );
  }
  return closeLog(c, submissionId);
}

function closeLog(c: EngineCore, submissionId: string): Promise<void> | undefined {
  return thenAlways(
    () => c.log.close(),
    (err) => closeFailed(c, submissionId, err),
    () => closed(c, submissionId),
  );
}

function closeFailed(c: EngineCore, submissionId: string, err: unknown): void {
  emit(c, submissionId, undefined, {
    type: "error",
    error: {
      code: "store_error",
      message: `closing the transcript failed: ${describeError(err)}`,
      source: "store",
    },
  });
}

function closed(c: EngineCore, submissionId: string): void {
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
