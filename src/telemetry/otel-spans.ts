/**
 * The span bookkeeping of the OpenTelemetry layer: per thread, the spans open for its turn,
 * opened and ended from the engine's events. Internal to `src/telemetry/` (the public face is
 * OtelInstrumentation in otel.ts).
 */
import {
  type Attributes,
  type Context,
  context,
  ProxyTracerProvider,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import type { HookRunReport } from "../hooks/runner.ts";
import type { ModelRequest } from "../llm/types.ts";
import type { Event, EventMsgOf } from "../protocol/index.ts";
import type { Redactor } from "../redact/types.ts";
import { redactedJson } from "./content.ts";
import { chatEndAttributes, chatErrorType, childProgress, closeChat, openChat } from "./otel-chat.ts";
import { type OtelMetrics, providerName } from "./otel-metrics.ts";
import {
  endCompaction,
  endPermission,
  endSkill,
  hookSpan,
  notice,
  startCompaction,
  startPermission,
  startSkill,
} from "./otel-side-spans.ts";
import {
  type ChatState,
  type RequestTarget,
  type SpanStart,
  splitModel,
  type ThreadSpans,
  type ToolSpan,
  toolEndAttributes,
  turnEndAttributes,
} from "./otel-state.ts";
import { ATTR, OPERATION, SPAN_EVENT } from "./semconv.ts";

export type { ChatState, RequestTarget, SpanStart, ThreadSpans, ToolSpan };
export { splitModel };

/** The provider a ProxyTracerProvider falls back to while no SDK is registered. */
const NOOP_TRACING = new ProxyTracerProvider().getDelegate();

/** What a SpanRecorder works with. */
export interface SpanRecorderOptions {
  readonly tracerProvider: TracerProvider;
  readonly metrics: OtelMetrics | undefined;
  readonly redactor: Redactor;
  readonly capture: boolean;
  readonly agentName: string;
  readonly parentContext: ((threadId: string) => Context | undefined) | undefined;
}

/** Turns events into spans and metric records. Throws only on bugs or a broken SDK (the caller guards). */
export class SpanRecorder {
  readonly tracer: Tracer;
  readonly tracerProvider: TracerProvider;
  readonly metrics: OtelMetrics | undefined;
  readonly redactor: Redactor;
  readonly capture: boolean;
  readonly agentName: string;
  readonly parentContext: ((threadId: string) => Context | undefined) | undefined;
  readonly threads = new Map<string, ThreadSpans>();
  /** Open `chat` spans of child skill engines, by the child's thread id (see otel-chat.ts). */
  readonly childChats = new Map<string, { readonly owner: ThreadSpans; readonly chat: ChatState }>();
  private readonly starts = new Map<string, SpanStart>();

  constructor(options: SpanRecorderOptions, scope: string) {
    this.tracerProvider = options.tracerProvider;
    this.tracer = options.tracerProvider.getTracer(scope);
    this.metrics = options.metrics;
    this.redactor = options.redactor;
    this.capture = options.capture;
    this.agentName = options.agentName;
    this.parentContext = options.parentContext;
  }

  /**
   * The name and options of a span start under `key`, built by `build` on first use. The SDK
   * copies what it reads, so one object serves every span of that kind. Bounded: a host with
   * unbounded model or tool names rebuilds now and then.
   */
  start(key: string, build: () => SpanStart): SpanStart {
    let s = this.starts.get(key);
    if (!s) {
      if (this.starts.size >= 1024) this.starts.clear();
      s = build();
      this.starts.set(key, s);
    }
    return s;
  }

  /** Ends every open span (as unfinished) and forgets all threads; for a host shutting down. */
  endAll(): void {
    for (const state of this.threads.values()) this.closeTurn(state, "unfinished");
    this.threads.clear();
  }

  /** The span a provider request belongs to (its chat span, or the compaction's), if recording. */
  requestTarget(request: ModelRequest): RequestTarget | undefined {
    if (request.threadId === undefined) return undefined;
    const state = this.threads.get(request.threadId);
    if (request.purpose === "compaction") {
      const span = state?.compaction;
      return span?.isRecording() ? { span, chat: undefined } : undefined;
    }
    const chat = state?.chat ?? this.childChats.get(request.threadId)?.chat;
    return chat?.span.isRecording() ? { span: chat.span, chat } : undefined;
  }

  /** The thread's open spans (created on first use). */
  state(threadId: string): ThreadSpans {
    let state = this.threads.get(threadId);
    if (!state) {
      state = {
        threadId,
        turn: undefined,
        turnId: undefined,
        ended: false,
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

  /** Where a thread's next span hangs: its turn, else the host's context. */
  parent(state: ThreadSpans, threadId: string): Context {
    return state.turnCtx ?? this.parentContext?.(threadId) ?? context.active();
  }

  /** Applies one event: opens, annotates or ends spans and records metrics. */
  handle(event: Event): void {
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
        childProgress(this, event.threadId, msg);
        return;
      case "compaction_started":
        startCompaction(this, event.threadId, msg);
        return;
      case "compaction_completed":
        endCompaction(this, event.threadId, msg);
        return;
      case "permission_requested":
        startPermission(this, event.threadId, msg);
        return;
      case "permission_resolved":
        endPermission(this, event.threadId, msg);
        return;
      case "skill_started":
        startSkill(this, event.threadId, msg);
        return;
      case "skill_completed":
        endSkill(this, event.threadId, msg);
        return;
      case "warning":
      case "budget_warning":
        notice(this, event.threadId, msg);
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
    // What a sampler may use; the rest is set when the turn ends (the SDK validates start
    // attributes twice).
    const start = this.start(`turn\u0000${modelId}`, () => {
      const { provider, model } = splitModel(modelId);
      return {
        name: `${OPERATION.invokeAgent} ${this.agentName}`,
        options: {
          kind: SpanKind.INTERNAL,
          attributes: {
            [ATTR.operationName]: OPERATION.invokeAgent,
            [ATTR.providerName]: providerName(provider),
            [ATTR.agentName]: this.agentName,
            [ATTR.requestModel]: model,
          },
        },
      };
    });
    state.turnId = turnId;
    const parent = this.parent(state, threadId);
    const span = this.tracer.startSpan(start.name, start.options, parent);
    state.turn = span;
    state.quiet = !span.isRecording();
    state.turnCtx = state.quiet ? undefined : trace.setSpan(parent, span);
  }

  private startChat(threadId: string, modelId: string, step: number): void {
    const state = this.state(threadId);
    if (state.quiet) return;
    if (state.chat) state.chat.span.end();
    state.chat = openChat(this, modelId, step, threadId, this.parent(state, threadId));
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
    const errorType = chatErrorType(msg);
    this.metrics?.modelCall(msg, errorType);
    if (!state || !chat) return;
    state.chat = undefined;
    closeChat(this, chat, msg, errorType);
  }

  /** Internal (otel-chat.ts forwards child calls here). */
  startTool(
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
    const start = this.start(`tool\u0000${name}`, () => ({
      name: `${OPERATION.executeTool} ${name}`,
      options: {
        kind: SpanKind.INTERNAL,
        attributes: { [ATTR.operationName]: OPERATION.executeTool, [ATTR.toolName]: name },
      },
    }));
    const span = this.tracer.startSpan(start.name, start.options, parent ?? this.parent(state, threadId));
    if (this.capture && span.isRecording())
      span.setAttribute(ATTR.toolCallArguments, redactedJson(input, this.redactor));
    state.tools ??= new Map();
    state.tools.set(key, { span, callId, conversation: threadId });
  }

  /** Internal (otel-chat.ts forwards child calls here). */
  endTool(threadId: string, msg: EventMsgOf<"tool_call_completed">, key = msg.callId): void {
    this.metrics?.toolCall(msg.name, msg.status);
    const tools = this.threads.get(threadId)?.tools;
    const tool = tools?.get(key);
    if (!tools || !tool) return;
    tools.delete(key);
    const span = tool.span;
    if (span.isRecording()) {
      const attrs = toolEndAttributes(tool);
      attrs[ATTR.toolStatus] = msg.status;
      if (this.capture) attrs[ATTR.toolCallResult] = redactedJson(msg.output, this.redactor);
      if (msg.status !== "ok") attrs[ATTR.errorType] = msg.status;
      span.setAttributes(attrs);
      if (msg.status !== "ok") span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
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
      const attrs = turnEndAttributes(state, threadId);
      attrs[ATTR.turnOutcome] = outcome;
      attrs[ATTR.turnSteps] = msg.steps;
      attrs[ATTR.usageInputTokens] = u.inputTokens;
      attrs[ATTR.usageOutputTokens] = u.outputTokens;
      if (u.cachedInputTokens > 0) attrs[ATTR.usageCacheReadTokens] = u.cachedInputTokens;
      if (u.cacheWriteTokens > 0) attrs[ATTR.usageCacheWriteTokens] = u.cacheWriteTokens;
      if (msg.type !== "turn_aborted" && msg.costUsd !== undefined) attrs[ATTR.costUsd] = msg.costUsd;
      if (msg.type === "turn_failed") attrs[ATTR.errorType] = msg.error.code;
      else if (msg.type === "turn_aborted") attrs[ATTR.errorType] = `aborted_${msg.reason}`;
      span.setAttributes(attrs);
      if (msg.type === "turn_failed")
        span.setStatus({ code: SpanStatusCode.ERROR, message: this.redactor.redact(msg.error.message) });
      else if (msg.type === "turn_aborted")
        span.setStatus({ code: SpanStatusCode.ERROR, message: msg.message });
    }
    state.ended = true;
    this.closeTurn(state, undefined);
  }

  /** Ends the turn span and anything left open under it. */
  private closeTurn(state: ThreadSpans, unfinished: string | undefined): void {
    const orphan = (span: Span, attrs?: Attributes) => {
      if (attrs) span.setAttributes(attrs);
      span.setStatus({ code: SpanStatusCode.ERROR, message: "ended with its turn" });
      span.end();
    };
    if (state.chat) orphan(state.chat.span, chatEndAttributes(state.chat));
    if (state.compaction) orphan(state.compaction);
    if (state.tools) for (const tool of state.tools.values()) orphan(tool.span, toolEndAttributes(tool));
    if (state.permissions) for (const span of state.permissions.values()) orphan(span);
    if (state.skills) for (const stack of state.skills.values()) for (const span of stack) orphan(span);
    for (const [child, open] of this.childChats)
      if (open.owner === state) {
        this.childChats.delete(child);
        orphan(open.chat.span, chatEndAttributes(open.chat));
      }
    if (state.turn) {
      if (!state.ended) state.turn.setAttributes(turnEndAttributes(state, state.threadId));
      if (unfinished) state.turn.setStatus({ code: SpanStatusCode.ERROR, message: unfinished });
      state.turn.end();
    }
    state.turn = undefined;
    state.turnId = undefined;
    state.ended = false;
    state.turnCtx = undefined;
    state.quiet = false;
    state.chat = undefined;
    state.compaction = undefined;
    state.tools = undefined;
    state.permissions = undefined;
    state.skills = undefined;
  }

  /** One `taifeng.hook` span per hook that ran. */
  onHook(report: HookRunReport): void {
    hookSpan(this, report);
  }
}
