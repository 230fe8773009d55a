import type { OpenTurn } from "../conversation/replay.ts";
import { describeError } from "../errors.ts";
import type { FunctionCallItem } from "../protocol/index.ts";
import { emptyUsage } from "../protocol/index.ts";
import type { ToolSet } from "../tool/define.ts";
import { ToolBatch } from "../tool/scheduler.ts";
import { TASK_FINISH } from "./completion.ts";
import { type EngineCore, emit } from "./process.ts";
import { batchEnv, parseFinish } from "./step.ts";
import type { TurnEnv } from "./turn.ts";

/**
 * Resuming a turn that waited on a person when the process stopped.
 *
 * The transcript of such a turn ends with its tool calls and the `permission_requested` (or
 * `user_input_requested`) of one of them, unanswered. Outputs are appended in call order as
 * soon as a call and all earlier ones finish, so every call before the waiting one that has
 * no output was still running at the crash: it gets a synthetic "process stopped" output
 * (it may have had effects; it is never run twice). The waiting call and every later one
 * never ran, so they go through the gate again — the waiting call re-emits its request
 * under the same id — and the turn then continues with the next model call.
 */
export interface ResumePlan {
  readonly turnId: string;
  readonly submissionId: string;
  /** Calls cut off while running: closed with a synthetic output. */
  readonly interrupted: FunctionCallItem[];
  /** The waiting call and the calls after it, run again in order. */
  readonly rerun: FunctionCallItem[];
  /** Requests to ask again under their ids, by call id (an approval's id is never reused for a question). */
  readonly requests: ReadonlyMap<string, ResumedRequest>;
}

/** A request a resumed call asks again, under the id it had before the restart. */
export interface ResumedRequest {
  readonly kind: "approval" | "user_input";
  readonly requestId: string;
}

/** The start of a resumed turn: calls to run before the next model call. */
export interface PendingCalls {
  readonly resume: readonly FunctionCallItem[];
}

/**
 * Decides whether an open turn can resume: it must have an unanswered request whose call
 * has no output and whose tool still exists (or may: an engine with a PrepareTurn learns some
 * tools only when the turn starts, e.g. a lazily started MCP server's; a call whose tool is
 * still missing then gets the unknown-tool output), and — for approvals — the engine must
 * have a permission policy (so nothing runs unapproved). Otherwise undefined: the turn is
 * closed as crashed.
 */
export function planResume(
  open: OpenTurn,
  engine: {
    readonly tools: ToolSet;
    readonly hasPolicy: boolean;
    readonly newSubmissionId: () => string;
    /** True when a PrepareTurn may add tools at the start of the resumed turn. */
    readonly mayAddTools?: boolean;
    readonly continueCrashed?: boolean;
  },
): ResumePlan | undefined {
  const requested = new Map<string, ResumedRequest>();
  const resolved = new Set<string>();
  for (const msg of open.events) {
    if (msg.type === "permission_requested")
      requested.set(msg.callId, { kind: "approval", requestId: msg.requestId });
    else if (msg.type === "user_input_requested" && msg.callId !== undefined)
      requested.set(msg.callId, { kind: "user_input", requestId: msg.requestId });
    else if (msg.type === "permission_resolved") resolved.add(msg.requestId);
  }
  const dangling = open.danglingCalls;
  const waiting = dangling.findIndex((call) => {
    const req = requested.get(call.callId);
    if (!req || resolved.has(req.requestId)) return false;
    if (!engine.tools.get(call.name) && engine.mayAddTools !== true) return false;
    return req.kind === "user_input" || engine.hasPolicy;
  });
  if (waiting < 0) return engine.continueCrashed ? planContinue(open, engine) : undefined;
  const requests = new Map<string, ResumedRequest>();
  const rerun = dangling.slice(waiting);
  for (const call of rerun) {
    const req = requested.get(call.callId);
    if (req && !resolved.has(req.requestId)) requests.set(call.callId, req);
  }
  return {
    turnId: open.turnId,
    submissionId: open.submissionId ?? engine.newSubmissionId(),
    interrupted: dangling.slice(0, waiting),
    rerun,
    requests,
  };
}

/**
 * A crashed turn that continues: outputs are appended in call order, so the dangling calls
 * are the tail of the last step's calls. The longest trailing run of calls to idempotent
 * tools runs again (same call ids); every earlier dangling call is answered as interrupted.
 */
function planContinue(
  open: OpenTurn,
  engine: { readonly tools: ToolSet; readonly newSubmissionId: () => string },
): ResumePlan {
  const dangling = open.danglingCalls;
  let from = dangling.length;
  while (from > 0 && engine.tools.get((dangling[from - 1] as FunctionCallItem).name)?.idempotent === true)
    from--;
  return {
    turnId: open.turnId,
    submissionId: open.submissionId ?? engine.newSubmissionId(),
    interrupted: dangling.slice(0, from),
    rerun: dangling.slice(from),
    requests: new Map(),
  };
}

/**
 * Runs a resumed turn's pending calls through the gate and the scheduler, appending their
 * outputs in order. Reports task_finish's result when one of them completed the task.
 */
export async function runPendingCalls(
  env: TurnEnv,
  pending: PendingCalls,
): Promise<{ kind: "aborted" } | { kind: "ok"; finishedWith: string | undefined }> {
  const batch = new ToolBatch(batchEnv(env, false));
  for (const call of pending.resume) batch.add(call);
  const outputs = await batch.close((out) => {
    env.log.append(out);
    if (env.suspended?.()) env.checkpoint?.();
  });
  if (env.signal.aborted) return { kind: "aborted" };
  let finishedWith: string | undefined;
  pending.resume.forEach((call, i) => {
    if (call.name === TASK_FINISH && !outputs[i]?.isError) finishedWith = parseFinish(call.arguments);
  });
  return { kind: "ok", finishedWith };
}

/**
 * Closes a turn a crash left open: every call without an output gets a synthetic one,
 * then `turn_aborted` (reason `crash`) is recorded, so the history is well-formed again.
 */
export async function closeCrashedTurn(c: EngineCore, open: OpenTurn): Promise<void> {
  const sub = open.submissionId;
  closeInterrupted(c, sub, open.turnId, open.danglingCalls);
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

/** Gives every call a crash cut off a synthetic output, so the history is well-formed. */
export function closeInterrupted(
  c: EngineCore,
  submissionId: string | undefined,
  turnId: string,
  calls: readonly FunctionCallItem[],
): void {
  for (const call of calls) {
    const output = "Tool call not completed: the process stopped during the turn.";
    c.log.append({ type: "function_call_output", callId: call.callId, output, isError: true });
    emit(c, submissionId, turnId, {
      type: "tool_call_completed",
      callId: call.callId,
      name: call.name,
      output,
      isError: true,
      status: "aborted",
      durationMs: 0,
    });
  }
}
