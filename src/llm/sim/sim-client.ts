import type { Usage } from "../../protocol/index.ts";
import { messageText, toolOutputText } from "../../protocol/index.ts";
import { modelError } from "../errors.ts";
import type { CacheStyle, ModelClient, ModelEvent, ModelRequest, StreamOptions } from "../types.ts";
import { PrefixCache, type PrefixCacheOptions } from "./prefix-cache.ts";
import { parseSimStep, type SimScript, type SimStep, type SimStepFn, type SimStepInput } from "./script.ts";
import { SimStream } from "./sim-stream.ts";
import { simSummary } from "./summary.ts";

/** Options for a SimClient. */
export interface SimClientOptions {
  /** The script: a parsed or raw script object, or a list of steps (objects or functions). */
  readonly script:
    | SimScript
    | { steps: readonly (SimStepInput | SimStepFn)[] }
    | readonly (SimStepInput | SimStepFn)[];
  /** Reported as `sim:<name>`. Default `script`. */
  readonly name?: string;
  /** Used when the script is an object without onExhausted. */
  readonly onExhausted?: "error" | "repeat_last";
  /**
   * Simulate a provider prompt cache: usage then reports cached and written input tokens the
   * way the real API would (explicit `usage` values in a step still win).
   */
  readonly cache?: PrefixCacheOptions | PrefixCache;
  /**
   * Answers compaction requests (`purpose: "compaction"`), which do not consume script steps.
   * Default: `simSummary`, which keeps user requests and every line marked `NOTE:`.
   */
  readonly summarize?: (request: ModelRequest) => string;
  /**
   * Reject prompts larger than this many input tokens with a `context_overflow` error, as a
   * real API would (counted like the cache simulation: heuristic tokens by default).
   */
  readonly contextWindow?: number;
}

type StepSource = SimStep | SimStepFn;

/**
 * A deterministic model for tests, examples and benchmarks. Each thread (keyed by
 * `request.threadId`) consumes the script's steps in order, one per model call, so one
 * SimClient can serve many sessions. Honours the ModelClient contract: it never throws,
 * honours abort signals between chunks, and ends every stream with `finish` or `error`.
 */
export class SimClient implements ModelClient {
  readonly id: string;
  /** The simulated cache's style (`none` without one), for the context planner. */
  readonly cacheStyle: CacheStyle;
  private readonly steps: StepSource[];
  private readonly onExhausted: "error" | "repeat_last";
  private readonly cursors = new Map<string, number>();
  /** Plans of scripted steps by index, made on first use (see StepPlan). */
  private readonly plans: (StepPlan | undefined)[] = [];
  private readonly cache: PrefixCache | undefined;
  private readonly summarize: (request: ModelRequest) => string;
  private readonly window:
    | { readonly limit: number; readonly size: (request: ModelRequest) => number }
    | undefined;

  constructor(options: SimClientOptions) {
    const raw = options.script;
    const list: readonly (SimStepInput | SimStepFn | SimStep)[] = Array.isArray(raw)
      ? raw
      : (raw as { steps: readonly (SimStepInput | SimStepFn)[] }).steps;
    const declared = Array.isArray(raw)
      ? undefined
      : (raw as { onExhausted?: "error" | "repeat_last" }).onExhausted;
    this.onExhausted = declared ?? options.onExhausted ?? "error";
    this.steps = list.map((step, i) =>
      typeof step === "function" ? step : parseSimStep(step, `steps[${i}]`),
    );
    this.id = `sim:${options.name ?? "script"}`;
    this.cache =
      options.cache instanceof PrefixCache
        ? options.cache
        : options.cache
          ? new PrefixCache(options.cache)
          : undefined;
    this.cacheStyle = this.cache?.style ?? "none";
    this.summarize = options.summarize ?? simSummary;
    if (options.contextWindow !== undefined) {
      const sizer = new PrefixCache({ style: "openai" });
      this.window = { limit: options.contextWindow, size: (request) => sizer.size(request) };
    }
  }

  /**
   * Forgets the thread's place in the script (the engine calls this when it closes the
   * thread): a thread opened again later starts the script over, as it would in a new process.
   */
  release(threadId: string): void {
    this.cursors.delete(threadId);
  }

  /** How many model calls the given thread has made. */
  callsMade(threadId = ""): number {
    return this.cursors.get(threadId) ?? 0;
  }

  stream(request: ModelRequest, options?: StreamOptions): AsyncIterable<ModelEvent> {
    if (this.window) {
      const size = this.window.size(request);
      if (size > this.window.limit) {
        const error = modelError(
          "context_overflow",
          `prompt is too long: ${size} tokens > ${this.window.limit} maximum`,
          {
            status: 400,
          },
        );
        return new SimStream([{ type: "error", error }], [0], options?.signal);
      }
    }
    if (request.purpose === "compaction") {
      let text: string;
      try {
        text = this.summarize(request);
      } catch (err) {
        const error = modelError("invalid_request", `SimClient summarizer failed: ${(err as Error).message}`);
        return new SimStream([{ type: "error", error }], [0], options?.signal);
      }
      return this.play(request, -1, options?.signal, { text, delayMs: 0, chunkDelayMs: 0 });
    }
    const key = request.threadId ?? "";
    const index = this.cursors.get(key) ?? 0;
    this.cursors.set(key, index + 1);
    return this.play(request, index, options?.signal);
  }

  private resolveStep(request: ModelRequest, index: number): SimStep | string {
    let source = this.steps[index];
    if (source === undefined) {
      if (this.onExhausted === "error" || this.steps.length === 0) {
        return `SimClient script exhausted: call ${index + 1} but the script has ${this.steps.length} step(s)`;
      }
      source = this.steps[this.steps.length - 1] as StepSource;
    }
    if (typeof source !== "function") return source;
    try {
      const value = source(request, { index });
      return parseSimStep(value, `steps[${index}] (function result)`);
    } catch (err) {
      return `SimClient step ${index} failed: ${(err as Error).message}`;
    }
  }

  private play(
    request: ModelRequest,
    index: number,
    signal: AbortSignal | undefined,
    fixed?: SimStep,
  ): AsyncIterable<ModelEvent> {
    const step = fixed ?? this.resolveStep(request, index);
    if (typeof step !== "string" && step.events) {
      const events = step.events as unknown as ModelEvent[];
      return new SimStream(
        events,
        events.map((_, i) => (i === 0 ? step.delayMs : step.chunkDelayMs)),
        signal,
      );
    }
    if (typeof step === "string")
      return new SimStream([{ type: "error", error: modelError("invalid_request", step) }], [0], signal);
    // A scripted (not computed) step plans the same chunks on every call: plan it once.
    const cacheable = fixed === undefined && index < this.steps.length && this.steps[index] === step;
    let plan = cacheable ? this.plans[index] : undefined;
    if (!plan) {
      plan = planStep(step, index, this.id);
      if (cacheable) this.plans[index] = plan;
    }
    const events = plan.chunks.slice();
    if (step.error) events.push({ type: "error", error: simError(step.error) });
    else events.push({ type: "usage", usage: usageFor(step, request, plan, this.cache) }, plan.finish);
    return new SimStream(events, plan.delays, signal);
  }
}

/**
 * What a step plays, computed once per scripted step: its chunks (cut at `error.afterChunks`),
 * the delay before each event including the closing ones, and the sizes usage is estimated from.
 * Shared between calls, so never mutated.
 */
interface StepPlan {
  readonly chunks: readonly ModelEvent[];
  readonly delays: readonly number[];
  readonly finish: ModelEvent;
  readonly outChars: number;
  readonly reasoningChars: number;
}

function planStep(step: SimStep, index: number, modelId: string): StepPlan {
  const planned = planChunks(step, index);
  const chunks: ModelEvent[] = [];
  const delays: number[] = [];
  let outChars = 0;
  let reasoningChars = 0;
  const failAt = step.error ? step.error.afterChunks : -1;
  // Usage is estimated from every planned chunk, also those an error cuts off.
  planned.forEach((ev, i) => {
    if (ev.type === "text_delta" || ev.type === "tool_call_delta") outChars += ev.delta.length;
    else if (ev.type === "reasoning_delta") reasoningChars += ev.delta.length;
    if (failAt >= 0 && i >= failAt) return;
    chunks.push(ev);
    delays.push(i === 0 ? step.delayMs : step.chunkDelayMs);
  });
  // The closing events: an error, or usage then finish.
  delays.push(chunks.length === 0 ? step.delayMs : 0);
  if (!step.error) delays.push(0);
  const calls = step.toolCalls?.length ?? 0;
  // Like a provider, the simulator names its response: the model and the thread's call number.
  const finish: ModelEvent = {
    type: "finish",
    reason: step.finish ?? (calls > 0 ? "tool_calls" : "stop"),
    responseId: `${modelId}#${index + 1}`,
    responseModel: modelId.slice(modelId.indexOf(":") + 1),
  };
  return { chunks, delays, finish, outChars, reasoningChars };
}

function simError(e: NonNullable<SimStep["error"]>): ReturnType<typeof modelError> {
  const extra: { retryAfterMs?: number; status?: number } = {};
  if (e.retryAfterMs !== undefined) extra.retryAfterMs = e.retryAfterMs;
  if (e.status !== undefined) extra.status = e.status;
  return modelError(e.code, e.message, extra);
}

/** Splits text into word-sized chunks, keeping whitespace attached to the preceding word. */
export function wordChunks(text: string): string[] {
  const out = text.match(/\S+\s*|\s+/g);
  return out ?? [];
}

function toChunks(value: string | readonly string[] | undefined): readonly string[] {
  if (value === undefined) return [];
  return typeof value === "string" ? wordChunks(value) : value;
}

function planChunks(step: SimStep, stepIndex: number): ModelEvent[] {
  const events: ModelEvent[] = [];
  const reasoning = toChunks(step.reasoning);
  for (const delta of reasoning) events.push({ type: "reasoning_delta", delta });
  if (reasoning.length > 0) events.push({ type: "reasoning_end" });
  for (const delta of toChunks(step.text)) events.push({ type: "text_delta", delta });
  step.toolCalls?.forEach((call, i) => {
    const callId = call.id ?? `call_${stepIndex + 1}_${i + 1}`;
    const args = typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments);
    events.push({ type: "tool_call_start", callId, name: call.name });
    const pieces = Math.max(1, Math.min(call.chunks ?? 2, args.length));
    const size = Math.ceil(args.length / pieces);
    for (let at = 0; at < args.length; at += size) {
      events.push({ type: "tool_call_delta", callId, delta: args.slice(at, at + size) });
    }
    events.push({ type: "tool_call_end", callId });
  });
  return events;
}

function requestChars(request: ModelRequest): number {
  let chars = request.system.length;
  for (const tool of request.tools) chars += tool.name.length + tool.description.length;
  for (const item of request.items) {
    switch (item.type) {
      case "message":
        chars += messageText(item).length;
        break;
      case "reasoning":
        chars += item.text.length;
        break;
      case "function_call":
        chars += item.name.length + item.arguments.length;
        break;
      case "function_call_output":
        chars += toolOutputText(item.output).length;
        break;
      case "compaction":
        chars += item.summary.length;
        break;
    }
  }
  return chars;
}

function usageFor(
  step: SimStep,
  request: ModelRequest,
  plan: StepPlan,
  cache: PrefixCache | undefined,
): Usage {
  const given = step.usage ?? {};
  const cached = cache?.account(request);
  const reasoningTokens = given.reasoningTokens ?? Math.ceil(plan.reasoningChars / 4);
  return {
    inputTokens: given.inputTokens ?? cached?.inputTokens ?? Math.ceil(requestChars(request) / 4),
    cachedInputTokens: given.cachedInputTokens ?? cached?.cachedInputTokens ?? 0,
    cacheWriteTokens: given.cacheWriteTokens ?? cached?.cacheWriteTokens ?? 0,
    outputTokens: given.outputTokens ?? Math.ceil(plan.outChars / 4) + reasoningTokens,
    reasoningTokens,
  };
}
