import type { ProviderData, Usage } from "../../protocol/index.ts";
import { modelError } from "../errors.ts";
import type { FinishReason, ModelEvent } from "../types.ts";
import { GOOGLE_DATA } from "./gemini-request.ts";
import type { Translator } from "./runtime.ts";
import { num, responseMeta, usageOf } from "./shared.ts";

/** The parts of a GenerateContentResponse chunk the translator reads. */
export interface GeminiChunk {
  readonly candidates?: readonly {
    readonly content?: { readonly parts?: readonly Record<string, unknown>[] };
    readonly finishReason?: string;
  }[];
  readonly usageMetadata?: Record<string, unknown>;
  readonly promptFeedback?: { readonly blockReason?: string };
  readonly responseId?: string;
  readonly modelVersion?: string;
}

/**
 * Normalizes Gemini usage: `promptTokenCount` includes cached content (and tool-use
 * prompt tokens are added); thoughts are billed as output, so output is candidates +
 * thoughts and reasoning is the thoughts.
 */
export function geminiUsage(raw: Record<string, unknown>): Usage {
  const thoughts = num(raw.thoughtsTokenCount) ?? 0;
  return usageOf({
    inputTokens: (num(raw.promptTokenCount) ?? 0) + (num(raw.toolUsePromptTokenCount) ?? 0),
    cachedInputTokens: num(raw.cachedContentTokenCount) ?? 0,
    outputTokens: (num(raw.candidatesTokenCount) ?? 0) + thoughts,
    reasoningTokens: thoughts,
  });
}

const FILTERED = new Set([
  "SAFETY",
  "RECITATION",
  "BLOCKLIST",
  "PROHIBITED_CONTENT",
  "SPII",
  "IMAGE_SAFETY",
  "IMAGE_PROHIBITED_CONTENT",
]);
const BAD_CALL = new Set(["MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "TOO_MANY_TOOL_CALLS"]);

function googleData(fields: Record<string, unknown>): ProviderData | undefined {
  const entry = Object.fromEntries(Object.entries(fields).filter(([, v]) => typeof v === "string"));
  return Object.keys(entry).length > 0 ? { [GOOGLE_DATA]: entry } : undefined;
}

/**
 * Translates a Gemini stream. Thought parts stream as reasoning; a `thoughtSignature` on
 * a part is kept in the providerData of the item that part becomes (text -> `text_end`,
 * thought -> `reasoning_end`, function call -> `tool_call_end`). Function calls arrive
 * whole; calls without an id get `<responseId>_<n>`. Usage is cumulative per chunk and
 * emitted once at the end, with the finish.
 */
export function geminiTranslator(provider: string): Translator<GeminiChunk> {
  let calls = 0;
  let finishRaw: string | undefined;
  let blocked: string | undefined;
  let usage: Usage | undefined;
  let response: { responseId?: string; responseModel?: string } = {};
  return {
    push(chunk) {
      const out: ModelEvent[] = [];
      if (response.responseId === undefined && (chunk.responseId || chunk.modelVersion))
        response = responseMeta(chunk.responseId, chunk.modelVersion);
      if (chunk.usageMetadata) usage = geminiUsage(chunk.usageMetadata);
      if (chunk.promptFeedback?.blockReason) blocked = chunk.promptFeedback.blockReason;
      const candidate = chunk.candidates?.[0];
      for (const part of candidate?.content?.parts ?? []) {
        const signature = part.thoughtSignature;
        const call = part.functionCall as { name?: string; args?: unknown; id?: string } | undefined;
        if (call) {
          calls++;
          const callId = call.id ?? `${chunk.responseId ?? "gemini"}_${calls}`;
          const data = googleData({ thoughtSignature: signature, id: call.id });
          out.push({ type: "tool_call_start", callId, name: call.name ?? "" });
          out.push({ type: "tool_call_delta", callId, delta: JSON.stringify(call.args ?? {}) });
          out.push({ type: "tool_call_end", callId, ...(data ? { providerData: data } : {}) });
          continue;
        }
        if (typeof part.text !== "string") continue;
        const data = googleData({ thoughtSignature: signature });
        if (part.thought === true) {
          if (part.text !== "") out.push({ type: "reasoning_delta", delta: part.text });
          if (data) out.push({ type: "reasoning_end", providerData: data });
          continue;
        }
        if (part.text !== "") out.push({ type: "text_delta", delta: part.text });
        if (data) out.push({ type: "text_end", providerData: data });
      }
      if (candidate?.finishReason) finishRaw = candidate.finishReason;
      return out;
    },
    end() {
      const out: ModelEvent[] = [];
      if (blocked === undefined && finishRaw === undefined) {
        return [
          {
            type: "error",
            error: modelError("network", `${provider}: the stream ended without a finishReason`),
          },
        ];
      }
      if (finishRaw !== undefined && BAD_CALL.has(finishRaw)) {
        return [
          { type: "error", error: modelError("server", `${provider}: the model stopped with ${finishRaw}`) },
        ];
      }
      if (usage) out.push({ type: "usage", usage });
      let reason: FinishReason = calls > 0 ? "tool_calls" : "stop";
      if (blocked !== undefined || (finishRaw !== undefined && FILTERED.has(finishRaw)))
        reason = "content_filter";
      else if (finishRaw === "MAX_TOKENS") reason = "length";
      out.push({ type: "finish", reason, ...response });
      return out;
    },
  };
}
