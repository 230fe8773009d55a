/** One step of a turn: a model call, its streamed output and the tool calls it made. */
import { unwatchAbort, watchAbort } from "../abort-watch.ts";
import { describeError } from "../errors.ts";
import { ResponseAssembler } from "../llm/assemble.ts";
import { modelError } from "../llm/errors.ts";
import type { ModelEvent, ModelNotice, ModelRequest } from "../llm/types.ts";
import { isPromiseLike } from "../promise-like.ts";
import type { ErrorInfo, EventMsg, EventMsgOf, FunctionCallOutputItem, Usage } from "../protocol/index.ts";
import { emptyUsage } from "../protocol/index.ts";
import { ToolBatch, type ToolBatchEnv } from "../tool/scheduler.ts";
import { TASK_FINISH } from "./completion.ts";
import type { TurnEnv } from "./turn.ts";

/** How one model call (and the tool calls it made) ended. */
export type StepResult =
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
  // Under task_finish the answer is the tool's `result` (validated there), not the text.
  if (env.settings.output && env.settings.completion === "natural")
    request.responseFormat = env.settings.output.format;
  const breakpoints = env.context?.cacheBreakpoints(env.log);
  if (breakpoints && breakpoints.length > 0) request.cacheBreakpoints = breakpoints;
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
    park: env.park,
    artifacts: env.artifacts,
    maxOutputChars: env.settings.maxToolOutputChars,
    stragglers: env.stragglers,
  };
}

/**
 * One model call plus the tool calls it asked for. Never throws for expected failures.
 * `tools` is the turn's batch environment (see batchEnv), built once per turn. Not an async
 * function: while the model call runs (often seconds), the step holds one promise and its
 * StepStream, not a suspended frame.
 */
export function sampleStep(env: TurnEnv, step: number, tools: ToolBatchEnv): Promise<StepResult> {
  env.emit({ type: "model_call_started", step, model: env.model.id });
  const stream = new StepStream(env, step, tools);
  const request = buildRequest(env);
  const hooked = env.hooks?.run("pre_model", { step, model: env.model.id, items: request.items.length });
  const ended = hooked ? hooked.then(() => stream.run(request)) : stream.run(request);
  return ended.then((failure) => endStep(env, stream, request, failure));
}

/**
 * Everything after the model stream ended: history, the call's end event, its tool calls.
 * Synchronous when nothing has to wait (no hook, tools that answered at once): a promise
 * only where one is needed.
 */
function endStep(
  env: TurnEnv,
  stream: StepStream,
  request: ModelRequest,
  failure: ErrorInfo | undefined,
): StepResult | Promise<StepResult> {
  const res = stream.assembler.result();
  const usage = res.usage;
  // Nothing has been appended since the request was built, so the live history is its items.
  env.context?.afterCall(
    env.context.rawPromptTokens({ system: request.system, tools: request.tools, log: env.log }),
    usage,
  );
  const durationMs = Math.round((performance.now() - stream.startedAt) * 1000) / 1000;
  const batch = stream.batch;
  if (env.signal.aborted) return abortedStep(env, stream, res, durationMs);
  const error = failure ?? res.error ?? (res.finish === undefined ? streamCut() : undefined);
  if (error) return failedStep(env, stream, res, durationMs, error);
  for (const item of res.items) env.log.append(item);
  if (res.text !== "") env.emit({ type: "assistant_message", text: res.text });
  // While a call waits on a person, make what the model asked for durable: a restart resumes from it.
  if (res.calls.length > 0 && env.suspended?.()) env.checkpoint?.();
  const hooked = completed(env, stream.step, res, durationMs, res.finish ?? "stop");
  if (hooked) return hooked.then(() => runCalls(env, batch, res));
  return runCalls(env, batch, res);
}

type Assembled = ReturnType<ResponseAssembler["result"]>;

/** Emits model_call_completed; the post_model hook's promise when there is one. */
function completed(
  env: TurnEnv,
  step: number,
  res: Assembled,
  durationMs: number,
  finishReason: EventMsgOf<"model_call_completed">["finishReason"],
  error?: ErrorInfo,
): Promise<unknown> | undefined {
  const usage = res.usage ?? emptyUsage();
  const model = env.model.id;
  const costUsd = res.costUsd;
  const msg: EventMsgOf<"model_call_completed"> =
    costUsd === undefined
      ? { type: "model_call_completed", step, model, finishReason, usage, durationMs }
      : { type: "model_call_completed", step, model, finishReason, usage, costUsd, durationMs };
  if (error) msg.error = error;
  env.emit(msg);
  return env.hooks?.run("post_model", { step, model, finishReason, usage });
}

/** Lets the calls the model made finish (in emission order, into the history), then reports the step. */
function runCalls(
  env: TurnEnv,
  batch: ToolBatch | undefined,
  res: Assembled,
): StepResult | Promise<StepResult> {
  if (!batch || res.calls.length === 0)
    return okStep(res, res.unfinished.length > 0 ? closeUnfinished(env, res, []) : [], undefined);
  const outputs = batch.close((out) => {
    env.log.append(out);
    if (env.suspended?.()) env.checkpoint?.();
  });
  if (isPromiseLike(outputs)) return outputs.then((done) => callsDone(env, res, done));
  return callsDone(env, res, outputs);
}

function callsDone(env: TurnEnv, res: Assembled, outputs: readonly FunctionCallOutputItem[]): StepResult {
  if (env.signal.aborted) return { kind: "aborted", usage: res.usage, costUsd: res.costUsd };
  let finishedWith: string | undefined;
  const callNames: string[] = [];
  for (let i = 0; i < res.calls.length; i++) {
    const call = res.calls[i] as (typeof res.calls)[number];
    callNames.push(`${call.name} ${call.arguments}`);
    if (call.name === TASK_FINISH && !outputs[i]?.isError) finishedWith = parseFinish(call.arguments);
  }
  if (res.unfinished.length > 0) closeUnfinished(env, res, callNames);
  return okStep(res, callNames, finishedWith);
}

/**
 * Answers the calls the model started but never ended (the response finished first, often
 * at its token limit): none of them runs, each gets an error output that says why, and the
 * turn goes on so the model can call again. The host sees a warning and the usual pair of
 * tool events. Adds each call to `callNames` (the model made it; the turn continues).
 */
function closeUnfinished(env: TurnEnv, res: Assembled, callNames: string[]): string[] {
  const why =
    res.finish === "length"
      ? "the response reached its output token limit"
      : `the response finished (${res.finish ?? "stop"})`;
  for (const call of res.unfinished) {
    const output = `Tool call not run: ${why} before the call's arguments were complete. Call ${call.name} again with complete arguments.`;
    env.emit({
      type: "warning",
      code: "tool_call_unfinished",
      message: `the model started a call to ${call.name} (${call.callId}) but ${why} before ending it; the call did not run`,
    });
    env.emit({ type: "tool_call_started", callId: call.callId, name: call.name, input: call.arguments });
    env.log.append({ type: "function_call_output", callId: call.callId, output, isError: true });
    env.emit({
      type: "tool_call_completed",
      callId: call.callId,
      name: call.name,
      output,
      isError: true,
      status: "invalid_input",
      durationMs: 0,
    });
    callNames.push(`${call.name} ${call.arguments}`);
  }
  return callNames;
}

function okStep(res: Assembled, callNames: string[], finishedWith: string | undefined): StepResult {
  return { kind: "ok", usage: res.usage, costUsd: res.costUsd, text: res.text, callNames, finishedWith };
}

/** The turn was interrupted: keep what the model said, and close every call it made. */
async function abortedStep(
  env: TurnEnv,
  stream: StepStream,
  res: Assembled,
  durationMs: number,
): Promise<StepResult> {
  const outputs = stream.batch ? await stream.batch.cancel("the turn was interrupted") : [];
  appendAll(env, res.items, outputs);
  if (res.unfinished.length > 0) closeUnfinished(env, res, []);
  await completed(env, stream.step, res, durationMs, "aborted");
  return { kind: "aborted", usage: res.usage, costUsd: res.costUsd };
}

async function failedStep(
  env: TurnEnv,
  stream: StepStream,
  res: Assembled,
  durationMs: number,
  error: ErrorInfo,
): Promise<StepResult> {
  if (stream.batch) await stream.batch.cancel("the model call failed");
  await completed(env, stream.step, res, durationMs, "error", error);
  return { kind: "failed", error, usage: res.usage, costUsd: res.costUsd };
}

function appendAll(env: TurnEnv, items: Assembled["items"], outputs: readonly FunctionCallOutputItem[]) {
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

const ignore = (): void => {};

/**
 * Reads one model stream into its assembler, handing completed calls to a tool batch
 * (created on the first call: most model calls make none) and streaming deltas as events.
 * `run` resolves when the stream ends, or at once on abort even if the client ignores its
 * signal (later events of an abandoned stream are dropped). It resolves with an error only
 * when the client broke its contract by throwing. One promise per stream, not per chunk,
 * and no async frame: each chunk is pulled with a callback, so a stream waiting on a slow
 * model holds only this object.
 */
class StepStream {
  readonly assembler = new ResponseAssembler();
  batch: ToolBatch | undefined;
  readonly step: number;
  readonly startedAt = performance.now();
  private readonly env: TurnEnv;
  private readonly tools: ToolBatchEnv;
  private iterator: AsyncIterator<ModelEvent> | undefined;
  private stopped = false;
  private resolve: ((failure: ErrorInfo | undefined) => void) | undefined;

  constructor(env: TurnEnv, step: number, tools: ToolBatchEnv) {
    this.env = env;
    this.step = step;
    this.tools = tools;
  }

  run(request: ModelRequest): Promise<ErrorInfo | undefined> {
    const signal = this.env.signal;
    if (signal.aborted) return Promise.resolve(undefined);
    const ended = new Promise<ErrorInfo | undefined>((resolve) => {
      this.resolve = resolve;
    });
    watchAbort(signal, this.onAbort);
    try {
      this.iterator = this.env.model.stream(request, { signal })[Symbol.asyncIterator]();
    } catch (err) {
      this.onThrow(err);
      return ended;
    }
    this.pull();
    return ended;
  }

  // Callbacks bound once per stream. The abort handler goes through watchAbort: adding and
  // removing a real listener per model call was the costliest call of a step at scale.
  // (Should a real listener ever be needed: make it a function. Measured on Node 24, a
  // handleEvent object registered on an AbortSignal survives minor collections.)
  private readonly onAbort = (): void => this.stop(undefined);
  private readonly onThrow = (err: unknown): void =>
    this.stop(modelError("unknown", `the model client threw: ${describeError(err)}`));
  private readonly onNext = (next: IteratorResult<ModelEvent>): void => {
    if (this.stopped) return;
    if (next.done) {
      this.stop(undefined, true);
      return;
    }
    try {
      if (this.handle(next.value)) this.pull();
    } catch (err) {
      this.stop(modelError("unknown", `handling the model stream failed: ${describeError(err)}`));
    }
  };

  private pull(): void {
    let next: Promise<IteratorResult<ModelEvent>>;
    try {
      next = (this.iterator as AsyncIterator<ModelEvent>).next();
    } catch (err) {
      this.onThrow(err);
      return;
    }
    next.then(this.onNext, this.onThrow);
  }

  private stop(failure: ErrorInfo | undefined, drained = false): void {
    if (this.stopped) return;
    this.stopped = true;
    unwatchAbort(this.env.signal, this.onAbort);
    // Release the provider's resources; a misbehaving client must not block the turn.
    if (!drained) this.iterator?.return?.()?.catch(ignore);
    this.resolve?.(failure);
  }

  /** Takes one model event; false once the stream is over (finish or error). */
  private handle(ev: ModelEvent): boolean {
    const env = this.env;
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
          step: this.step,
          model: env.model.id,
          attempt: ev.attempt,
          delayMs: ev.delayMs,
          error: ev.error,
        });
        break;
      case "notice":
        env.emit(noticeEvent(ev.notice, this.step, env.model.id));
        break;
      default:
        break;
    }
    const call = this.assembler.push(ev);
    if (call) {
      this.batch ??= new ToolBatch(this.tools);
      this.batch.add(call);
    }
    if (ev.type === "finish" || ev.type === "error") {
      this.stop(undefined);
      return false;
    }
    return true;
  }
}

/** The event a client wrapper's notice becomes (see ModelNotice). */
function noticeEvent(n: ModelNotice, step: number, model: string): EventMsg {
  switch (n.kind) {
    case "routed":
      return {
        type: "model_routed",
        step,
        model,
        profile: n.profile,
        chosen: n.chosen,
        reasons: [...n.reasons],
        skipped: n.skipped.map((s) => ({ ...s })),
      };
    case "rate_limit_wait":
      return { type: "rate_limit_wait", step, model, key: n.key, waitMs: n.waitMs, reason: n.reason };
    case "recovery":
      return {
        type: "model_recovery",
        step,
        model,
        action: n.action,
        attempt: n.attempt,
        message: n.message,
      };
  }
}
