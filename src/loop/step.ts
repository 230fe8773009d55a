/** One step of a turn: a model call, its streamed output and the tool calls it made. */
import { describeError } from "../errors.ts";
import { ResponseAssembler } from "../llm/assemble.ts";
import { modelError } from "../llm/errors.ts";
import type { ModelEvent, ModelRequest } from "../llm/types.ts";
import type { ErrorInfo, EventMsgOf, FunctionCallOutputItem, Usage } from "../protocol/index.ts";
import { emptyUsage } from "../protocol/index.ts";
import { ToolBatch, type ToolBatchEnv } from "../tool/scheduler.ts";
import { TASK_FINISH } from "./completion.ts";
import { type TurnEnv, withCost } from "./turn.ts";

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
    artifacts: env.artifacts,
  };
}

/** One model call plus the tool calls it asked for. Never throws for expected failures. */
export async function sampleStep(env: TurnEnv, step: number): Promise<StepResult> {
  const modelId = env.model.id;
  env.emit({ type: "model_call_started", step, model: modelId });
  const t0 = performance.now();
  const assembler = new ResponseAssembler();
  const batch = new ToolBatch(batchEnv(env, env.settings.startToolsDuringStream));
  const request = buildRequest(env);
  if (env.hooks) await env.hooks.run("pre_model", { step, model: modelId, items: request.items.length });
  const failure = await consumeStream(env, step, request, assembler, batch);
  const res = assembler.result();
  const usage = res.usage;
  const costUsd = res.costUsd;
  // Nothing has been appended since the request was built, so the live history is its items.
  env.context?.afterCall(
    env.context.rawPromptTokens({ system: request.system, tools: request.tools, log: env.log }),
    usage,
  );
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
    if (env.hooks)
      await env.hooks.run("post_model", { step, model: modelId, finishReason, usage: usage ?? emptyUsage() });
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
