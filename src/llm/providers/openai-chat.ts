import type OpenAI from "openai";
import type { ChatCompletionCreateParamsStreaming } from "openai/resources/chat/completions";
import { ModelCatalog } from "../catalog.ts";
import type { ModelClient, ModelRequest, StreamOptions } from "../types.ts";
import { type ChatDialect, COMPATIBLE_DIALECT, chatBody, OPENAI_DIALECT } from "./openai-chat-request.ts";
import { type ChatChunk, chatTranslator } from "./openai-chat-stream.ts";
import { loadSdk, providerStream } from "./runtime.ts";
import type { CommonProviderOptions } from "./shared.ts";

/** Options of a Chat Completions client. */
export interface OpenAIChatOptions extends CommonProviderOptions {
  /** The provider name in the client id (`openai-chat`, `deepseek`, `moonshot`...). Default `openai-chat`. */
  readonly provider?: string;
  /** Server differences; default OpenAI's. */
  readonly dialect?: Partial<ChatDialect>;
  /** Extra body fields for every request (`reasoning_effort`, vendor-specific options). */
  readonly extraBody?: Record<string, unknown>;
}

/** Options for `createOpenAIChat`, which builds the SDK client itself. */
export interface CreateOpenAIChatOptions extends OpenAIChatOptions {
  /** The key; omit only for servers that need none. */
  readonly apiKey?: string;
  /** The SDK's base URL, e.g. `http://localhost:11434/v1` for Ollama. */
  readonly baseUrl?: string;
  readonly headers?: Record<string, string> /**
   * The `fetch` the SDK uses (default: the global one). A rate limiter's `observingFetch`
   * goes here to learn from every response's `x-ratelimit-*` and `retry-after` headers.
   */;
  readonly fetch?: typeof globalThis.fetch;
}

/**
 * A Chat Completions model on an existing OpenAI SDK client. Works with OpenAI and any
 * OpenAI-compatible server; pass a `dialect` for the server's differences. Configure the
 * SDK client with `maxRetries: 0` so that Taifeng's retry policy is the only one.
 */
export function openAIChatClient(client: OpenAI, options: OpenAIChatOptions): ModelClient {
  const provider = options.provider ?? "openai-chat";
  const dialect: ChatDialect = { ...OPENAI_DIALECT, ...options.dialect };
  const catalog = options.catalog ?? new ModelCatalog();
  const prices = catalog.lookup(provider, options.model)?.prices;
  const id = `${provider}:${options.model}`;
  return {
    id,
    stream(request: ModelRequest, streamOptions?: StreamOptions) {
      const body = chatBody(request, {
        model: options.model,
        dialect,
        ...(options.extraBody ? { extraBody: options.extraBody } : {}),
      });
      return providerStream<ChatChunk>({
        provider: id,
        signal: streamOptions?.signal,
        timeouts: options.timeouts,
        prices,
        translator: chatTranslator(id),
        open: (signal) =>
          client.chat.completions.create(body as unknown as ChatCompletionCreateParamsStreaming, {
            signal,
            ...(streamOptions?.headers ? { headers: streamOptions.headers } : {}),
          }) as unknown as Promise<AsyncIterable<ChatChunk>>,
      });
    },
  };
}

/** Builds an OpenAI SDK client with its own retries off and its logging silenced. */
export async function openAISdk(options: {
  apiKey?: string | undefined;
  baseUrl?: string | undefined;
  headers?: Record<string, string> | undefined;
  fetch?: typeof globalThis.fetch | undefined;
}): Promise<OpenAI> {
  const { default: OpenAISdk } = await loadSdk("openai", "openai", () => import("openai"));
  return new OpenAISdk({
    // The SDK insists on a key; local servers that need none get a placeholder.
    apiKey: options.apiKey ?? "not-needed",
    ...(options.baseUrl !== undefined ? { baseURL: options.baseUrl } : {}),
    ...(options.headers !== undefined ? { defaultHeaders: options.headers } : {}),
    ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
    maxRetries: 0,
    logLevel: "off",
  });
}

/**
 * Creates a Chat Completions model, loading the `openai` package on first use. With a
 * `baseUrl` and no `dialect`, the generic OpenAI-compatible dialect is used.
 */
export async function createOpenAIChat(options: CreateOpenAIChatOptions): Promise<ModelClient> {
  const client = await openAISdk(options);
  const dialect = options.dialect ?? (options.baseUrl !== undefined ? COMPATIBLE_DIALECT : OPENAI_DIALECT);
  return openAIChatClient(client, { ...options, dialect });
}
