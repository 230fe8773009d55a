import type { Usage } from "../../protocol/index.ts";
import { classifyFacts } from "../classify.ts";
import { modelError } from "../errors.ts";
import type { FinishReason, ModelEvent } from "../types.ts";
import { OPENAI_DATA } from "./openai-responses-request.ts";
import type { Translator } from "./runtime.ts";
import { num, responseMeta, usageOf } from "./shared.ts";

/** The parts of a Responses stream event the translator reads. */
export interface ResponsesEvent {
  readonly type: string;
  readonly item?: Record<string, unknown>;
  readonly item_id?: string;
  readonly delta?: string;
  readonly summary_index?: number;
  readonly response?: Record<string, unknown>;
  readonly code?: string | null;
  readonly message?: string;
}

/** Normalizes Responses usage (`input_tokens` includes cached tokens; output includes reasoning). */
export function responsesUsage(raw: Record<string, unknown>): Usage {
  const inDetails = (raw.input_tokens_details ?? {}) as Record<string, unknown>;
  const outDetails = (raw.output_tokens_details ?? {}) as Record<string, unknown>;
  return usageOf({
    inputTokens: num(raw.input_tokens) ?? 0,
    cachedInputTokens: num(inDetails.cached_tokens) ?? 0,
    outputTokens: num(raw.output_tokens) ?? 0,
    reasoningTokens: num(outDetails.reasoning_tokens) ?? 0,
  });
}

/**
 * Translates a Responses API stream. Reasoning summaries (or raw reasoning text) stream
 * as reasoning deltas; each reasoning item ends with `reasoning_end` carrying
 * `{ openai: { id, encrypted_content, summary } }` so it can be sent back verbatim.
 * Function calls stream their argument deltas and end with the final arguments.
 * `response.completed` / `response.incomplete` finish the call; `response.failed` and
 * `error` events become classified errors.
 */
export function responsesTranslator(provider: string): Translator<ResponsesEvent> {
  const callIds = new Map<string, string>();
  let summaryIndex = -1;
  let refused = false;
  let sawCalls = false;
  const failure = (message: string, code: string | undefined): ModelEvent => ({
    type: "error",
    error: classifyFacts({ message: `${provider}: ${message}`, code, type: code }),
  });
  const finish = (response: Record<string, unknown> | undefined, base: FinishReason): ModelEvent[] => {
    const out: ModelEvent[] = [];
    const usage = response?.usage;
    if (usage && typeof usage === "object")
      out.push({ type: "usage", usage: responsesUsage(usage as Record<string, unknown>) });
    out.push({
      type: "finish",
      reason: refused ? "refusal" : base === "stop" && sawCalls ? "tool_calls" : base,
      ...responseMeta(response?.id, response?.model),
    });
    return out;
  };
  return {
    push(ev) {
      switch (ev.type) {
        case "response.output_item.added": {
          const item = ev.item ?? {};
          if (item.type === "function_call") {
            const callId = String(item.call_id ?? item.id);
            callIds.set(String(item.id), callId);
            sawCalls = true;
            return [{ type: "tool_call_start", callId, name: String(item.name ?? "") }];
          }
          if (item.type === "reasoning") summaryIndex = -1;
          return [];
        }
        case "response.reasoning_summary_text.delta": {
          const out: ModelEvent[] = [];
          const index = ev.summary_index ?? 0;
          if (summaryIndex >= 0 && index !== summaryIndex)
            out.push({ type: "reasoning_delta", delta: "\n\n" });
          summaryIndex = index;
          if (ev.delta) out.push({ type: "reasoning_delta", delta: ev.delta });
          return out;
        }
        case "response.reasoning_text.delta":
          return ev.delta ? [{ type: "reasoning_delta", delta: ev.delta }] : [];
        case "response.output_text.delta":
          return ev.delta ? [{ type: "text_delta", delta: ev.delta }] : [];
        case "response.refusal.delta":
          refused = true;
          return ev.delta ? [{ type: "text_delta", delta: ev.delta }] : [];
        case "response.function_call_arguments.delta": {
          const callId = callIds.get(ev.item_id ?? "");
          return callId && ev.delta ? [{ type: "tool_call_delta", callId, delta: ev.delta }] : [];
        }
        case "response.output_item.done":
          return itemDone(ev.item ?? {}, callIds);
        case "response.completed":
          return finish(ev.response, "stop");
        case "response.incomplete": {
          const details = (ev.response?.incomplete_details ?? {}) as Record<string, unknown>;
          return finish(ev.response, details.reason === "content_filter" ? "content_filter" : "length");
        }
        case "response.failed": {
          const err = (ev.response?.error ?? {}) as Record<string, unknown>;
          const code = typeof err.code === "string" ? err.code : undefined;
          return [failure(typeof err.message === "string" ? err.message : "the response failed", code)];
        }
        case "error":
          return [failure(ev.message ?? "stream error", ev.code ?? undefined)];
        default:
          return [];
      }
    },
    end() {
      return [
        {
          type: "error",
          error: modelError("network", `${provider}: the stream ended without response.completed`),
        },
      ];
    },
  };
}

function itemDone(item: Record<string, unknown>, callIds: Map<string, string>): ModelEvent[] {
  switch (item.type) {
    case "reasoning": {
      const data: Record<string, unknown> = { id: item.id, summary: item.summary ?? [] };
      if (typeof item.encrypted_content === "string") data.encrypted_content = item.encrypted_content;
      return [{ type: "reasoning_end", providerData: { [OPENAI_DATA]: data } }];
    }
    case "function_call": {
      const callId = callIds.get(String(item.id)) ?? String(item.call_id);
      return [{ type: "tool_call_end", callId, arguments: String(item.arguments ?? "") }];
    }
    case "message":
      return [{ type: "text_end" }];
    default:
      return [];
  }
}
