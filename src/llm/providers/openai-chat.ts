import type OpenAI from "openai";
import type {
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from "openai/resources/chat/completions";
import { ModelCatalog } from "../catalog.ts";
import type { ModelClient, ModelRequest, StreamOptions } from "../types.ts";
import { nonStreamingTimeouts } from "./non-streaming.ts";
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
  /**
   * `false` sends requests without streaming and replays the whole completion as events
   * (the recovery policy's non-streaming fallback). Default true.
   */
  readonly streaming?: boolean;
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
      const streaming = options.streaming !== false;
      if (!streaming) {
        body.stream = false;
        delete body.stream_options;
      }
      const callOptions = (signal: AbortSignal) => ({
        signal,
        ...(streamOptions?.headers ? { headers: streamOptions.headers } : {}),
      });
      return providerStream<ChatChunk>({
        provider: id,
        signal: streamOptions?.signal,
        timeouts: streaming ? options.timeouts : nonStreamingTimeouts(options.timeouts),
        prices,
        translator: chatTranslator(id),
        open: streaming
          ? (signal) =>
              client.chat.completions.create(
                body as unknown as ChatCompletionCreateParamsStreaming,
                callOptions(signal),
              ) as unknown as Promise<AsyncIterable<ChatChunk>>
          : async (signal) => {
              const completion = (await client.chat.completions.create(
                body as unknown as ChatCompletionCreateParamsNonStreaming,
                callOptions(signal),
              )) as unknown as ChatCompletionLike;
              return (async function* () {
                yield completionAsChunk(completion);
              })();
            },
      });
    },
  };
}

/** The parts of a non-streamed completion that become a chunk. */
interface ChatCompletionLike {
  readonly choices?: readonly {
    readonly message?: {
      readonly content?: string | null;
      readonly refusal?: string | null;
      readonly reasoning_content?: string | null;
      readonly tool_calls?: readonly {
        readonly id?: string;
        readonly function?: { readonly name?: string; readonly arguments?: string };
      }[];
    };
    readonly finish_reason?: string | null;
  }[];
  readonly usage?: Record<string, unknown> | null;
}

/** A whole completion as the one chunk a stream of it would add up to (same translator). */
function completionAsChunk(c: ChatCompletionLike): ChatChunk {
  const choice = c.choices?.[0];
  const m = choice?.message;
  return {
    choices: [
      {
        delta: {
          content: m?.content ?? null,
          refusal: m?.refusal ?? null,
          reasoning_content: m?.reasoning_content ?? null,
          tool_calls: (m?.tool_calls ?? []).map((tc, index) => ({
            index,
            id: tc.id ?? null,
            function: { name: tc.function?.name ?? null, arguments: tc.function?.arguments ?? "" },
          })),
        },
        finish_reason: choice?.finish_reason ?? null,
      },
    ],
    usage: c.usage ?? null,
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
