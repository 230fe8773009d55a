import type { GenerateContentParameters, GoogleGenAI } from "@google/genai";
import { ModelCatalog } from "../catalog.ts";
import type { ModelClient, ModelRequest, StreamOptions } from "../types.ts";
import { geminiParams } from "./gemini-request.ts";
import { type GeminiChunk, geminiTranslator } from "./gemini-stream.ts";
import { nonStreamingTimeouts, replay } from "./non-streaming.ts";
import { loadSdk, providerStream } from "./runtime.ts";
import type { CommonProviderOptions } from "./shared.ts";

/** Options of a Gemini client. */
export interface GeminiOptions extends CommonProviderOptions {
  /** `thinkingConfig`, e.g. `{ includeThoughts: true }` to stream thought summaries. */
  readonly thinking?: Record<string, unknown>;
  /** Extra `config` fields for every request (safety settings, media resolution...). */
  readonly extraConfig?: Record<string, unknown>;
  /**
   * `false` sends requests without streaming and replays the whole answer through the same
   * translator (the recovery policy's non-streaming fallback). Default true.
   */
  readonly streaming?: boolean;
}

/**
 * A Gemini model on an existing `@google/genai` client. Thought signatures round-trip
 * through providerData; Gemini's implicit prompt caching needs no request changes and
 * shows up as cached input tokens.
 */
export function geminiClient(client: GoogleGenAI, options: GeminiOptions): ModelClient {
  const catalog = options.catalog ?? new ModelCatalog();
  const info = catalog.lookup("google", options.model);
  const id = `google:${options.model}`;
  return {
    id,
    stream(request: ModelRequest, streamOptions?: StreamOptions) {
      const params = geminiParams(request, {
        model: options.model,
        ...(options.thinking ? { thinking: options.thinking } : {}),
        ...(options.extraConfig ? { extraConfig: options.extraConfig } : {}),
      });
      return providerStream<GeminiChunk>({
        provider: id,
        signal: streamOptions?.signal,
        timeouts: options.streaming === false ? nonStreamingTimeouts(options.timeouts) : options.timeouts,
        prices: info?.prices,
        translator: geminiTranslator(id),
        open: async (signal) => {
          // Google's ApiError carries no headers: keep the failed response's headers for Retry-After.
          let failedHeaders: Headers | undefined;
          const fetchFn = async (input: string | URL | Request, init?: RequestInit) => {
            const res = await fetch(input, init);
            if (!res.ok) failedHeaders = res.headers;
            return res;
          };
          const config = {
            ...(params.config as Record<string, unknown>),
            abortSignal: signal,
            httpOptions: streamOptions?.headers
              ? { fetch: fetchFn, headers: { ...streamOptions.headers } }
              : { fetch: fetchFn },
          };
          try {
            const full = { ...params, config } as unknown as GenerateContentParameters;
            // A whole response has the shape of a stream chunk: it is replayed as the only one.
            if (options.streaming === false)
              return replay([(await client.models.generateContent(full)) as unknown as GeminiChunk]);
            return (await client.models.generateContentStream(full)) as unknown as AsyncIterable<GeminiChunk>;
          } catch (err) {
            if (failedHeaders && err instanceof Error && !("headers" in err)) {
              Object.assign(err, { headers: failedHeaders });
            }
            throw err;
          }
        },
      });
    },
  };
}

/** Options for `createGemini`. */
export interface CreateGeminiOptions extends GeminiOptions {
  readonly apiKey: string;
  /** The SDK's base URL (`httpOptions.baseUrl`). */
  readonly baseUrl?: string;
  readonly headers?: Record<string, string>;
}

/** Creates a Gemini model, loading `@google/genai` on first use (SDK retries off). */
export async function createGemini(options: CreateGeminiOptions): Promise<ModelClient> {
  const { GoogleGenAI: Sdk } = await loadSdk("@google/genai", "google", () => import("@google/genai"));
  const client = new Sdk({
    apiKey: options.apiKey,
    httpOptions: {
      ...(options.baseUrl !== undefined ? { baseUrl: options.baseUrl } : {}),
      ...(options.headers !== undefined ? { headers: options.headers } : {}),
    },
  });
  return geminiClient(client, options);
}
