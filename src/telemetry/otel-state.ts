/** The state the span recorder keeps per thread and per open span. Internal to `src/telemetry/`. */
import type { Attributes, Context, Span, SpanOptions } from "@opentelemetry/api";
import { ATTR } from "./semconv.ts";

/** An open `chat` span and what it ends with. */
export interface ChatState {
  readonly span: Span;
  readonly model: string;
  /** The thread the call belongs to (a child skill's own thread for its calls). */
  readonly conversation: string;
  readonly step: number;
  text: string;
  calls: { id: string; name: string; arguments: string }[] | undefined;
  /** From the stream's `finish` (the model wrapper sets them). */
  responseId: string | undefined;
  responseModel: string | undefined;
}

/** Where the model wrapper records a request's response id and model. */
export interface RequestTarget {
  readonly span: Span;
  /** The call's chat state; undefined for a compaction request (its span takes them directly). */
  readonly chat: ChatState | undefined;
}

/** An open `execute_tool` span. */
export interface ToolSpan {
  readonly span: Span;
  readonly callId: string;
  readonly conversation: string;
}

/** The attributes every `execute_tool` span ends with, however it ends. */
export function toolEndAttributes(tool: ToolSpan): Attributes {
  return {
    [ATTR.toolCallId]: tool.callId,
    [ATTR.toolType]: "function",
    [ATTR.conversationId]: tool.conversation,
  };
}

/** The attributes every `invoke_agent` turn span ends with, however it ends. */
export function turnEndAttributes(state: ThreadSpans, threadId: string): Attributes {
  const attrs: Attributes = { [ATTR.conversationId]: threadId };
  if (state.turnId !== undefined) attrs[ATTR.turnId] = state.turnId;
  return attrs;
}

/** What is open on one thread. */
export interface ThreadSpans {
  readonly threadId: string;
  turn: Span | undefined;
  turnId: string | undefined;
  /** The turn's end attributes are set (endTurn ran). */
  ended: boolean;
  turnCtx: Context | undefined;
  /**
   * The turn's span is not recording (no SDK, or not sampled): its children are skipped, since
   * under a parent-based sampler they would not record either. Metrics are still recorded.
   */
  quiet: boolean;
  chat: ChatState | undefined;
  compaction: Span | undefined;
  tools: Map<string, ToolSpan> | undefined;
  permissions: Map<string, Span> | undefined;
  /** Open skill spans per root call id, innermost last. */
  skills: Map<string, Span[]> | undefined;
}

/** The part of a model id before the colon, and the rest. */
export function splitModel(id: string): { provider: string; model: string } {
  const i = id.indexOf(":");
  return i < 0 ? { provider: id, model: id } : { provider: id.slice(0, i), model: id.slice(i + 1) };
}

/** A span's name and start options, built once per model, agent or tool and reused. */
export interface SpanStart {
  readonly name: string;
  readonly options: SpanOptions;
}
