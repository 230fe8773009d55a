import type { Usage } from "../../protocol/index.ts";
import { modelError } from "../errors.ts";
import type { FinishReason, ModelEvent } from "../types.ts";
import type { Translator } from "./runtime.ts";
import { num, responseMeta, usageOf } from "./shared.ts";

/** The parts of a Chat Completions chunk the translator reads (OpenAI and compatible servers). */
export interface ChatChunk {
  readonly id?: string;
  readonly model?: string;
  readonly choices?: readonly {
    readonly delta?: {
      readonly content?: string | null;
      readonly refusal?: string | null;
      /** DeepSeek, xAI, vLLM... */
      readonly reasoning_content?: string | null;
      /** OpenRouter, some vLLM versions. */
      readonly reasoning?: string | null;
      readonly tool_calls?: readonly {
        readonly index?: number;
        readonly id?: string | null;
        readonly function?: { readonly name?: string | null; readonly arguments?: string | null } | null;
      }[];
    } | null;
    readonly finish_reason?: string | null;
  }[];
  readonly usage?: Record<string, unknown> | null;
}

interface OpenCall {
  id: string;
  name: string;
  started: boolean;
  ended: boolean;
}

/**
 * Normalizes Chat Completions usage. `prompt_tokens` already includes cached tokens
 * (`prompt_tokens_details.cached_tokens`, or DeepSeek's `prompt_cache_hit_tokens`).
 * Output is `max(completion_tokens, total_tokens - prompt_tokens)`: some servers (xAI)
 * leave reasoning out of completion_tokens but count it in the total.
 */
export function chatUsage(raw: Record<string, unknown>): Usage {
  const prompt = num(raw.prompt_tokens) ?? 0;
  const completion = num(raw.completion_tokens) ?? 0;
  const total = num(raw.total_tokens);
  const promptDetails = (raw.prompt_tokens_details ?? {}) as Record<string, unknown>;
  const completionDetails = (raw.completion_tokens_details ?? {}) as Record<string, unknown>;
  return usageOf({
    inputTokens: prompt,
    cachedInputTokens: num(raw.prompt_cache_hit_tokens) ?? num(promptDetails.cached_tokens) ?? 0,
    outputTokens: total !== undefined ? Math.max(completion, total - prompt) : completion,
    reasoningTokens: num(completionDetails.reasoning_tokens) ?? 0,
  });
}

/**
 * Translates a Chat Completions stream. Reasoning (`reasoning_content` / `reasoning`),
 * text and refusals stream as deltas; tool calls are keyed by `index` (a new `id` at a
 * used index starts a new call, for servers that reuse index 0) and close at the finish
 * reason. `finish` waits for the end of the stream because usage arrives after the
 * finish reason; a stream without a finish reason ends with a `network` error.
 */
export function chatTranslator(provider: string): Translator<ChatChunk> {
  const calls = new Map<number, OpenCall>();
  let reasoningOpen = false;
  let refused = false;
  let finishRaw: string | undefined;
  let usage: Usage | undefined;
  let sawToolCalls = false;
  let response: { responseId?: string; responseModel?: string } = {};
  const closeCalls = (out: ModelEvent[]) => {
    for (const call of calls.values()) {
      if (call.started && !call.ended) out.push({ type: "tool_call_end", callId: call.id });
      call.ended = true;
    }
  };
  return {
    push(chunk) {
      const out: ModelEvent[] = [];
      if (chunk.usage) usage = chatUsage(chunk.usage);
      if (response.responseId === undefined && (chunk.id || chunk.model))
        response = responseMeta(chunk.id, chunk.model);
      const choice = chunk.choices?.[0];
      if (!choice) return out;
      const delta = choice.delta ?? {};
      const reasoning = delta.reasoning_content ?? delta.reasoning;
      if (typeof reasoning === "string" && reasoning !== "") {
        reasoningOpen = true;
        out.push({ type: "reasoning_delta", delta: reasoning });
      }
      const text = (delta.content ?? "") + (delta.refusal ?? "");
      if (delta.refusal) refused = true;
      if (text !== "") {
        if (reasoningOpen) out.push({ type: "reasoning_end" });
        reasoningOpen = false;
        out.push({ type: "text_delta", delta: text });
      }
      for (const tc of delta.tool_calls ?? []) {
        if (reasoningOpen) out.push({ type: "reasoning_end" });
        reasoningOpen = false;
        sawToolCalls = true;
        const index = tc.index ?? calls.size;
        let call = calls.get(index);
        if (call && tc.id && call.id !== tc.id && call.started) {
          if (!call.ended) out.push({ type: "tool_call_end", callId: call.id });
          call.ended = true;
          call = undefined;
        }
        if (!call || call.ended) {
          call = { id: tc.id || `call_${index}`, name: "", started: false, ended: false };
          calls.set(index, call);
        }
        if (tc.function?.name) call.name += tc.function.name;
        if (!call.started && call.name !== "") {
          call.started = true;
          out.push({ type: "tool_call_start", callId: call.id, name: call.name });
        }
        const args = tc.function?.arguments;
        if (call.started && args) out.push({ type: "tool_call_delta", callId: call.id, delta: args });
      }
      if (choice.finish_reason) {
        finishRaw = choice.finish_reason;
        if (reasoningOpen) out.push({ type: "reasoning_end" });
        reasoningOpen = false;
        closeCalls(out);
      }
      return out;
    },
    end() {
      const out: ModelEvent[] = [];
      if (finishRaw === undefined) {
        out.push({
          type: "error",
          error: modelError("network", `${provider}: the stream ended without a finish_reason`),
        });
        return out;
      }
      if (usage) out.push({ type: "usage", usage });
      const reason = finishReason(finishRaw, refused, sawToolCalls);
      if (reason === "insufficient_system_resource") {
        out.push({
          type: "error",
          error: modelError("overloaded", `${provider}: the server ran out of resources mid-response`),
        });
        return out;
      }
      out.push({ type: "finish", reason, ...response });
      return out;
    },
  };
}

function finishReason(
  raw: string,
  refused: boolean,
  sawToolCalls: boolean,
): FinishReason | "insufficient_system_resource" {
  if (refused) return "refusal";
  switch (raw) {
    case "length":
      return "length";
    case "tool_calls":
    case "function_call":
      return "tool_calls";
    case "content_filter":
      return "content_filter";
    case "insufficient_system_resource":
      return raw;
    default:
      // Some servers report `stop` after tool calls.
      return sawToolCalls ? "tool_calls" : "stop";
  }
}
