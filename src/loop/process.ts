import type { ContextManager } from "../context/manager.ts";
import type { ThreadLog } from "../conversation/thread-log.ts";
import { describeError } from "../errors.ts";
import type { ModelClient } from "../llm/types.ts";
import type { Event, EventMsg, Op, Submission } from "../protocol/index.ts";
import { newId } from "../protocol/index.ts";
import type { Redactor } from "../redact/types.ts";
import { redactEventMsg } from "../redact/walk.ts";
import type { ArtifactStore } from "../tool/artifacts.ts";
import type { ToolSet } from "../tool/define.ts";
import type { ToolGate } from "../tool/scheduler.ts";
import type { Stragglers } from "../tool/stragglers.ts";
import type { AdoptCache } from "./adopt.ts";
import { driveTurn } from "./drive-turn.ts";
import type { EventHub } from "./event-hub.ts";
import { type EngineGuards, runEngineHook } from "./guards.ts";
import { compactNow, overrideContext, rewind } from "./ops.ts";
import type { PrepareTurn, TurnPrefix } from "./prefix.ts";
import type { PendingRequests } from "./requests.ts";
import type { ResumedRequest, ResumePlan } from "./resume.ts";
import type { StepCheck } from "./step-check.ts";
import type { TurnSettings } from "./turn.ts";

/** The running turn, as control ops see it. */
export interface CurrentTurn {
  readonly turnId: string;
  readonly submissionId: string;
  /** Made by ownedController: abort it with abortOwned, never with `abort()`. */
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
  /** Tool calls answered while still running; later conflicting calls wait for them. */
  readonly stragglers: Stragglers;
  readonly artifacts: ArtifactStore;
  /** Consulted before every model call (EngineOptions.stepChecks); undefined when none. */
  readonly stepChecks: readonly StepCheck[] | undefined;
  /** Builds each turn's stable prefix from `system` and `tools` (see PrepareTurn). */
  readonly prepareTurn: PrepareTurn | undefined;
  /** Wrapped versions of tools PrepareTurn added (see adoptTools). */
  adopted?: AdoptCache | undefined;
  /** The prefix the last turn ran with (skills may add to it), reused by the compact op. */
  lastPrefix: TurnPrefix | undefined;
  readonly requests: PendingRequests;
  readonly queue: Submission[];
  steers: string[];
  current: CurrentTurn | undefined;
  pumping: boolean;
  status: "idle" | "running" | "closed";
  seq: number;
  /** When the last submission arrived or the last event was emitted (ms since the epoch). */
  lastActivity: number;
  permissionMode: string | undefined;
  /** Permission policy, hooks and approval settings. */
  readonly guards: EngineGuards;
  /** Masks secrets in every event (and, through the log, in every history item); none when off. */
  readonly redactor: Redactor | undefined;
  /** A turn suspended before a restart, to continue before any queued work. */
  resumed: ResumePlan | undefined;
  /** Request ids of resumed calls, reused when they ask again (by call id). */
  resumeRequests: Map<string, ResumedRequest> | undefined;
  shutdown:
    | { readonly submissionId: string; readonly done: Promise<void>; readonly resolve: () => void }
    | undefined;
}

/** Builds, records (per policy) and publishes one event. */
export function emit(
  c: EngineCore,
  submissionId: string | undefined,
  turnId: string | undefined,
  given: EventMsg,
): Event {
  const ev = recordEvent(c, submissionId, turnId, given);
  c.hub.publish(ev);
  return ev;
}

/**
 * Records an event, makes the transcript durable, and only then publishes it: for a question
 * put to a person (an approval request, an ask_user question), which nobody may see before a
 * restart could ask it again. Rejects, without publishing, when the transcript could not be
 * made durable (TaifengError `store_error`); the event's line stays queued for the next flush.
 * `beforePublish` runs right before the event is published (a waiter registers there, so an
 * answer given while the event is delivered is not missed). With a synchronous store (in
 * memory) everything happens at once and the result is undefined.
 */
export function emitDurable(
  c: EngineCore,
  submissionId: string | undefined,
  turnId: string | undefined,
  given: EventMsg,
  beforePublish?: () => void,
): Promise<void> | undefined {
  const ev = recordEvent(c, submissionId, turnId, given);
  const flushed = c.log.flush();
  if (flushed === undefined) {
    beforePublish?.();
    c.hub.publish(ev);
    return undefined;
  }
  return flushed.then(() => {
    beforePublish?.();
    c.hub.publish(ev);
  });
}

function recordEvent(
  c: EngineCore,
  submissionId: string | undefined,
  turnId: string | undefined,
  given: EventMsg,
): Event {
  const ts = Date.now();
  const msg = c.redactor ? redactEventMsg(c.redactor, given) : given;
  const ev: Event = { submissionId, threadId: c.log.threadId, turnId, seq: c.seq++, ts, msg };
  c.lastActivity = ts;
  c.log.record(ev);
  return ev;
}

/**
 * Runs queued submissions one at a time until the queue is empty. Callback-driven rather
 * than an async loop: an engine whose turn waits on its model keeps no suspended frame here.
 */
export function processQueued(c: EngineCore): void {
  if (c.pumping) return;
  c.pumping = true;
  c.status = "running";
  const resumed = c.resumed;
  if (resumed) {
    c.resumed = undefined;
    const id = resumed.submissionId;
    let pending: Promise<void> | undefined;
    try {
      pending = driveTurn(c, id, resumed.turnId, { resume: resumed.rerun }, resumed);
    } catch (err) {
      internalError(c, id, err);
    }
    if (awaitWork(c, id, pending)) return;
  }
  drain(c);
}

/** Works through the queue; after asynchronous work it carries on from that work's callback. */
function drain(c: EngineCore): void {
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
      let pending: Promise<void> | undefined;
      try {
        pending = startWork(c, sub);
      } catch (err) {
        internalError(c, sub.id, err);
      }
      if (awaitWork(c, sub.id, pending)) return;
      if (isClosed(c)) break;
    }
  } catch (err) {
    stopPumping(c, err);
  }
  stopPumping(c);
}

/**
 * Ends a submission whose work finished synchronously (false), or arranges for it to end
 * when its work settles, a rejection becoming an `error` event, and for the queue to carry
 * on from there (true). One callback pair per submission, no promise chain of its own.
 */
function awaitWork(c: EngineCore, submissionId: string, pending: Promise<void> | undefined): boolean {
  if (!pending) {
    done(c, submissionId);
    return false;
  }
  pending.then(
    () => carryOn(c, submissionId),
    (err: unknown) => {
      internalError(c, submissionId, err);
      carryOn(c, submissionId);
    },
  );
  return true;
}

function carryOn(c: EngineCore, submissionId: string): void {
  try {
    done(c, submissionId);
  } catch (err) {
    stopPumping(c, err);
  }
  if (isClosed(c)) stopPumping(c);
  else drain(c);
}

/** The queue is done (or broken by an engine bug, rethrown after the engine is reset). */
function stopPumping(c: EngineCore, err?: unknown): void {
  c.pumping = false;
  if (!isClosed(c)) c.status = "idle";
  if (err !== undefined) throw err;
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

/**
 * Tells a model client the engine is done with its thread (ModelClient.release). A client
 * that throws here costs a warning, never the shutdown or the op in progress.
 */
export function releaseThread(c: EngineCore, model: ModelClient, submissionId: string | undefined): void {
  try {
    model.release?.(c.log.threadId);
  } catch (err) {
    emit(c, submissionId, undefined, {
      type: "warning",
      code: "model_release_failed",
      message: `${model.id} failed to release thread ${c.log.threadId}: ${describeError(err)}`,
    });
  }
}

function internalError(c: EngineCore, submissionId: string, err: unknown): void {
  emit(c, submissionId, undefined, {
    type: "error",
    error: { code: "internal", message: `internal error: ${describeError(err)}`, source: "engine" },
  });
}

// No clock read: every submission's last event has just set lastActivity.
function done(c: EngineCore, submissionId: string): void {
  c.hub.end(submissionId);
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
  releaseThread(c, c.model, submissionId);
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
