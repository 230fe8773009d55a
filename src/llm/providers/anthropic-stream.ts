import type { Usage } from "../../protocol/index.ts";
import { classifyFacts } from "../classify.ts";
import { modelError } from "../errors.ts";
import type { FinishReason, ModelEvent } from "../types.ts";
import { ANTHROPIC_DATA } from "./anthropic-request.ts";
import type { Translator } from "./runtime.ts";
import { num, responseMeta, usageOf } from "./shared.ts";

/** The parts of a Messages stream event the translator reads. */
export interface AnthropicEvent {
  readonly type: string;
  readonly index?: number;
  readonly message?: {
    readonly usage?: Record<string, unknown>;
    readonly id?: string;
    readonly model?: string;
  };
  readonly content_block?: Record<string, unknown>;
  readonly delta?: Record<string, unknown>;
  readonly usage?: Record<string, unknown>;
  readonly error?: { readonly type?: string; readonly message?: string };
}

interface Block {
  type: string;
  callId?: string;
  signature: string;
  args: string;
}

/**
 * Normalizes Anthropic usage: `input_tokens` excludes cache reads and writes, so the
 * normalized input is their sum; reasoning comes from `output_tokens_details` when sent.
 */
export function anthropicUsage(raw: Record<string, unknown>): Usage {
  const read = num(raw.cache_read_input_tokens) ?? 0;
  const write = num(raw.cache_creation_input_tokens) ?? 0;
  const details = (raw.output_tokens_details ?? {}) as Record<string, unknown>;
  return usageOf({
    inputTokens: (num(raw.input_tokens) ?? 0) + read + write,
    cachedInputTokens: read,
    cacheWriteTokens: write,
    outputTokens: num(raw.output_tokens) ?? 0,
    reasoningTokens: num(details.thinking_tokens) ?? 0,
  });
}

const STOP: Readonly<Record<string, FinishReason>> = {
  end_turn: "stop",
  stop_sequence: "stop",
  pause_turn: "stop",
  max_tokens: "length",
  model_context_window_exceeded: "length",
  tool_use: "tool_calls",
  refusal: "refusal",
};

/**
 * Translates a Messages stream. Thinking blocks end with `reasoning_end` carrying
 * `{ anthropic: { signature } }` (redacted ones `{ anthropic: { redacted } }`); tool_use
 * blocks stream `input_json_delta` as argument deltas (an empty input becomes `{}`);
 * `message_stop` finishes with the usage merged from `message_start` and `message_delta`.
 */
export function anthropicTranslator(provider: string): Translator<AnthropicEvent> {
  const blocks = new Map<number, Block>();
  const usageRaw: Record<string, unknown> = {};
  let stopReason: string | undefined;
  let response: { responseId?: string; responseModel?: string } = {};
  const mergeUsage = (u: Record<string, unknown> | undefined) => {
    if (!u) return;
    for (const [k, v] of Object.entries(u)) if (v !== null && v !== undefined) usageRaw[k] = v;
  };
  return {
    push(ev) {
      switch (ev.type) {
        case "message_start":
          mergeUsage(ev.message?.usage);
          response = responseMeta(ev.message?.id, ev.message?.model);
          return [];
        case "content_block_start":
          return blockStart(ev.index ?? 0, ev.content_block ?? {}, blocks);
        case "content_block_delta":
          return blockDelta(blocks.get(ev.index ?? 0), ev.delta ?? {});
        case "content_block_stop":
          return blockStop(blocks.get(ev.index ?? 0));
        case "message_delta":
          mergeUsage(ev.usage);
          if (typeof ev.delta?.stop_reason === "string") stopReason = ev.delta.stop_reason;
          return [];
        case "message_stop": {
          const reason = (stopReason && STOP[stopReason]) || "stop";
          return [
            { type: "usage", usage: anthropicUsage(usageRaw) },
            { type: "finish", reason, ...response },
          ];
        }
        case "error":
          return [
            {
              type: "error",
              error: classifyFacts({
                message: `${provider}: ${ev.error?.message ?? "stream error"}`,
                type: ev.error?.type,
              }),
            },
          ];
        default:
          return [];
      }
    },
    end() {
      return [
        { type: "error", error: modelError("network", `${provider}: the stream ended without message_stop`) },
      ];
    },
  };
}

function blockStart(index: number, cb: Record<string, unknown>, blocks: Map<number, Block>): ModelEvent[] {
  const type = String(cb.type);
  const block: Block = { type, signature: "", args: "" };
  blocks.set(index, block);
  if (type === "tool_use") {
    block.callId = String(cb.id);
    return [{ type: "tool_call_start", callId: block.callId, name: String(cb.name ?? "") }];
  }
  if (type === "thinking" && typeof cb.thinking === "string" && cb.thinking !== "") {
    return [{ type: "reasoning_delta", delta: cb.thinking }];
  }
  if (type === "redacted_thinking") block.signature = String(cb.data ?? "");
  if (type === "text" && typeof cb.text === "string" && cb.text !== "")
    return [{ type: "text_delta", delta: cb.text }];
  return [];
}

function blockDelta(block: Block | undefined, delta: Record<string, unknown>): ModelEvent[] {
  if (!block) return [];
  switch (delta.type) {
    case "text_delta":
      return typeof delta.text === "string" && delta.text !== ""
        ? [{ type: "text_delta", delta: delta.text }]
        : [];
    case "thinking_delta":
      return typeof delta.thinking === "string" && delta.thinking !== ""
        ? [{ type: "reasoning_delta", delta: delta.thinking }]
        : [];
    case "signature_delta":
      block.signature += String(delta.signature ?? "");
      return [];
    case "input_json_delta": {
      const part = String(delta.partial_json ?? "");
      if (part === "" || block.callId === undefined) return [];
      block.args += part;
      return [{ type: "tool_call_delta", callId: block.callId, delta: part }];
    }
    default:
      return [];
  }
}

function blockStop(block: Block | undefined): ModelEvent[] {
  if (!block) return [];
  switch (block.type) {
    case "thinking":
      return [{ type: "reasoning_end", providerData: { [ANTHROPIC_DATA]: { signature: block.signature } } }];
    case "redacted_thinking":
      return [{ type: "reasoning_end", providerData: { [ANTHROPIC_DATA]: { redacted: block.signature } } }];
    case "tool_use":
      if (block.callId === undefined) return [];
      return [
        { type: "tool_call_end", callId: block.callId, ...(block.args === "" ? { arguments: "{}" } : {}) },
      ];
    case "text":
      return [{ type: "text_end" }];
    default:
      return [];
  }
}
