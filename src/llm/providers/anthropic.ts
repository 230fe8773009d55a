import type Anthropic from "@anthropic-ai/sdk";
import type {
  MessageCreateParamsNonStreaming,
  MessageCreateParamsStreaming,
} from "@anthropic-ai/sdk/resources/messages";
import { ModelCatalog } from "../catalog.ts";
import type { ModelClient, ModelRequest, StreamOptions } from "../types.ts";
import { anthropicBody } from "./anthropic-request.ts";
import { type AnthropicEvent, anthropicTranslator } from "./anthropic-stream.ts";
import { anthropicMessageEvents, nonStreamingTimeouts, replay } from "./non-streaming.ts";
import { loadSdk, providerStream } from "./runtime.ts";
import type { CommonProviderOptions } from "./shared.ts";

/** Options of an Anthropic Messages client. */
export interface AnthropicOptions extends CommonProviderOptions {
  /** `max_tokens` when the request sets none. Default: the catalog's output limit, else 8192. */
  readonly maxTokens?: number;
  /** Place `cache_control` breakpoints (tools, system, rolling last message). Default true. */
  readonly cache?: boolean;
  /** Extended thinking, e.g. `{ type: "enabled", budget_tokens: 4000 }` or `{ type: "adaptive" }`. */
  readonly thinking?: Record<string, unknown>;
  /**
   * Structured output: `native` (output_config.format, current models) or `prompt`
   * (schema in the system prompt, for models without structured outputs). Default native.
   */
  readonly structuredOutput?: "native" | "prompt";
  readonly extraBody?: Record<string, unknown>;
  /**
   * `false` sends requests without streaming and replays the whole answer through the same
   * translator (the recovery policy's non-streaming fallback). Default true.
   */
  readonly streaming?: boolean;
}

/**
 * An Anthropic Messages model on an existing SDK client (create it with `maxRetries: 0`).
 * Thinking signatures round-trip through providerData; prompt caching uses explicit
 * breakpoints, at most four.
 */
export function anthropicClient(client: Anthropic, options: AnthropicOptions): ModelClient {
  const catalog = options.catalog ?? new ModelCatalog();
  const info = catalog.lookup("anthropic", options.model);
  const id = `anthropic:${options.model}`;
  const maxTokens = options.maxTokens ?? info?.maxOutputTokens ?? 8192;
  return {
    id,
    stream(request: ModelRequest, streamOptions?: StreamOptions) {
      const body = anthropicBody(request, {
        model: options.model,
        maxTokens,
        cache: options.cache ?? true,
        structuredOutput: options.structuredOutput ?? "native",
        ...(options.thinking ? { thinking: options.thinking } : {}),
        ...(options.extraBody ? { extraBody: options.extraBody } : {}),
      });
      const callOptions = (signal: AbortSignal) => ({
        signal,
        ...(streamOptions?.headers ? { headers: streamOptions.headers } : {}),
      });
      const streaming = options.streaming !== false;
      if (!streaming) body.stream = false;
      return providerStream<AnthropicEvent>({
        provider: id,
        signal: streamOptions?.signal,
        timeouts: streaming ? options.timeouts : nonStreamingTimeouts(options.timeouts),
        prices: info?.prices,
        translator: anthropicTranslator(id),
        open: streaming
          ? (signal) =>
              client.messages.create(
                body as unknown as MessageCreateParamsStreaming,
                callOptions(signal),
              ) as unknown as Promise<AsyncIterable<AnthropicEvent>>
          : async (signal) =>
              replay(
                anthropicMessageEvents(
                  await client.messages.create(body as unknown as MessageCreateParamsNonStreaming, {
                    ...callOptions(signal),
                    // Our own limits apply (the signal); without a timeout the SDK refuses
                    // large max_tokens without streaming.
                    timeout: nonStreamingTimeouts(options.timeouts).firstByteMs,
                  }),
                ),
              ),
      });
    },
  };
}

/** Options for `createAnthropic`. */
export interface CreateAnthropicOptions extends AnthropicOptions {
  readonly apiKey: string;
  readonly baseUrl?: string;
  readonly headers?: Record<string, string> /**
   * The `fetch` the SDK uses (default: the global one). A rate limiter's `observingFetch`
   * goes here to learn from every response's `x-ratelimit-*` and `retry-after` headers.
   */;
  readonly fetch?: typeof globalThis.fetch;
}

/** Creates an Anthropic model, loading `@anthropic-ai/sdk` on first use (SDK retries off). */
export async function createAnthropic(options: CreateAnthropicOptions): Promise<ModelClient> {
  const { default: AnthropicSdk } = await loadSdk(
    "@anthropic-ai/sdk",
    "anthropic",
    () => import("@anthropic-ai/sdk"),
  );
  const client = new AnthropicSdk({
    apiKey: options.apiKey,
    ...(options.baseUrl !== undefined ? { baseURL: options.baseUrl } : {}),
    ...(options.headers !== undefined ? { defaultHeaders: options.headers } : {}),
    ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
    maxRetries: 0,
    logLevel: "off",
  });
  return anthropicClient(client, options);
}
