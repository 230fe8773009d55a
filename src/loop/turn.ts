import type { ContextEnv, ContextManager } from "../context/manager.ts";
import type { ThreadLog } from "../conversation/thread-log.ts";
import { describeError } from "../errors.ts";
import { ResponseAssembler } from "../llm/assemble.ts";
import { modelError } from "../llm/errors.ts";
import type { ModelClient, ModelEvent, ModelRequest } from "../llm/types.ts";
import type {
  ErrorInfo,
  EventMsg,
  EventMsgOf,
  FilePart,
  FunctionCallOutputItem,
  ImagePart,
  MessageItem,
  Usage,
} from "../protocol/index.ts";
import { addUsage, emptyUsage, textMessage } from "../protocol/index.ts";
import type { ToolSet } from "../tool/define.ts";
import { ToolBatch, type ToolBatchEnv, type ToolGate } from "../tool/scheduler.ts";
import { type CompiledOutput, TASK_FINISH } from "./completion.ts";
import type { TurnHooks } from "./guards.ts";
import { type PendingCalls, runPendingCalls } from "./resume.ts";

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
  /** Backs `ToolContext.askUser`. */
  readonly askUser?: ToolBatchEnv["askUser"];
  /** Hook points of the turn (user_prompt_submit, pre_model, post_model). */
  readonly hooks?: TurnHooks | undefined;
  /** Makes the transcript durable now; called when the turn waits on a person. */
  checkpoint?(): void;
  /** True while the turn waits on a person (approval or answer). */
  suspended?(): boolean;
  /** Keeps the prompt inside the context window; absent when context management is off. */
  readonly context: ContextManager | undefined;
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
  const repeats = new Map<string, number>();
  let steps = 0;
  let lastText = "";
  let outputAttempts = 0;
  let overflowRetried = false;
  const elapsed = () => Math.round(performance.now() - started);
  const fail = (error: ErrorInfo): TurnEnd => ({
    type: "turn_failed",
    error,
    steps,
    usage,
    ...withCost(costUsd),
    durationMs: elapsed(),
  });
  const aborted = (): TurnEnd => ({
    type: "turn_aborted",
    reason: env.abortReason(),
    message: abortMessage(env.abortReason()),
    steps,
    usage,
    durationMs: elapsed(),
  });
  if ("resume" in input) {
    const resumed = await runPendingCalls(env, input);
    if (resumed.kind === "aborted") return aborted();
    if (resumed.finishedWith !== undefined) {
      return { type: "turn_completed", text: resumed.finishedWith, steps, usage, durationMs: elapsed() };
    }
  } else {
    const submitted = await env.hooks?.run("user_prompt_submit", { prompt: input.text });
    if (submitted?.decision === "deny") {
      return fail({
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
    if (env.signal.aborted) return aborted();
    for (const text of env.takeSteers()) {
      env.log.append(textMessage("user", text));
      env.emit({ type: "user_message", kind: "steer", text });
    }
    if (steps >= env.settings.maxSteps) {
      return fail({
        code: "max_steps",
        message: `the turn used its budget of ${env.settings.maxSteps} model calls without finishing`,
        source: "engine",
      });
    }
    if (env.context) {
      const spent = await env.context.beforeCall(contextEnv(env), steps === 0 ? "pre_sampling" : "mid_turn");
      if (spent) addUsage(usage, spent);
      if (env.signal.aborted) return aborted();
    }
    steps++;
    const step = await sampleStep(env, steps);
    if (step.usage) addUsage(usage, step.usage);
    if (step.costUsd !== undefined) costUsd = (costUsd ?? 0) + step.costUsd;
    if (step.kind === "aborted") return aborted();
    if (step.kind === "failed") {
      // Reactive overflow recovery: compact hard and try the call once more.
      if (step.error.code === "context_overflow" && env.context && !overflowRetried) {
        overflowRetried = true;
        const spent = await env.context.compact(contextEnv(env), "overflow", true);
        if (spent) addUsage(usage, spent);
        continue;
      }
      return fail(step.error);
    }
    if (step.text !== "") lastText = step.text;

    for (const call of step.callNames) {
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
      return {
        type: "turn_completed",
        text: step.finishedWith,
        steps,
        usage,
        ...withCost(costUsd),
        durationMs: elapsed(),
      };
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
    if (env.signal.aborted) return aborted();
    const output = env.settings.output;
    if (output) {
      const checked = output.check(lastText);
      if (!checked.ok) {
        if (outputAttempts >= env.settings.outputRetries) {
          return fail({ code: "invalid_output", message: checked.message, source: "engine" });
        }
        outputAttempts++;
        env.log.append(
          textMessage(
            "system",
            `Your answer was rejected: ${checked.message}. Reply with only the corrected JSON.`,
          ),
        );
        continue;
      }
      return {
        type: "turn_completed",
        text: lastText,
        output: checked.value,
        steps,
        usage,
        ...withCost(costUsd),
        durationMs: elapsed(),
      };
    }
    // A steer that arrived during the last call is delivered with one more call.
    if (env.hasSteers()) continue;
    return {
      type: "turn_completed",
      text: lastText,
      steps,
      usage,
      ...withCost(costUsd),
      durationMs: elapsed(),
    };
  }
}

function withCost(costUsd: number | undefined): { costUsd?: number } {
  return costUsd === undefined ? {} : { costUsd };
}

function contextEnv(env: TurnEnv): ContextEnv {
  return {
    threadId: env.threadId,
    system: env.system,
    tools: env.tools.specs,
    log: env.log,
    model: env.model,
    signal: env.signal,
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

type StepResult =
  | { kind: "aborted"; usage: Usage | undefined; costUsd: number | undefined }
  | { kind: "failed"; error: ErrorInfo; usage: Usage | undefined; costUsd: number | undefined }
  | {
      kind: "ok";
      usage: Usage | undefined;
      costUsd: number | undefined;
      text: string;
      /** name + arguments of each call, for the repeat detector. */
      callNames: string[];
      /** Set when task_finish succeeded: the final answer. */
      finishedWith: string | undefined;
    };

function buildRequest(env: TurnEnv): ModelRequest {
  const request: {
    -readonly [K in keyof ModelRequest]: ModelRequest[K];
  } = {
    system: env.system,
    items: env.log.items.slice(),
    tools: env.tools.specs,
    threadId: env.threadId,
  };
  if (env.settings.output) request.responseFormat = env.settings.output.format;
  return request;
}

/** What a tool batch of this turn needs. */
export function batchEnv(env: TurnEnv, startDuringStream: boolean): ToolBatchEnv {
  return {
    tools: env.tools,
    signal: env.signal,
    threadId: env.threadId,
    turnId: env.turnId,
    cwd: env.settings.cwd,
    emit: env.emit,
    maxParallel: env.settings.maxParallelTools,
    defaultTimeoutMs: env.settings.toolTimeoutMs,
    gate: env.gate,
    startDuringStream,
    askUser: env.askUser,
  };
}

/** One model call plus the tool calls it asked for. */
async function sampleStep(env: TurnEnv, step: number): Promise<StepResult> {
  const modelId = env.model.id;
  env.emit({ type: "model_call_started", step, model: modelId });
  const t0 = performance.now();
  const assembler = new ResponseAssembler();
  const batch = new ToolBatch(batchEnv(env, env.settings.startToolsDuringStream));
  const request = buildRequest(env);
  await env.hooks?.run("pre_model", { step, model: modelId, items: request.items.length });
  const failure = await consumeStream(env, step, request, assembler, batch);
  const res = assembler.result();
  const usage = res.usage;
  const costUsd = res.costUsd;
  env.context?.afterCall(env.context.estimator.raw(request.system, request.tools, request.items), usage);
  const durationMs = Math.round((performance.now() - t0) * 1000) / 1000;
  const completed = async (finishReason: EventMsgOf<"model_call_completed">["finishReason"]) => {
    env.emit({
      type: "model_call_completed",
      step,
      model: modelId,
      finishReason,
      usage: usage ?? emptyUsage(),
      ...withCost(costUsd),
      durationMs,
    });
    await env.hooks?.run("post_model", { step, model: modelId, finishReason, usage: usage ?? emptyUsage() });
  };

  if (env.signal.aborted) {
    // Keep what the model said before the interrupt, and close every call it made.
    const outputs = await batch.cancel("the turn was interrupted");
    appendAll(env, res.items, outputs);
    await completed("aborted");
    return { kind: "aborted", usage, costUsd };
  }
  const error = failure ?? res.error ?? (res.finish === undefined ? streamCut() : undefined);
  if (error) {
    await batch.cancel("the model call failed");
    await completed("error");
    return { kind: "failed", error, usage, costUsd };
  }
  for (const item of res.items) env.log.append(item);
  if (res.text !== "") env.emit({ type: "assistant_message", text: res.text });
  // While a call waits on a person, make what the model asked for durable: a restart resumes from it.
  if (res.calls.length > 0 && env.suspended?.()) env.checkpoint?.();
  await completed(res.finish ?? "stop");
  if (res.calls.length === 0)
    return { kind: "ok", usage, costUsd, text: res.text, callNames: [], finishedWith: undefined };

  const outputs = await batch.close((out) => {
    env.log.append(out);
    if (env.suspended?.()) env.checkpoint?.();
  });
  if (env.signal.aborted) return { kind: "aborted", usage, costUsd };
  let finishedWith: string | undefined;
  res.calls.forEach((call, i) => {
    if (call.name === TASK_FINISH && !outputs[i]?.isError) finishedWith = parseFinish(call.arguments);
  });
  return {
    kind: "ok",
    usage,
    costUsd,
    text: res.text,
    callNames: res.calls.map((c) => `${c.name} ${c.arguments}`),
    finishedWith,
  };
}

function appendAll(
  env: TurnEnv,
  items: ReturnType<ResponseAssembler["result"]>["items"],
  outputs: FunctionCallOutputItem[],
) {
  for (const item of items) env.log.append(item);
  for (const out of outputs) env.log.append(out);
}

/** The `result` argument of a task_finish call (empty when malformed). */
export function parseFinish(args: string): string {
  try {
    const value = JSON.parse(args) as { result?: unknown };
    return typeof value.result === "string" ? value.result : "";
  } catch {
    return "";
  }
}

function streamCut(): ErrorInfo {
  return modelError("network", "the model stream ended without a finish event");
}

/**
 * Reads the model stream into the assembler, handing completed calls to the batch and
 * streaming deltas as events. Resolves when the stream ends or at once on abort, even if the
 * client ignores its signal (later events of an abandoned stream are dropped). Returns an
 * error only when the client broke its contract by throwing.
 */
function consumeStream(
  env: TurnEnv,
  step: number,
  request: ModelRequest,
  assembler: ResponseAssembler,
  batch: ToolBatch,
): Promise<ErrorInfo | undefined> {
  const signal = env.signal;
  if (signal.aborted) return Promise.resolve(undefined);
  let stopped = false;
  let iterator: AsyncIterator<ModelEvent> | undefined;
  // One promise for the whole stream (not one per chunk): the pump runs detached and the
  // turn waits for whichever comes first, the end of the stream or the abort.
  return new Promise<ErrorInfo | undefined>((resolve) => {
    const stop = (result: ErrorInfo | undefined) => {
      if (stopped) return;
      stopped = true;
      signal.removeEventListener("abort", onAbort);
      // Release the provider's resources; a misbehaving client must not block the turn.
      iterator?.return?.()?.catch(() => {});
      resolve(result);
    };
    const onAbort = () => stop(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    const pump = async () => {
      const it = env.model.stream(request, { signal })[Symbol.asyncIterator]();
      iterator = it;
      for (;;) {
        const next = await it.next();
        if (stopped) return;
        if (next.done) return stop(undefined);
        const ev = next.value;
        switch (ev.type) {
          case "text_delta":
            if (ev.delta !== "") env.emit({ type: "assistant_text", delta: ev.delta });
            break;
          case "reasoning_delta":
            if (ev.delta !== "") env.emit({ type: "reasoning_delta", delta: ev.delta });
            break;
          case "retry":
            env.emit({
              type: "model_retry",
              step,
              model: env.model.id,
              attempt: ev.attempt,
              delayMs: ev.delayMs,
              error: ev.error,
            });
            break;
          default:
            break;
        }
        const call = assembler.push(ev);
        if (call) batch.add(call);
        if (ev.type === "finish" || ev.type === "error") return stop(undefined);
      }
    };
    pump().catch((err: unknown) =>
      stop(modelError("unknown", `the model client threw: ${describeError(err)}`)),
    );
  });
}
