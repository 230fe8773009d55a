/**
 * OpenTelemetry traces and metrics from the engine's events, following the GenAI semantic
 * conventions (names in semconv.ts). Depends only on `@opentelemetry/api`: the host owns the
 * SDK, its processors and exporters.
 */
import {
  type Context,
  context,
  createNoopMeter,
  type MeterProvider,
  metrics,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapPropagator,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import type { HookObserver, HookRunReport } from "../hooks/runner.ts";
import type { ModelClient, ModelRequest, StreamOptions } from "../llm/types.ts";
import type { EngineOptions } from "../loop/engine-options.ts";
import type { EventListener, ListenerContext } from "../loop/event-hub.ts";
import type { Event, EventMsgOf } from "../protocol/index.ts";
import { defaultRedactor } from "../redact/redactor.ts";
import type { Redactor } from "../redact/types.ts";
import { inputMessages, outputMessages, redactedJson, systemInstructions } from "./content.ts";
import { OtelMetrics, providerName } from "./otel-metrics.ts";
import { ATTR, OPERATION, SCOPE_NAME, SPAN_EVENT, STABILITY_OPT_IN } from "./semconv.ts";
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

interface ChatState {
  readonly span: Span;
  readonly model: string;
  readonly started: number;
  text: string;
  calls: { id: string; name: string; arguments: string }[] | undefined;
}

/** What is open on one thread. */
interface ThreadSpans {
  turn: Span | undefined;
  turnCtx: Context | undefined;
  /**
   * The turn's span is not recording (no SDK, or not sampled): its children are skipped, since
   * under a parent-based sampler they would not record either. Metrics are still recorded.
   */
  quiet: boolean;
  chat: ChatState | undefined;
  compaction: Span | undefined;
  tools: Map<string, Span> | undefined;
  permissions: Map<string, Span> | undefined;
  /** Open skill spans per root call id, innermost last. */
  skills: Map<string, Span[]> | undefined;
}

/** The provider a ProxyTracerProvider falls back to while no SDK is registered. */
const NOOP_TRACING = new ProxyTracerProvider().getDelegate();

/** The part of a model id before the colon, and the rest. */
function splitModel(id: string): { provider: string; model: string } {
  const i = id.indexOf(":");
  return i < 0 ? { provider: id, model: id } : { provider: id.slice(0, i), model: id.slice(i + 1) };
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
  private readonly tracer: Tracer;
  private readonly tracerProvider: TracerProvider;
  /** Undefined when the meter is the API's no-op: then no metric work is done at all. */
  private readonly metrics: OtelMetrics | undefined;
  private readonly redactor: Redactor;
  private readonly capture: boolean;
  private readonly agentName: string;
  private readonly propagator: TextMapPropagator | undefined;
  private readonly parentContext: ((threadId: string) => Context | undefined) | undefined;
  private readonly threads = new Map<string, ThreadSpans>();
  private warned = false;

  constructor(options: OtelOptions) {
    this.redactor = options.redactor ?? defaultRedactor();
    this.tracerProvider = options.tracerProvider ?? trace.getTracerProvider();
    this.tracer = this.tracerProvider.getTracer(SCOPE_NAME);
    const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE_NAME);
    this.metrics = meter === createNoopMeter() ? undefined : new OtelMetrics(meter);
    const env = options.env ?? process.env;
    const optIn = (env[STABILITY_OPT_IN.variable] ?? "").split(",").map((s) => s.trim());
    this.capture = options.captureContent === true && optIn.includes(STABILITY_OPT_IN.value);
    this.agentName = options.agentName ?? "taifeng";
    this.propagator = options.propagator;
    this.parentContext = options.parentContext;
    this.listener = (event, ctx) => {
      try {
        this.handle(event);
      } catch (err) {
        this.fail(err, ctx);
      }
    };
    this.hookObserver = (report) => this.onHook(report);
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
      const span = this.requestSpan(request);
      if (!span) return client.stream(request, options);
      if (request.maxOutputTokens !== undefined)
        span.setAttribute(ATTR.requestMaxTokens, request.maxOutputTokens);
      if (request.temperature !== undefined) span.setAttribute(ATTR.requestTemperature, request.temperature);
      if (this.capture && request.purpose !== "compaction") {
        span.setAttribute(ATTR.inputMessages, inputMessages(request.items, this.redactor));
        if (request.system !== "")
          span.setAttribute(ATTR.systemInstructions, systemInstructions(request.system, this.redactor));
      }
      const headers = traceHeaders(span, this.propagator, options?.headers);
      return client.stream(request, options ? { ...options, headers } : { headers });
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
    for (const state of this.threads.values()) this.closeTurn(state, "unfinished");
    this.threads.clear();
  }

  private requestSpan(request: ModelRequest): Span | undefined {
    if (request.threadId === undefined) return undefined;
    const state = this.threads.get(request.threadId);
    const span = request.purpose === "compaction" ? state?.compaction : state?.chat?.span;
    return span?.isRecording() ? span : undefined;
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

  private state(threadId: string): ThreadSpans {
    let state = this.threads.get(threadId);
    if (!state) {
      state = {
        turn: undefined,
        turnCtx: undefined,
        quiet: false,
        chat: undefined,
        compaction: undefined,
        tools: undefined,
        permissions: undefined,
        skills: undefined,
      };
      this.threads.set(threadId, state);
    }
    return state;
  }

  private parent(state: ThreadSpans, threadId: string): Context {
    return state.turnCtx ?? this.parentContext?.(threadId) ?? context.active();
  }

  private handle(event: Event): void {
    const msg = event.msg;
    switch (msg.type) {
      case "turn_started":
        this.startTurn(event.threadId, msg.model, event.turnId);
        return;
      case "model_call_started":
        this.startChat(event.threadId, msg.model, msg.step);
        return;
      case "model_retry":
        this.retry(event.threadId, msg);
        return;
      case "assistant_message": {
        const chat = this.threads.get(event.threadId)?.chat;
        if (chat && this.capture) chat.text = msg.text;
        return;
      }
      case "model_call_completed":
        this.endChat(event.threadId, msg);
        return;
      case "tool_call_started":
        this.startTool(event.threadId, msg.callId, msg.name, msg.input, undefined);
        return;
      case "tool_call_completed":
        this.endTool(event.threadId, msg);
        return;
      case "tool_call_progress":
        this.childProgress(event.threadId, msg);
        return;
      case "compaction_started":
        this.startCompaction(event.threadId, msg);
        return;
      case "compaction_completed":
        this.endCompaction(event.threadId, msg);
        return;
      case "permission_requested":
        this.startPermission(event.threadId, msg);
        return;
      case "permission_resolved":
        this.endPermission(event.threadId, msg);
        return;
      case "skill_started":
        this.startSkill(event.threadId, msg);
        return;
      case "skill_completed":
        this.endSkill(event.threadId, msg);
        return;
      case "warning":
      case "budget_warning":
        this.notice(event.threadId, msg);
        return;
      case "turn_completed":
      case "turn_failed":
      case "turn_aborted":
        this.endTurn(event.threadId, msg);
        return;
      case "shutdown_complete": {
        const state = this.threads.get(event.threadId);
        if (state) this.closeTurn(state, "unfinished");
        this.threads.delete(event.threadId);
        return;
      }
      default:
        return;
    }
  }

  private startTurn(threadId: string, modelId: string, turnId: string | undefined): void {
    const state = this.state(threadId);
    if (state.turn) this.closeTurn(state, "unfinished");
    const tp = this.tracerProvider;
    if (tp instanceof ProxyTracerProvider && tp.getDelegate() === NOOP_TRACING) {
      // No SDK registered (yet): nothing would record, so build nothing.
      state.quiet = true;
      return;
    }
    const { provider, model } = splitModel(modelId);
    const attributes: Record<string, string> = {
      [ATTR.operationName]: OPERATION.invokeAgent,
      [ATTR.providerName]: providerName(provider),
      [ATTR.agentName]: this.agentName,
      [ATTR.conversationId]: threadId,
      [ATTR.requestModel]: model,
    };
    if (turnId !== undefined) attributes[ATTR.turnId] = turnId;
    const parent = this.parent(state, threadId);
    const span = this.tracer.startSpan(
      `${OPERATION.invokeAgent} ${this.agentName}`,
      { kind: SpanKind.INTERNAL, attributes },
      parent,
    );
    state.turn = span;
    state.quiet = !span.isRecording();
    state.turnCtx = state.quiet ? undefined : trace.setSpan(parent, span);
  }

  private startChat(threadId: string, modelId: string, step: number): void {
    const state = this.state(threadId);
    if (state.quiet) return;
    if (state.chat) state.chat.span.end();
    const { provider, model } = splitModel(modelId);
    const span = this.tracer.startSpan(
      `${OPERATION.chat} ${model}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR.operationName]: OPERATION.chat,
          [ATTR.providerName]: providerName(provider),
          [ATTR.requestModel]: model,
          [ATTR.conversationId]: threadId,
          [ATTR.requestStream]: true,
          [ATTR.step]: step,
        },
      },
      this.parent(state, threadId),
    );
    state.chat = { span, model: modelId, started: performance.now(), text: "", calls: undefined };
  }

  private retry(threadId: string, msg: EventMsgOf<"model_retry">): void {
    const chat = this.threads.get(threadId)?.chat;
    if (!chat) return;
    const fallback = msg.delayMs === 0 && msg.error.message.includes("falling back to");
    chat.span.addEvent(fallback ? SPAN_EVENT.fallback : SPAN_EVENT.retry, {
      [ATTR.retryAttempt]: msg.attempt,
      [ATTR.retryDelayMs]: msg.delayMs,
      [ATTR.errorType]: msg.error.code,
      "exception.message": this.redactor.redact(msg.error.message),
    });
  }

  private endChat(threadId: string, msg: EventMsgOf<"model_call_completed">): void {
    const state = this.threads.get(threadId);
    const chat = state?.chat;
    const errorType = msg.error?.code ?? (msg.finishReason === "error" ? "unknown" : undefined);
    if (this.metrics) {
      const { provider, model } = splitModel(msg.model);
      this.metrics.modelCall(provider, model, msg, errorType);
    }
    if (!state || !chat) return;
    state.chat = undefined;
    const span = chat.span;
    if (span.isRecording()) {
      const u = msg.usage;
      span.setAttributes({
        [ATTR.responseFinishReasons]: [msg.finishReason],
        [ATTR.usageInputTokens]: u.inputTokens,
        [ATTR.usageOutputTokens]: u.outputTokens,
      });
      // Absent means zero: every attribute costs the SDK a validation and the exporter bytes.
      if (u.cachedInputTokens > 0) span.setAttribute(ATTR.usageCacheReadTokens, u.cachedInputTokens);
      if (u.cacheWriteTokens > 0) span.setAttribute(ATTR.usageCacheWriteTokens, u.cacheWriteTokens);
      if (u.reasoningTokens > 0) span.setAttribute(ATTR.usageReasoningTokens, u.reasoningTokens);
      if (msg.costUsd !== undefined) span.setAttribute(ATTR.costUsd, msg.costUsd);
      if (this.capture)
        span.setAttribute(
          ATTR.outputMessages,
          outputMessages(chat.text, chat.calls ?? [], msg.finishReason, this.redactor),
        );
      if (errorType !== undefined) {
        span.setAttribute(ATTR.errorType, errorType);
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: this.redactor.redact(msg.error?.message ?? "the model call failed"),
        });
      }
    }
    span.end();
  }

  private startTool(
    threadId: string,
    callId: string,
    name: string,
    input: unknown,
    parent: Context | undefined,
    key = callId,
  ): void {
    const state = this.state(threadId);
    if (state.quiet) return;
    const chat = state.chat;
    if (chat && this.capture) {
      chat.calls ??= [];
      chat.calls.push({ id: callId, name, arguments: JSON.stringify(input) ?? "" });
    }
    const span = this.tracer.startSpan(
      `${OPERATION.executeTool} ${name}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          [ATTR.operationName]: OPERATION.executeTool,
          [ATTR.toolName]: name,
          [ATTR.toolCallId]: callId,
          [ATTR.toolType]: "function",
          [ATTR.conversationId]: threadId,
        },
      },
      parent ?? this.parent(state, threadId),
    );
    if (this.capture && span.isRecording())
      span.setAttribute(ATTR.toolCallArguments, redactedJson(input, this.redactor));
    state.tools ??= new Map();
    state.tools.set(key, span);
  }

  private endTool(threadId: string, msg: EventMsgOf<"tool_call_completed">, key = msg.callId): void {
    this.metrics?.toolCall(msg.name, msg.status);
    const tools = this.threads.get(threadId)?.tools;
    const span = tools?.get(key);
    if (!tools || !span) return;
    tools.delete(key);
    if (span.isRecording()) {
      span.setAttribute(ATTR.toolStatus, msg.status);
      if (this.capture) span.setAttribute(ATTR.toolCallResult, redactedJson(msg.output, this.redactor));
      if (msg.status !== "ok") {
        span.setAttribute(ATTR.errorType, msg.status);
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
    }
    span.end();
  }

  /** A child skill's tool calls, forwarded to the root call as progress. */
  private childProgress(threadId: string, msg: EventMsgOf<"tool_call_progress">): void {
    const data = msg.data as { skill?: unknown; event?: { type?: unknown } } | null;
    const inner = data?.event as EventMsgOf<"tool_call_started" | "tool_call_completed"> | undefined;
    if (typeof data?.skill !== "string" || !inner) return;
    if (inner.type === "tool_call_started") {
      const skill = this.threads.get(threadId)?.skills?.get(msg.callId)?.at(-1);
      const parent = skill ? trace.setSpan(ROOT_CONTEXT, skill) : undefined;
      // A child's call ids are its own thread's: key them under the root call.
      this.startTool(
        threadId,
        inner.callId,
        inner.name,
        inner.input,
        parent,
        `${msg.callId}/${inner.callId}`,
      );
    } else if (inner.type === "tool_call_completed")
      this.endTool(threadId, inner, `${msg.callId}/${inner.callId}`);
  }

  private startCompaction(threadId: string, msg: EventMsgOf<"compaction_started">): void {
    const state = this.state(threadId);
    if (state.quiet) return;
    state.compaction?.end();
    state.compaction = this.tracer.startSpan(
      `${OPERATION.compaction} ${msg.strategy}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          [ATTR.operationName]: OPERATION.compaction,
          [ATTR.compactionStrategy]: msg.strategy,
          [ATTR.compactionTrigger]: msg.trigger,
          [ATTR.compactionTokensBefore]: msg.tokensBefore,
          [ATTR.conversationId]: threadId,
        },
      },
      this.parent(state, threadId),
    );
  }

  private endCompaction(threadId: string, msg: EventMsgOf<"compaction_completed">): void {
    this.metrics?.compaction(msg.strategy, msg.trigger);
    const state = this.threads.get(threadId);
    const span = state?.compaction;
    if (!state || !span) return;
    state.compaction = undefined;
    span.setAttributes({
      [ATTR.compactionTokensAfter]: msg.tokensAfter,
      [ATTR.compactionCachedInvalidated]: msg.cachedTokensInvalidated,
    });
    if (msg.usage) {
      span.setAttribute(ATTR.usageInputTokens, msg.usage.inputTokens);
      span.setAttribute(ATTR.usageOutputTokens, msg.usage.outputTokens);
    }
    span.end();
  }

  private startPermission(threadId: string, msg: EventMsgOf<"permission_requested">): void {
    const state = this.state(threadId);
    if (state.quiet) return;
    const tool = state.tools?.get(msg.callId);
    const span = this.tracer.startSpan(
      `${OPERATION.permissionWait} ${msg.tool}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          [ATTR.operationName]: OPERATION.permissionWait,
          [ATTR.permissionTool]: msg.tool,
          [ATTR.toolCallId]: msg.callId,
          [ATTR.conversationId]: threadId,
        },
      },
      tool ? trace.setSpan(ROOT_CONTEXT, tool) : this.parent(state, threadId),
    );
    state.permissions ??= new Map();
    state.permissions.set(msg.requestId, span);
  }

  private endPermission(threadId: string, msg: EventMsgOf<"permission_resolved">): void {
    const perms = this.threads.get(threadId)?.permissions;
    const span = perms?.get(msg.requestId);
    if (!perms || !span) return;
    perms.delete(msg.requestId);
    span.setAttributes({ [ATTR.permissionDecision]: msg.decision, [ATTR.permissionBy]: msg.by });
    span.end();
  }

  private startSkill(threadId: string, msg: EventMsgOf<"skill_started">): void {
    const state = this.state(threadId);
    if (state.quiet) return;
    const key = msg.callId ?? "";
    state.skills ??= new Map();
    const stack = state.skills.get(key) ?? [];
    const above = stack.at(-1) ?? (msg.callId !== undefined ? state.tools?.get(msg.callId) : undefined);
    const span = this.tracer.startSpan(
      `${OPERATION.invokeAgent} ${msg.name}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: {
          [ATTR.operationName]: OPERATION.invokeAgent,
          [ATTR.agentName]: msg.name,
          [ATTR.skillName]: msg.name,
          [ATTR.skillDepth]: msg.depth,
          [ATTR.conversationId]: threadId,
        },
      },
      above ? trace.setSpan(ROOT_CONTEXT, above) : this.parent(state, threadId),
    );
    stack.push(span);
    state.skills.set(key, stack);
  }

  private endSkill(threadId: string, msg: EventMsgOf<"skill_completed">): void {
    const skills = this.threads.get(threadId)?.skills;
    const stack = skills?.get(msg.callId ?? "");
    const span = stack?.pop();
    if (!skills || !stack || !span) return;
    if (stack.length === 0) skills.delete(msg.callId ?? "");
    span.setAttribute(ATTR.skillOk, msg.ok);
    if (msg.usage) {
      span.setAttribute(ATTR.usageInputTokens, msg.usage.inputTokens);
      span.setAttribute(ATTR.usageOutputTokens, msg.usage.outputTokens);
    }
    if (!msg.ok) {
      span.setAttribute(ATTR.errorType, msg.error === "aborted" ? "aborted" : "skill_failed");
      span.setStatus({ code: SpanStatusCode.ERROR, message: this.redactor.redact(msg.error ?? "") });
    }
    span.end();
  }

  private notice(threadId: string, msg: EventMsgOf<"warning" | "budget_warning">): void {
    const span = this.threads.get(threadId)?.turn;
    if (!span?.isRecording()) return;
    if (msg.type === "warning")
      span.addEvent(SPAN_EVENT.warning, {
        [ATTR.warningCode]: msg.code,
        "exception.message": this.redactor.redact(msg.message),
      });
    else
      span.addEvent(SPAN_EVENT.budgetWarning, {
        scope: msg.scope,
        unit: msg.unit,
        threshold: msg.threshold,
        used: msg.used,
        limit: msg.limit,
      });
  }

  private endTurn(
    threadId: string,
    msg: EventMsgOf<"turn_completed" | "turn_failed" | "turn_aborted">,
  ): void {
    const outcome =
      msg.type === "turn_completed" ? "completed" : msg.type === "turn_failed" ? "failed" : "aborted";
    this.metrics?.turn(outcome, msg.usage);
    const state = this.threads.get(threadId);
    const span = state?.turn;
    if (!state || !span) return;
    if (span.isRecording()) {
      const u = msg.usage;
      span.setAttributes({
        [ATTR.turnOutcome]: outcome,
        [ATTR.turnSteps]: msg.steps,
        [ATTR.usageInputTokens]: u.inputTokens,
        [ATTR.usageOutputTokens]: u.outputTokens,
      });
      if (u.cachedInputTokens > 0) span.setAttribute(ATTR.usageCacheReadTokens, u.cachedInputTokens);
      if (u.cacheWriteTokens > 0) span.setAttribute(ATTR.usageCacheWriteTokens, u.cacheWriteTokens);
      if (msg.type !== "turn_aborted" && msg.costUsd !== undefined)
        span.setAttribute(ATTR.costUsd, msg.costUsd);
      if (msg.type === "turn_failed") {
        span.setAttribute(ATTR.errorType, msg.error.code);
        span.setStatus({ code: SpanStatusCode.ERROR, message: this.redactor.redact(msg.error.message) });
      } else if (msg.type === "turn_aborted") {
        span.setAttribute(ATTR.errorType, `aborted_${msg.reason}`);
        span.setStatus({ code: SpanStatusCode.ERROR, message: msg.message });
      }
    }
    this.closeTurn(state, undefined);
  }

  /** Ends the turn span and anything left open under it. */
  private closeTurn(state: ThreadSpans, unfinished: string | undefined): void {
    const orphan = (span: Span) => {
      span.setStatus({ code: SpanStatusCode.ERROR, message: "ended with its turn" });
      span.end();
    };
    if (state.chat) orphan(state.chat.span);
    if (state.compaction) orphan(state.compaction);
    if (state.tools) for (const span of state.tools.values()) orphan(span);
    if (state.permissions) for (const span of state.permissions.values()) orphan(span);
    if (state.skills) for (const stack of state.skills.values()) for (const span of stack) orphan(span);
    if (state.turn) {
      if (unfinished) state.turn.setStatus({ code: SpanStatusCode.ERROR, message: unfinished });
      state.turn.end();
    }
    state.turn = undefined;
    state.turnCtx = undefined;
    state.quiet = false;
    state.chat = undefined;
    state.compaction = undefined;
    state.tools = undefined;
    state.permissions = undefined;
    state.skills = undefined;
  }

  private onHook(report: HookRunReport): void {
    const state = this.threads.get(report.threadId);
    if (state?.quiet) return;
    const span = this.tracer.startSpan(
      `${OPERATION.hook} ${report.point}`,
      {
        kind: SpanKind.INTERNAL,
        startTime: report.startedAt,
        attributes: {
          [ATTR.operationName]: OPERATION.hook,
          [ATTR.hookPoint]: report.point,
          [ATTR.hookName]: this.redactor.redact(report.hook),
          [ATTR.hookOutcome]: report.outcome,
          [ATTR.conversationId]: report.threadId,
        },
      },
      (state && this.parent(state, report.threadId)) ?? context.active(),
    );
    if (report.outcome === "failed") {
      span.setAttribute(ATTR.errorType, "hook_failed");
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end(report.startedAt + report.durationMs);
  }
}

/** Creates the OpenTelemetry layer. See OtelInstrumentation. */
export function createOtel(options: OtelOptions = {}): OtelInstrumentation {
  return new OtelInstrumentation(options);
}
