/**
 * `chat {model}` spans: one per model call, the turn's own and those of child skill engines
 * (whose calls reach the parent as forwarded progress and hang under the skill's span).
 * Internal to `src/telemetry/`.
 */
import {
  type Attributes,
  type Context,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { EventMsgOf } from "../protocol/index.ts";
import { outputMessages } from "./content.ts";
import { providerName } from "./otel-metrics.ts";
import { type ChatState, type SpanRecorder, splitModel } from "./otel-spans.ts";
import { ATTR, OPERATION } from "./semconv.ts";

/**
 * Starts a `chat` span under `parent`; `conversation` is the thread the call belongs to. Only
 * the attributes a sampler may use go in at the start (the SDK validates start attributes
 * twice); the rest are set with the outcome, in one call (see chatEndAttributes).
 */
export function openChat(
  r: SpanRecorder,
  modelId: string,
  step: number,
  conversation: string,
  parent: Context,
): ChatState {
  const start = r.start(`chat\u0000${modelId}`, () => {
    const { provider, model } = splitModel(modelId);
    return {
      name: `${OPERATION.chat} ${model}`,
      options: {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR.operationName]: OPERATION.chat,
          [ATTR.providerName]: providerName(provider),
          [ATTR.requestModel]: model,
        },
      },
    };
  });
  const span = r.tracer.startSpan(start.name, start.options, parent);
  return {
    span,
    model: modelId,
    conversation,
    step,
    text: "",
    calls: undefined,
    responseId: undefined,
    responseModel: undefined,
  };
}

/** The attributes every `chat` span ends with, however it ends. */
export function chatEndAttributes(chat: ChatState): Attributes {
  const attrs: Attributes = {
    [ATTR.conversationId]: chat.conversation,
    [ATTR.requestStream]: true,
    [ATTR.step]: chat.step,
  };
  if (chat.responseId !== undefined) attrs[ATTR.responseId] = chat.responseId;
  if (chat.responseModel !== undefined) attrs[ATTR.responseModel] = chat.responseModel;
  return attrs;
}

/** Records a model call's outcome on its span and ends it. */
export function closeChat(
  r: SpanRecorder,
  chat: ChatState,
  msg: EventMsgOf<"model_call_completed">,
  errorType: string | undefined,
): void {
  const span = chat.span;
  if (span.isRecording()) {
    const u = msg.usage;
    // One call into the SDK. Absent means zero: every attribute costs a validation and bytes.
    const attrs = chatEndAttributes(chat);
    attrs[ATTR.responseFinishReasons] = [msg.finishReason];
    attrs[ATTR.usageInputTokens] = u.inputTokens;
    attrs[ATTR.usageOutputTokens] = u.outputTokens;
    if (u.cachedInputTokens > 0) attrs[ATTR.usageCacheReadTokens] = u.cachedInputTokens;
    if (u.cacheWriteTokens > 0) attrs[ATTR.usageCacheWriteTokens] = u.cacheWriteTokens;
    if (u.reasoningTokens > 0) attrs[ATTR.usageReasoningTokens] = u.reasoningTokens;
    if (msg.costUsd !== undefined) attrs[ATTR.costUsd] = msg.costUsd;
    if (r.capture)
      attrs[ATTR.outputMessages] = outputMessages(chat.text, chat.calls ?? [], msg.finishReason, r.redactor);
    if (errorType !== undefined) attrs[ATTR.errorType] = errorType;
    span.setAttributes(attrs);
    if (errorType !== undefined) {
      span.setStatus({
        code: SpanStatusCode.ERROR,
        message: r.redactor.redact(msg.error?.message ?? "the model call failed"),
      });
    }
  }
  span.end();
}

/** The error type of a model call, if it failed. */
export function chatErrorType(msg: EventMsgOf<"model_call_completed">): string | undefined {
  return msg.error?.code ?? (msg.finishReason === "error" ? "unknown" : undefined);
}

/** A child skill engine's model call started (forwarded to the root call of `owner`). */
export function startChildChat(
  r: SpanRecorder,
  owner: string,
  child: string,
  msg: EventMsgOf<"model_call_started">,
  parent: Context,
): void {
  const open = r.childChats.get(child);
  if (open) open.chat.span.end();
  const chat = openChat(r, msg.model, msg.step, child, parent);
  r.childChats.set(child, { owner: r.state(owner), chat });
}

/** A child skill engine's model call ended: metrics, attributes, end of its span. */
export function endChildChat(r: SpanRecorder, child: string, msg: EventMsgOf<"model_call_completed">): void {
  const errorType = chatErrorType(msg);
  r.metrics?.modelCall(msg, errorType);
  const open = r.childChats.get(child);
  if (!open) return;
  r.childChats.delete(child);
  closeChat(r, open.chat, msg, errorType);
}

/** A child skill's model and tool calls, forwarded to the root call as progress. */
export function childProgress(
  r: SpanRecorder,
  threadId: string,
  msg: EventMsgOf<"tool_call_progress">,
): void {
  const data = msg.data as { skill?: unknown; thread?: unknown; event?: { type?: unknown } } | null;
  const inner = data?.event as
    | EventMsgOf<
        | "tool_call_started"
        | "tool_call_completed"
        | "model_call_started"
        | "model_call_completed"
        | "assistant_message"
      >
    | undefined;
  if (typeof data?.skill !== "string" || !inner) return;
  const child = typeof data.thread === "string" ? data.thread : undefined;
  const skillSpan = () => {
    const skill = r.threads.get(threadId)?.skills?.get(msg.callId)?.at(-1);
    return skill ? trace.setSpan(ROOT_CONTEXT, skill) : undefined;
  };
  switch (inner.type) {
    case "tool_call_started":
      // A child's call ids are its own thread's: key them under the root call.
      r.startTool(
        threadId,
        inner.callId,
        inner.name,
        inner.input,
        skillSpan(),
        `${msg.callId}/${inner.callId}`,
      );
      return;
    case "tool_call_completed":
      r.endTool(threadId, inner, `${msg.callId}/${inner.callId}`);
      return;
    case "model_call_started":
      if (child !== undefined && !r.state(threadId).quiet)
        startChildChat(r, threadId, child, inner, skillSpan() ?? r.parent(r.state(threadId), threadId));
      return;
    case "model_call_completed":
      if (child !== undefined) endChildChat(r, child, inner);
      return;
    case "assistant_message": {
      const chat = child !== undefined ? r.childChats.get(child)?.chat : undefined;
      if (chat && r.capture) chat.text = inner.text;
      return;
    }
    default:
      return;
  }
}
