import type OpenAI from "openai";
import type {
  ResponseCreateParamsNonStreaming,
  ResponseCreateParamsStreaming,
} from "openai/resources/responses/responses";
import { ModelCatalog } from "../catalog.ts";
import type { ModelClient, ModelRequest, StreamOptions } from "../types.ts";
import { nonStreamingTimeouts, replay, responsesEvents } from "./non-streaming.ts";
import { openAISdk } from "./openai-chat.ts";
import { responsesBody } from "./openai-responses-request.ts";
import { type ResponsesEvent, responsesTranslator } from "./openai-responses-stream.ts";
import { providerStream } from "./runtime.ts";
import type { CommonProviderOptions } from "./shared.ts";

/** Options of a Responses API client. */
export interface OpenAIResponsesOptions extends CommonProviderOptions {
  /** The provider name in the client id. Default `openai`. */
  readonly provider?: string;
  /**
   * The `reasoning` field, e.g. `{ effort: "medium", summary: "auto" }`. Without
   * `summary`, reasoning models return only encrypted reasoning (no reasoning deltas).
   */
  readonly reasoning?: Record<string, unknown>;
  /**
   * Ask for `reasoning.encrypted_content` so reasoning round-trips statelessly. Default:
   * true for reasoning models (catalog flag, or names starting with o1/o3/o4/gpt-5/codex).
   */
  readonly encryptedReasoning?: boolean;
  /** Send tools as `strict: true`. Default false (arbitrary JSON Schemas are accepted). */
  readonly strictTools?: boolean;
  readonly extraBody?: Record<string, unknown>;
  /**
   * `false` sends requests without streaming and replays the whole answer through the same
   * translator (the recovery policy's non-streaming fallback). Default true.
   */
  readonly streaming?: boolean;
}

const REASONING_NAME = /^(o\d|gpt-5|codex)/;

/**
 * An OpenAI Responses API model on an existing OpenAI SDK client (create it with
 * `maxRetries: 0`). Stateless: `store: false`, reasoning sent back with its encrypted
 * content, `prompt_cache_key` = thread id.
 */
export function openAIResponsesClient(client: OpenAI, options: OpenAIResponsesOptions): ModelClient {
  const provider = options.provider ?? "openai";
  const catalog = options.catalog ?? new ModelCatalog();
  const info = catalog.lookup(provider, options.model);
  const id = `${provider}:${options.model}`;
  const includeEncryptedReasoning =
    options.encryptedReasoning ?? info?.reasoning ?? REASONING_NAME.test(options.model);
  return {
    id,
    stream(request: ModelRequest, streamOptions?: StreamOptions) {
      const body = responsesBody(request, {
        model: options.model,
        includeEncryptedReasoning,
        ...(options.reasoning ? { reasoning: options.reasoning } : {}),
        ...(options.strictTools !== undefined ? { strictTools: options.strictTools } : {}),
        ...(options.extraBody ? { extraBody: options.extraBody } : {}),
      });
      const callOptions = (signal: AbortSignal) => ({
        signal,
        ...(streamOptions?.headers ? { headers: streamOptions.headers } : {}),
      });
      const streaming = options.streaming !== false;
      if (!streaming) body.stream = false;
      return providerStream<ResponsesEvent>({
        provider: id,
        signal: streamOptions?.signal,
        timeouts: streaming ? options.timeouts : nonStreamingTimeouts(options.timeouts),
        prices: info?.prices,
        translator: responsesTranslator(id),
        open: streaming
          ? (signal) =>
              client.responses.create(
                body as unknown as ResponseCreateParamsStreaming,
                callOptions(signal),
              ) as unknown as Promise<AsyncIterable<ResponsesEvent>>
          : async (signal) =>
              replay(
                responsesEvents(
                  await client.responses.create(
                    body as unknown as ResponseCreateParamsNonStreaming,
                    callOptions(signal),
                  ),
                ),
              ),
      });
    },
  };
}

/** Options for `createOpenAIResponses`. */
export interface CreateOpenAIResponsesOptions extends OpenAIResponsesOptions {
  readonly apiKey?: string;
  readonly baseUrl?: string;
  readonly headers?: Record<string, string> /**
   * The `fetch` the SDK uses (default: the global one). A rate limiter's `observingFetch`
   * goes here to learn from every response's `x-ratelimit-*` and `retry-after` headers.
   */;
  readonly fetch?: typeof globalThis.fetch;
}

/** Creates a Responses API model, loading the `openai` package on first use. */
export async function createOpenAIResponses(options: CreateOpenAIResponsesOptions): Promise<ModelClient> {
  return openAIResponsesClient(await openAISdk(options), options);
}
