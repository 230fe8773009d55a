import type {
  JSONSchema7,
  LanguageModelV3,
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4StreamPart,
} from "@ai-sdk/provider";
import type { ProviderData, Usage } from "../../protocol/index.ts";
import { ModelCatalog } from "../catalog.ts";
import { classifyError } from "../classify.ts";
import { modelError } from "../errors.ts";
import type { FinishReason, ModelClient, ModelEvent, ModelRequest, StreamOptions } from "../types.ts";
import { AI_SDK_DATA, aiSdkPrompt } from "./ai-sdk-prompt.ts";
import { aiSdkGenerateParts, nonStreamingTimeouts, replay } from "./non-streaming.ts";
import { type ProviderTimeouts, providerStream, type Translator } from "./runtime.ts";
import { num, responseMeta, usageOf } from "./shared.ts";

/** Options of the AI SDK bridge. */
export interface AiSdkOptions {
  /** The provider name in the client id. Default: the model's own `provider` (e.g. `openai.chat`). */
  readonly provider?: string;
  readonly timeouts?: ProviderTimeouts;
  readonly catalog?: ModelCatalog;
  /** Passed to every call as `providerOptions` (e.g. `{ anthropic: { thinking: {...} } }`). */
  readonly providerOptions?: LanguageModelV4CallOptions["providerOptions"];
  /**
   * `false` calls the model's `doGenerate` instead of `doStream` and replays the result as
   * stream parts (the recovery policy's non-streaming fallback). Default true.
   */
  readonly streaming?: boolean;
}

type AnyModel = LanguageModelV4 | LanguageModelV3;

function wrapMeta(meta: unknown): { providerData?: ProviderData } {
  return meta && typeof meta === "object" && Object.keys(meta).length > 0
    ? { providerData: { [AI_SDK_DATA]: meta as Record<string, unknown> } }
    : {};
}

/** Normalizes AI SDK usage (v3/v4 objects, or the flat numbers of older specifications). */
export function aiSdkUsage(raw: unknown): Usage {
  const u = (raw ?? {}) as Record<string, unknown>;
  const input = u.inputTokens;
  const output = u.outputTokens;
  if (input !== null && typeof input === "object") {
    const i = input as Record<string, unknown>;
    const o = (output ?? {}) as Record<string, unknown>;
    return usageOf({
      inputTokens: num(i.total) ?? 0,
      cachedInputTokens: num(i.cacheRead) ?? 0,
      cacheWriteTokens: num(i.cacheWrite) ?? 0,
      outputTokens: num(o.total) ?? 0,
      reasoningTokens: num(o.reasoning) ?? 0,
    });
  }
  return usageOf({
    inputTokens: num(input) ?? 0,
    cachedInputTokens: num(u.cachedInputTokens) ?? 0,
    outputTokens: num(output) ?? 0,
    reasoningTokens: num(u.reasoningTokens) ?? 0,
  });
}

function finishOf(raw: unknown, sawCalls: boolean): FinishReason | "error" {
  const unified =
    typeof raw === "string" ? raw : String((raw as { unified?: unknown } | undefined)?.unified ?? "");
  switch (unified) {
    case "length":
      return "length";
    case "content-filter":
      return "content_filter";
    case "tool-calls":
      return "tool_calls";
    case "error":
      return "error";
    default:
      return sawCalls ? "tool_calls" : "stop";
  }
}

/**
 * Translates AI SDK stream parts. Text, reasoning and tool-input parts map one to one;
 * the final `tool-call` part closes a call with its complete input (and opens it first
 * when the provider streamed no tool-input parts). Provider metadata on reasoning, text
 * and tool calls is kept as providerData for the next request. Provider-executed tool
 * calls and results are skipped: Taifeng runs only its own tools.
 */
export function aiSdkTranslator(provider: string): Translator<LanguageModelV4StreamPart> {
  const open = new Set<string>();
  let sawCalls = false;
  let response: { responseId?: string; responseModel?: string } = {};
  return {
    push(part) {
      switch (part.type) {
        case "response-metadata":
          response = responseMeta(part.id, part.modelId);
          return [];
        case "text-delta":
          return part.delta ? [{ type: "text_delta", delta: part.delta }] : [];
        case "text-end":
          return [{ type: "text_end", ...wrapMeta(part.providerMetadata) }];
        case "reasoning-delta":
          return part.delta ? [{ type: "reasoning_delta", delta: part.delta }] : [];
        case "reasoning-end":
          return [{ type: "reasoning_end", ...wrapMeta(part.providerMetadata) }];
        case "tool-input-start":
          if (part.providerExecuted) return [];
          open.add(part.id);
          sawCalls = true;
          return [{ type: "tool_call_start", callId: part.id, name: part.toolName }];
        case "tool-input-delta":
          return open.has(part.id) && part.delta
            ? [{ type: "tool_call_delta", callId: part.id, delta: part.delta }]
            : [];
        case "tool-call": {
          if (part.providerExecuted) return [];
          sawCalls = true;
          const out: ModelEvent[] = [];
          if (!open.has(part.toolCallId))
            out.push({ type: "tool_call_start", callId: part.toolCallId, name: part.toolName });
          open.delete(part.toolCallId);
          out.push({
            type: "tool_call_end",
            callId: part.toolCallId,
            arguments: part.input === "" ? "{}" : part.input,
            ...wrapMeta(part.providerMetadata),
          });
          return out;
        }
        case "finish": {
          const reason = finishOf(part.finishReason, sawCalls);
          if (reason === "error") {
            return [
              { type: "error", error: modelError("server", `${provider}: the model finished with an error`) },
            ];
          }
          return [
            { type: "usage", usage: aiSdkUsage(part.usage) },
            { type: "finish", reason, ...response },
          ];
        }
        case "error":
          return [{ type: "error", error: classifyError(part.error, undefined, provider) }];
        default:
          return [];
      }
    },
    end() {
      return [
        {
          type: "error",
          error: modelError("network", `${provider}: the stream ended without a finish part`),
        },
      ];
    },
  };
}

/** Reads a web ReadableStream as an async iterable (and cancels it when iteration stops early). */
async function* readStream<T>(stream: ReadableStream<T>): AsyncGenerator<T> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * Wraps any Vercel AI SDK language model (specification v3 or v4: `@ai-sdk/openai`,
 * `@ai-sdk/anthropic`, `@ai-sdk/google`, `@ai-sdk/mistral`, Bedrock, Groq, OpenRouter...)
 * as a ModelClient. The AI SDK's retries live in `ai`'s `streamText`, not in the model, so
 * Taifeng's retry policy remains the only one.
 */
export function aiSdkModel(model: AnyModel, options: AiSdkOptions = {}): ModelClient {
  const provider = options.provider ?? model.provider;
  const id = `${provider}:${model.modelId}`;
  const catalog = options.catalog ?? new ModelCatalog();
  const prices = catalog.lookup(provider, model.modelId)?.prices;
  const spec = model.specificationVersion === "v3" ? "v3" : "v4";
  return {
    id,
    stream(request: ModelRequest, streamOptions?: StreamOptions) {
      return providerStream<LanguageModelV4StreamPart>({
        provider: id,
        signal: streamOptions?.signal,
        timeouts: options.streaming === false ? nonStreamingTimeouts(options.timeouts) : options.timeouts,
        prices,
        translator: aiSdkTranslator(id),
        open: async (signal) => {
          const call: LanguageModelV4CallOptions = {
            prompt: aiSdkPrompt(request.system, request.items, spec),
            abortSignal: signal,
          };
          if (streamOptions?.headers) call.headers = { ...streamOptions.headers };
          if (request.tools.length > 0) {
            call.tools = request.tools.map((t) => ({
              type: "function" as const,
              name: t.name,
              description: t.description,
              inputSchema: t.parameters as JSONSchema7,
            }));
            const choice = request.toolChoice;
            if (choice !== undefined) {
              call.toolChoice =
                typeof choice === "string" ? { type: choice } : { type: "tool", toolName: choice.name };
            }
          }
          if (request.responseFormat) {
            call.responseFormat = {
              type: "json",
              schema: request.responseFormat.schema as JSONSchema7,
              name: request.responseFormat.name,
            };
          }
          if (request.maxOutputTokens !== undefined) call.maxOutputTokens = request.maxOutputTokens;
          if (request.temperature !== undefined) call.temperature = request.temperature;
          if (options.providerOptions) call.providerOptions = options.providerOptions;
          if (options.streaming === false)
            return replay(aiSdkGenerateParts(await (model as LanguageModelV4).doGenerate(call)));
          const result = await (model as LanguageModelV4).doStream(call);
          return readStream(result.stream);
        },
      });
    },
  };
}
