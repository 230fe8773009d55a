/**
 * Non-streamed answers as the stream events their translators already read: a provider sent
 * without streaming (`streaming: false`, the recovery policy's fallback) replays its whole
 * response through the same translator, so both paths produce the same model events.
 */
import type { LanguageModelV4StreamPart } from "@ai-sdk/provider";
import type { AnthropicEvent } from "./anthropic-stream.ts";
import type { ResponsesEvent } from "./openai-responses-stream.ts";
import { DEFAULT_TIMEOUTS, type ProviderTimeouts } from "./runtime.ts";

/**
 * The limits of a non-streamed request: its whole answer is its "first byte", so the first
 * byte may take as long as a stream may stay silent (default 300 s, not 60 s).
 */
export function nonStreamingTimeouts(timeouts: ProviderTimeouts | undefined): Required<ProviderTimeouts> {
  const firstByteMs = timeouts?.firstByteMs ?? DEFAULT_TIMEOUTS.firstByteMs;
  const idleMs = timeouts?.idleMs ?? DEFAULT_TIMEOUTS.idleMs;
  return { firstByteMs: Math.max(firstByteMs, idleMs), idleMs };
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v !== null && typeof v === "object" ? (v as Obj) : {});
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.map(obj) : []);

/** One event after another, as a stream. */
export async function* replay<T>(events: readonly T[]): AsyncGenerator<T> {
  for (const ev of events) yield ev;
}

/**
 * An Anthropic `Message` as the events of its stream: `message_start`, per content block a
 * start carrying the whole block (text and thinking included), a `signature_delta` for
 * thinking, an `input_json_delta` with a tool's input, its stop; then `message_delta` with the
 * stop reason and `message_stop`.
 */
export function anthropicMessageEvents(message: unknown): AnthropicEvent[] {
  const m = obj(message);
  const usage = obj(m.usage);
  const events: AnthropicEvent[] = [
    {
      type: "message_start",
      message: {
        usage,
        ...(typeof m.id === "string" ? { id: m.id } : {}),
        ...(typeof m.model === "string" ? { model: m.model } : {}),
      },
    },
  ];
  list(m.content).forEach((block, index) => {
    if (block.type === "tool_use") {
      events.push({ type: "content_block_start", index, content_block: { ...block, input: {} } });
      const input = JSON.stringify(block.input ?? {});
      if (input !== "{}")
        events.push({
          type: "content_block_delta",
          index,
          delta: { type: "input_json_delta", partial_json: input },
        });
    } else {
      events.push({ type: "content_block_start", index, content_block: block });
      if (block.type === "thinking" && typeof block.signature === "string")
        events.push({
          type: "content_block_delta",
          index,
          delta: { type: "signature_delta", signature: block.signature },
        });
    }
    events.push({ type: "content_block_stop", index });
  });
  events.push(
    { type: "message_delta", delta: { stop_reason: m.stop_reason ?? null }, usage: {} },
    { type: "message_stop" },
  );
  return events;
}

/**
 * A Responses API `Response` as the events of its stream: per output item `added`, its text,
 * refusal or reasoning summary as deltas, `done`; then `response.completed`,
 * `response.incomplete` or `response.failed` by its status.
 */
export function responsesEvents(response: unknown): ResponsesEvent[] {
  const r = obj(response);
  const events: ResponsesEvent[] = [];
  for (const item of list(r.output)) {
    const id = typeof item.id === "string" ? item.id : undefined;
    events.push({ type: "response.output_item.added", item });
    if (item.type === "reasoning")
      list(item.summary).forEach((part, summary_index) => {
        if (typeof part.text === "string")
          events.push({ type: "response.reasoning_summary_text.delta", summary_index, delta: part.text });
      });
    if (item.type === "message")
      for (const part of list(item.content)) {
        if (part.type === "output_text" && typeof part.text === "string")
          events.push({
            type: "response.output_text.delta",
            delta: part.text,
            ...(id ? { item_id: id } : {}),
          });
        if (part.type === "refusal" && typeof part.refusal === "string")
          events.push({
            type: "response.refusal.delta",
            delta: part.refusal,
            ...(id ? { item_id: id } : {}),
          });
      }
    events.push({ type: "response.output_item.done", item });
  }
  const status = r.status;
  events.push({
    type:
      status === "incomplete"
        ? "response.incomplete"
        : status === "failed"
          ? "response.failed"
          : "response.completed",
    response: r,
  });
  return events;
}

/**
 * An AI SDK `doGenerate` result as the stream parts `doStream` would have sent: its response
 * metadata, each text, reasoning and tool-call content part, and `finish` with the usage.
 */
export function aiSdkGenerateParts(result: unknown): LanguageModelV4StreamPart[] {
  const r = obj(result);
  const response = obj(r.response);
  const parts: Obj[] = [{ type: "response-metadata", id: response.id, modelId: response.modelId }];
  list(r.content).forEach((c, i) => {
    const id = String(i);
    const meta = c.providerMetadata !== undefined ? { providerMetadata: c.providerMetadata } : {};
    if (c.type === "text")
      parts.push({ type: "text-delta", id, delta: c.text }, { type: "text-end", id, ...meta });
    else if (c.type === "reasoning")
      parts.push({ type: "reasoning-delta", id, delta: c.text }, { type: "reasoning-end", id, ...meta });
    else if (c.type === "tool-call") parts.push(c);
  });
  parts.push({ type: "finish", finishReason: r.finishReason, usage: r.usage });
  return parts as unknown as LanguageModelV4StreamPart[];
}
