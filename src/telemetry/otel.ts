/**
 * OpenTelemetry traces and metrics from the engine's events, following the GenAI semantic
 * conventions (names in semconv.ts). Depends only on `@opentelemetry/api`: the host owns the
 * SDK, its processors and exporters.
 */
import {
  type Context,
  createNoopMeter,
  type MeterProvider,
  metrics,
  type TextMapPropagator,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import type { HookObserver } from "../hooks/runner.ts";
import type { ModelClient, ModelEvent, ModelRequest, StreamOptions } from "../llm/types.ts";
import type { EngineOptions } from "../loop/engine-options.ts";
import type { EventListener, ListenerContext } from "../loop/event-hub.ts";
import { defaultRedactor } from "../redact/redactor.ts";
import type { Redactor } from "../redact/types.ts";
import { inputMessages, systemInstructions } from "./content.ts";
import { OtelMetrics } from "./otel-metrics.ts";
import { type RequestTarget, SpanRecorder } from "./otel-spans.ts";
import { ATTR, SCOPE_NAME, STABILITY_OPT_IN } from "./semconv.ts";
import { traceHeaders } from "./traceparent.ts";

/** Options of `createOtel`. */
export interface OtelOptions {
  /**
   * Every string that leaves through a span attribute or event passes through it. Default:
   * `defaultRedactor()` (secret-looking environment values and well-known token formats).
   */
  readonly redactor?: Redactor;
  /** Where spans go. Default: the global provider of `@opentelemetry/api` (no-op until a host registers one). */
  readonly tracerProvider?: TracerProvider;
  /**
   * Where metrics go. Default: the global meter provider as it is when `createOtel` runs (the
   * metrics API has no proxy: register the SDK first). A no-op meter costs nothing per event.
   */
  readonly meterProvider?: MeterProvider;
  /**
   * Record message content (prompts, answers, tool arguments and results), redacted. Needs
   * `OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental` in `env` as well. Default false.
   */
  readonly captureContent?: boolean;
  /** Read for the content opt-in. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** `gen_ai.agent.name` of every turn's `invoke_agent` span. Default `taifeng`. */
  readonly agentName?: string;
  /** Writes trace context into provider requests. Default: W3C `traceparent`/`tracestate`. */
  readonly propagator?: TextMapPropagator;
  /** The parent of a thread's turn spans. Default: the active context when the turn starts. */
  readonly parentContext?: (threadId: string) => Context | undefined;
}

/**
 * The OpenTelemetry layer. Its `listener` runs inline on the event bus (span bookkeeping is
 * in-memory; the host's span processor batches and exports off the turn): it must see
 * `model_call_started` before the provider request leaves, so that `wrapModel` can put the
 * call's trace context into it. A failure inside it becomes one `warning`
 * (`telemetry_failed`), never a failed turn.
 */
export class OtelInstrumentation {
  /** Attach to engines or a pool (`listeners`). */
  readonly listener: EventListener;
  /** Attach as `hooks.observer`: one `taifeng.hook` span per hook that ran. */
  readonly hookObserver: HookObserver;
  private readonly spans: SpanRecorder;
  private readonly redactor: Redactor;
  private readonly capture: boolean;
  private readonly propagator: TextMapPropagator | undefined;
  private warned = false;

  constructor(options: OtelOptions) {
    this.redactor = options.redactor ?? defaultRedactor();
    const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE_NAME);
    const env = options.env ?? process.env;
    const optIn = (env[STABILITY_OPT_IN.variable] ?? "").split(",").map((s) => s.trim());
    this.capture = options.captureContent === true && optIn.includes(STABILITY_OPT_IN.value);
    this.propagator = options.propagator;
    this.spans = new SpanRecorder(
      {
        tracerProvider: options.tracerProvider ?? trace.getTracerProvider(),
        // The API's no-op meter: no metric work at all.
        metrics: meter === createNoopMeter() ? undefined : new OtelMetrics(meter),
        redactor: this.redactor,
        capture: this.capture,
        agentName: options.agentName ?? "taifeng",
        parentContext: options.parentContext,
      },
      SCOPE_NAME,
    );
    const spans = this.spans;
    this.listener = (event, ctx) => {
      try {
        spans.handle(event);
      } catch (err) {
        this.fail(err, ctx);
      }
    };
    this.hookObserver = (report) => {
      try {
        spans.onHook(report);
      } catch {
        // A hook span is not worth a warning of its own; the listener reports a broken SDK.
      }
    };
  }

  /** True when message content is recorded (the option and the environment opt-in both set). */
  get capturesContent(): boolean {
    return this.capture;
  }

  /**
   * Wraps a model so that each request carries the trace context of its `chat` span (W3C
   * `traceparent` by default) and, with content capture, records the prompt on the span.
   * Costs nothing when no span is recording.
   */
  wrapModel(client: ModelClient): ModelClient {
    const stream = (request: ModelRequest, options?: StreamOptions) => {
      const target = this.spans.requestTarget(request);
      if (!target) return client.stream(request, options);
      const span = target.span;
      if (request.maxOutputTokens !== undefined)
        span.setAttribute(ATTR.requestMaxTokens, request.maxOutputTokens);
      if (request.temperature !== undefined) span.setAttribute(ATTR.requestTemperature, request.temperature);
      if (this.capture && request.purpose !== "compaction") {
        span.setAttribute(ATTR.inputMessages, inputMessages(request.items, this.redactor));
        if (request.system !== "")
          span.setAttribute(ATTR.systemInstructions, systemInstructions(request.system, this.redactor));
      }
      const headers = traceHeaders(span, this.propagator, options?.headers);
      return recordResponse(client.stream(request, options ? { ...options, headers } : { headers }), target);
    };
    const wrapped: ModelClient = { id: client.id, stream };
    if (client.release) return { ...wrapped, release: (threadId) => client.release?.(threadId) };
    return wrapped;
  }

  /**
   * Engine (or pool) options with this layer attached: the listener, the wrapped model and
   * model resolver, and the hook observer when hooks are configured.
   */
  instrument<T extends Pick<EngineOptions, "model" | "resolveModel" | "listeners" | "hooks">>(options: T): T {
    const resolve = options.resolveModel;
    return {
      ...options,
      model: this.wrapModel(options.model),
      ...(resolve ? { resolveModel: async (spec: string) => this.wrapModel(await resolve(spec)) } : {}),
      listeners: [...(options.listeners ?? []), this.listener],
      ...(options.hooks ? { hooks: { ...options.hooks, observer: this.hookObserver } } : {}),
    };
  }

  /** Ends every open span (as unfinished) and forgets all threads; for a host shutting down. */
  endAll(): void {
    this.spans.endAll();
  }

  private fail(err: unknown, ctx: ListenerContext): void {
    if (this.warned) return;
    this.warned = true;
    ctx.emit({
      type: "warning",
      code: "telemetry_failed",
      message: `the OpenTelemetry layer failed and skips what it cannot record: ${(err as Error)?.message ?? String(err)}`,
    });
  }
}

/**
 * Passes a stream through, keeping its response id and model for the call's span (a chat span
 * sets them with its outcome, in one call; a compaction span at once).
 */
function recordResponse(stream: AsyncIterable<ModelEvent>, target: RequestTarget): AsyncIterable<ModelEvent> {
  return {
    [Symbol.asyncIterator]() {
      const it = stream[Symbol.asyncIterator]();
      const seen = (r: IteratorResult<ModelEvent>) => {
        const ev = r.value as ModelEvent | undefined;
        if (!r.done && ev?.type === "finish") {
          const chat = target.chat;
          if (chat) {
            chat.responseId = ev.responseId;
            chat.responseModel = ev.responseModel;
          } else {
            if (ev.responseId !== undefined) target.span.setAttribute(ATTR.responseId, ev.responseId);
            if (ev.responseModel !== undefined)
              target.span.setAttribute(ATTR.responseModel, ev.responseModel);
          }
        }
        return r;
      };
      return {
        next: () => it.next().then(seen),
        return: (value?: unknown) =>
          it.return ? it.return(value) : Promise.resolve({ done: true as const, value: undefined }),
      };
    },
  };
}

/** Creates the OpenTelemetry layer. See OtelInstrumentation. */
export function createOtel(options: OtelOptions = {}): OtelInstrumentation {
  return new OtelInstrumentation(options);
}
