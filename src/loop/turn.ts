import type { ContextEnv, ContextManager } from "../context/manager.ts";
import { recoverOverflow } from "../context/overflow.ts";
import type { ThreadLog } from "../conversation/thread-log.ts";
import type { ModelClient } from "../llm/types.ts";
import type { ErrorInfo, EventMsg, EventMsgOf, FilePart, ImagePart, MessageItem } from "../protocol/index.ts";
import { addUsage, emptyUsage, textMessage, type Usage } from "../protocol/index.ts";
import type { ArtifactStore } from "../tool/artifacts.ts";
import type { ToolSet } from "../tool/define.ts";
import type { ToolBatchEnv, ToolGate } from "../tool/scheduler.ts";
import type { Stragglers } from "../tool/stragglers.ts";
import { type CompiledOutput, TASK_FINISH } from "./completion.ts";
import type { TurnHooks } from "./guards.ts";
import { type PendingCalls, runPendingCalls } from "./resume.ts";
import { batchEnv, sampleStep } from "./step.ts";
import type { StepCheck } from "./step-check.ts";

/** Settings a turn runs with (fixed for the whole turn, so its prompt prefix is stable). */
export interface TurnSettings {
  readonly maxSteps: number;
  readonly maxParallelTools: number;
  readonly toolTimeoutMs: number;
  readonly startToolsDuringStream: boolean;
  readonly completion: "natural" | "task_finish";
  readonly cwd: string;
  readonly output: CompiledOutput | undefined;
  /** Times the model may retry an answer that fails the output schema. */
  readonly outputRetries: number;
  /** Cap on the text of any tool output (see the scheduler); undefined = no cap. */
  readonly maxToolOutputChars: number | undefined;
}

/** Everything a turn needs from its engine. */
export interface TurnEnv {
  readonly threadId: string;
  readonly turnId: string;
  readonly model: ModelClient;
  readonly system: string;
  readonly tools: ToolSet;
  readonly log: ThreadLog;
  readonly settings: TurnSettings;
  readonly signal: AbortSignal;
  readonly gate: ToolGate | undefined;
  /** The engine's artifact store, handed to tools. */
  readonly artifacts: ArtifactStore;
  /** The engine's tool calls answered while still running: they hold later conflicting calls. */
  readonly stragglers?: Stragglers | undefined;
  /** Keeps the prompt inside the context window; absent when context management is off. */
  readonly context: ContextManager | undefined;
  /** Backs `ToolContext.askUser`. */
  readonly askUser?: ToolBatchEnv["askUser"];
  /** Backs `ToolContext.park`. */
  readonly park?: ToolBatchEnv["park"];
  /** Hook points of the turn (user_prompt_submit, pre_model, post_model). */
  readonly hooks?: TurnHooks | undefined;
  /** Consulted before every model call (budgets, loop detectors); absent when none is set. */
  readonly stepChecks?: readonly StepCheck[] | undefined;
  /** Makes the transcript durable now; called when the turn waits on a person. */
  checkpoint?(): void;
  /** True while the turn waits on a person (approval or answer). */
  suspended?(): boolean;
  emit(msg: EventMsg): void;
  /** Steer messages received since the last call; the turn delivers them at its next model call. */
  takeSteers(): string[];
  hasSteers(): boolean;
  /** Why the turn's signal fired. */
  abortReason(): EventMsgOf<"turn_aborted">["reason"];
}

/** The user's message that starts a turn. */
export interface TurnInput {
  readonly text: string;
  readonly images?: readonly ImagePart[] | undefined;
  readonly files?: readonly FilePart[] | undefined;
}

/** How a turn starts: with a user message, or by continuing a turn suspended before a restart. */
export type TurnStart = TurnInput | PendingCalls;

/** How a turn ended: the terminal event to persist and publish. */
export type TurnEnd = EventMsgOf<"turn_completed" | "turn_failed" | "turn_aborted">;

const REPEAT_WARN_AT = 3;
/** Overflow recoveries per turn; each one must have shrunk the request it retries. */
const MAX_OVERFLOW_RECOVERIES = 3;

/**
 * Runs one turn: samples the model, schedules its tool calls, appends everything to the
 * thread log, and loops until the model stops calling tools (or calls task_finish), the
 * step budget runs out, the model fails or the turn is aborted. Never throws for
 * expected failures; returns the terminal event.
 */
export async function runTurn(env: TurnEnv, input: TurnStart): Promise<TurnEnd> {
  const started = performance.now();
  const usage = emptyUsage();
  // Summed over the turn's calls; stays undefined when no call reported a cost.
  let costUsd: number | undefined;
  let repeats: Map<string, number> | undefined;
  let steps = 0;
  let lastText = "";
  let outputAttempts = 0;
  let overflowRecoveries = 0;
  const tools = batchEnv(env, env.settings.startToolsDuringStream);
  let ctxEnv: ContextEnv | undefined;
  if ("resume" in input) {
    const resumed = await runPendingCalls(env, input);
    if (resumed.kind === "aborted") return abortedEnd(env, steps, usage, started);
    if (resumed.finishedWith !== undefined) {
      const verdict = judgeAnswer(env, resumed.finishedWith, outputAttempts, true);
      if (verdict.kind === "done") return verdict.end(steps, usage, costUsd, started);
      outputAttempts++;
    }
  } else {
    const submitted = env.hooks
      ? await env.hooks.run("user_prompt_submit", { prompt: input.text })
      : undefined;
    if (submitted?.decision === "deny") {
      return failedEnd(steps, usage, costUsd, started, {
        code: "prompt_blocked",
        message: submitted.reason ?? "a hook blocked the prompt",
        source: "hook",
      });
    }
    const content: MessageItem["content"] = [{ type: "text", text: input.text }];
    if (input.images) content.push(...input.images);
    if (input.files) content.push(...input.files);
    env.log.append({ type: "message", role: "user", content });
    const attachments = content.length - 1;
    env.emit(
      attachments > 0
        ? { type: "user_message", kind: "input", text: input.text, attachments }
        : { type: "user_message", kind: "input", text: input.text },
    );
    for (const text of submitted?.context ?? []) env.log.append(textMessage("system", text));
  }

  for (;;) {
    if (env.signal.aborted) return abortedEnd(env, steps, usage, started);
    for (const text of env.takeSteers()) {
      env.log.append(textMessage("user", text));
      env.emit({ type: "user_message", kind: "steer", text });
    }
    if (steps >= env.settings.maxSteps) {
      return failedEnd(steps, usage, costUsd, started, {
        code: "max_steps",
        message: `the turn used its budget of ${env.settings.maxSteps} model calls without finishing`,
        source: "engine",
      });
    }
    if (env.stepChecks) {
      const stop = runStepChecks(env, env.stepChecks, steps + 1);
      if (stop) return failedEnd(steps, usage, costUsd, started, stop);
    }
    if (env.context) {
      ctxEnv ??= contextEnv(env);
      const relieving = env.context.beforeCall(ctxEnv, steps === 0 ? "pre_sampling" : "mid_turn");
      if (relieving) {
        const spent = await relieving;
        if (spent) addUsage(usage, spent);
        if (env.signal.aborted) return abortedEnd(env, steps, usage, started);
      }
    }
    steps++;
    const step = await sampleStep(env, steps, tools);
    if (step.usage) addUsage(usage, step.usage);
    if (step.costUsd !== undefined) costUsd = (costUsd ?? 0) + step.costUsd;
    if (step.kind === "aborted") return abortedEnd(env, steps, usage, started);
    if (step.kind === "failed") {
      // Reactive overflow recovery: learn the window, shrink for real, and call again with
      // a different, smaller request (never the one that failed), a few times at most.
      if (
        step.error.code === "context_overflow" &&
        env.context &&
        overflowRecoveries < MAX_OVERFLOW_RECOVERIES
      ) {
        overflowRecoveries++;
        ctxEnv ??= contextEnv(env);
        const recovery = await recoverOverflow(env.context, ctxEnv, step.error);
        if (recovery.usage) addUsage(usage, recovery.usage);
        if (env.signal.aborted) return abortedEnd(env, steps, usage, started);
        if (recovery.retry) continue;
        return failedEnd(steps, usage, costUsd, started, {
          ...step.error,
          message: `${step.error.message} (overflow recovery: ${recovery.reason})`,
        });
      }
      return failedEnd(steps, usage, costUsd, started, step.error);
    }
    if (step.text !== "") lastText = step.text;

    for (const call of step.callNames) {
      repeats ??= new Map();
      const n = (repeats.get(call) ?? 0) + 1;
      repeats.set(call, n);
      if (n === REPEAT_WARN_AT) {
        env.emit({
          type: "warning",
          code: "repeated_tool_call",
          message: `the model made the same tool call ${n} times in this turn: ${call.slice(0, 200)}`,
        });
      }
    }
    if (step.finishedWith !== undefined) {
      const verdict = judgeAnswer(env, step.finishedWith, outputAttempts, true);
      if (verdict.kind === "done") return verdict.end(steps, usage, costUsd, started);
      outputAttempts++;
      continue;
    }
    if (step.callNames.length > 0) continue;
    if (env.settings.completion === "task_finish") {
      env.log.append(
        textMessage(
          "system",
          `Continue working. When the task is done, call ${TASK_FINISH} with your final answer.`,
        ),
      );
      continue;
    }
    if (env.signal.aborted) return abortedEnd(env, steps, usage, started);
    if (env.settings.output) {
      // The answer is what the model said in this last response, never an earlier step's text.
      const verdict = judgeAnswer(env, step.text, outputAttempts, false);
      if (verdict.kind === "done") return verdict.end(steps, usage, costUsd, started);
      outputAttempts++;
      continue;
    }
    // A steer that arrived during the last call is delivered with one more call.
    if (env.hasSteers()) continue;
    return completedEnd(lastText, undefined, steps, usage, costUsd, started);
  }
}

/** What to do with a candidate final answer: end the turn, or let the model correct it. */
type Verdict =
  | {
      readonly kind: "done";
      end(steps: number, usage: Usage, costUsd: number | undefined, started: number): TurnEnd;
    }
  | { readonly kind: "retry" };

const RETRY: Verdict = { kind: "retry" };

/**
 * Judges the turn's answer (the last response's text, or task_finish's `result`) against
 * the output schema, when there is one. A rejected answer is explained to the model (the
 * system message it reads next) until `outputRetries` corrections are spent; then the turn
 * fails with `invalid_output`. Without a schema every answer is accepted as it is.
 */
function judgeAnswer(env: TurnEnv, answer: string, attempts: number, viaFinish: boolean): Verdict {
  const output = env.settings.output;
  if (!output) return { kind: "done", end: (...a) => completedEnd(answer, undefined, ...a) };
  const checked =
    answer.trim() === "" ? { ok: false as const, message: "the answer is empty" } : output.check(answer);
  if (checked.ok) {
    const value = { value: checked.value };
    return { kind: "done", end: (...a) => completedEnd(answer, value, ...a) };
  }
  if (attempts >= env.settings.outputRetries) {
    const error: ErrorInfo = { code: "invalid_output", message: checked.message, source: "engine" };
    return { kind: "done", end: (...a) => failedEnd(...a, error) };
  }
  env.log.append(
    textMessage(
      "system",
      viaFinish
        ? `Your ${TASK_FINISH} result was rejected: ${checked.message}. Call ${TASK_FINISH} again with only the corrected JSON as its result.`
        : `Your answer was rejected: ${checked.message}. Reply with only the corrected JSON.`,
    ),
  );
  return RETRY;
}

/** Applies the checks' verdicts before a model call; the error of the first `stop`, if any. */
function runStepChecks(env: TurnEnv, checks: readonly StepCheck[], step: number): ErrorInfo | undefined {
  const ctx = { threadId: env.threadId, turnId: env.turnId, step };
  for (const check of checks) {
    const verdict = check(ctx);
    if (verdict === undefined) continue;
    if (verdict.type === "stop") return verdict.error;
    env.log.append(textMessage("system", verdict.text));
  }
  return undefined;
}

// The turn's end events are built by plain functions of its counters, not closures: a turn
// waiting on its model keeps only its frame alive.
function since(started: number): number {
  return Math.round(performance.now() - started);
}

function failedEnd(
  steps: number,
  usage: Usage,
  costUsd: number | undefined,
  started: number,
  error: ErrorInfo,
): TurnEnd {
  const durationMs = since(started);
  return costUsd === undefined
    ? { type: "turn_failed", error, steps, usage, durationMs }
    : { type: "turn_failed", error, steps, usage, costUsd, durationMs };
}

/** turn_completed; `output` holds a validated structured answer. Keys in their usual order. */
function completedEnd(
  text: string,
  output: { value: unknown } | undefined,
  steps: number,
  usage: Usage,
  costUsd: number | undefined,
  started: number,
): TurnEnd {
  const durationMs = since(started);
  if (output) {
    const value = output.value;
    return costUsd === undefined
      ? { type: "turn_completed", text, output: value, steps, usage, durationMs }
      : { type: "turn_completed", text, output: value, steps, usage, costUsd, durationMs };
  }
  return costUsd === undefined
    ? { type: "turn_completed", text, steps, usage, durationMs }
    : { type: "turn_completed", text, steps, usage, costUsd, durationMs };
}

function abortedEnd(env: TurnEnv, steps: number, usage: Usage, started: number): TurnEnd {
  const reason = env.abortReason();
  return {
    type: "turn_aborted",
    reason,
    message: abortMessage(reason),
    steps,
    usage,
    durationMs: since(started),
  };
}

function contextEnv(env: TurnEnv): ContextEnv {
  return {
    threadId: env.threadId,
    system: env.system,
    tools: env.tools.specs,
    log: env.log,
    model: env.model,
    signal: env.signal,
    hooks: env.hooks,
    emit: env.emit,
  };
}

function abortMessage(reason: EventMsgOf<"turn_aborted">["reason"]): string {
  switch (reason) {
    case "interrupt":
      return "the turn was interrupted";
    case "shutdown":
      return "the engine shut down during the turn";
    case "crash":
      return "the process stopped during the turn";
    case "timeout":
      return "the turn exceeded its time limit";
  }
}
