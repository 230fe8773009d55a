import type { ErrorInfo, ProviderData, ResponseItem, Usage } from "../protocol/index.ts";

/**
 * The provider seam. A ModelClient turns a provider-neutral request into one normalized
 * event stream. It is also the test seam: SimClient implements the same interface.
 */

/** A tool as the model sees it: name, description and JSON Schema of its input. */
export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  readonly parameters: Record<string, unknown>;
}

/** Ask the model for JSON matching a schema. */
export interface ResponseFormat {
  readonly type: "json_schema";
  readonly name: string;
  readonly schema: Record<string, unknown>;
  readonly strict?: boolean;
}

/** Everything a provider needs for one model call. */
export interface ModelRequest {
  /** Stable instructions (system prompt, skill catalog, pinned state): the cached prefix. */
  readonly system: string;
  /** The history, oldest first. */
  readonly items: readonly ResponseItem[];
  /** Tools the model may call, in a deterministic order. */
  readonly tools: readonly ToolSpec[];
  readonly toolChoice?: "auto" | "none" | "required" | { readonly name: string };
  readonly responseFormat?: ResponseFormat;
  readonly maxOutputTokens?: number;
  readonly temperature?: number;
  readonly parallelToolCalls?: boolean;
  /** The thread this call belongs to; providers use it as the prompt cache key. */
  readonly threadId?: string;
  /**
   * Why the engine makes this call: a step of a turn (default) or a compaction summary.
   * Routers may send summaries to a cheaper model; the simulator answers them separately.
   */
  readonly purpose?: "turn" | "compaction";
  /**
   * Item counts where the context manager wants a prompt-cache breakpoint (a breakpoint at
   * `n` covers the system prompt, the tools and the first `n` items), most valuable first.
   * Providers with explicit breakpoints (Anthropic) place as many as they can after the
   * system prompt and before the last message; providers that cache automatically ignore it.
   * Absent: the provider's own placement.
   */
  readonly cacheBreakpoints?: readonly number[];
}

/**
 * How a provider caches prompt prefixes, which decides what a rewrite of the history costs:
 * `anthropic`: explicit breakpoints (at most four), cache writes billed at a premium, reads
 * found up to 20 blocks before a breakpoint; `openai`: automatic, the longest cached prefix
 * of at least 1,024 tokens in 128-token steps, no write charge; `gemini`: implicit caching,
 * automatic and best-effort, no write charge; `none`: every input token is billed in full.
 */
export type CacheStyle = "anthropic" | "openai" | "gemini" | "none";

/** Why a model call ended. */
export type FinishReason = "stop" | "tool_calls" | "length" | "content_filter" | "refusal";

/** Classified model failures; retryable ones are marked in RETRYABLE_MODEL_ERRORS. */
export type ModelErrorCode =
  | "rate_limit"
  | "overloaded"
  | "server"
  | "timeout"
  | "network"
  | "context_overflow"
  | "auth"
  | "quota"
  | "invalid_request"
  | "content_filter"
  | "aborted"
  | "unknown";

/**
 * One normalized streaming event. Contract for producers:
 * - the stream never throws once iteration starts: failures arrive as a final `error`;
 * - after `finish` or `error` nothing follows; a stream that ends without either is
 *   treated by consumers as a `network` error;
 * - `tool_call_delta`/`tool_call_end` refer to a `callId` announced by `tool_call_start`;
 * - `*_end` events are optional for text and reasoning and carry provider data to round-trip.
 */
export type ModelEvent =
  | { readonly type: "text_delta"; readonly delta: string }
  | { readonly type: "text_end"; readonly providerData?: ProviderData }
  | { readonly type: "reasoning_delta"; readonly delta: string }
  | { readonly type: "reasoning_end"; readonly providerData?: ProviderData }
  | { readonly type: "tool_call_start"; readonly callId: string; readonly name: string }
  | { readonly type: "tool_call_delta"; readonly callId: string; readonly delta: string }
  | {
      readonly type: "tool_call_end";
      readonly callId: string;
      /** The complete arguments; when absent, the concatenated deltas are used. */
      readonly arguments?: string;
      readonly providerData?: ProviderData;
    }
  | {
      readonly type: "usage";
      readonly usage: Usage;
      /** What the call cost in USD, when the model's prices are known (see ModelCatalog). */
      readonly costUsd?: number;
    }
  | { readonly type: "retry"; readonly attempt: number; readonly delayMs: number; readonly error: ErrorInfo }
  /** Something a wrapper (router, rate limiter, recovery) decided; not model output. */
  | { readonly type: "notice"; readonly notice: ModelNotice }
  | {
      readonly type: "finish";
      readonly reason: FinishReason;
      readonly providerData?: ProviderData;
      /** The provider's id of this response (`gen_ai.response.id`), when it sent one. */
      readonly responseId?: string;
      /** The model that answered, as the provider names it (`gen_ai.response.model`). */
      readonly responseModel?: string;
    }
  | { readonly type: "error"; readonly error: ErrorInfo };

/**
 * What a client wrapper reports about a call, surfaced by the engine as an event:
 * `routed` -> `model_routed`, `rate_limit_wait` -> `rate_limit_wait`, `recovery` ->
 * `model_recovery`. Notices are never output: retries and fallbacks ignore them when deciding
 * whether a call already showed something.
 */
export type ModelNotice =
  | {
      readonly kind: "routed";
      readonly profile: string;
      readonly chosen: string;
      readonly reasons: readonly string[];
      readonly skipped: readonly { readonly model: string; readonly reason: string }[];
    }
  | {
      readonly kind: "rate_limit_wait";
      readonly key: string;
      readonly waitMs: number;
      readonly reason: string;
    }
  | {
      readonly kind: "recovery";
      readonly action: "continuation" | "stream_retry" | "non_streaming" | "cut_after_calls";
      readonly attempt: number;
      readonly message: string;
    };

/** Options for one call. */
export interface StreamOptions {
  readonly signal?: AbortSignal;
  /**
   * Extra HTTP headers for this call, e.g. the W3C `traceparent` of the call's span. Providers
   * that speak HTTP send them; wrappers (retry, fallback) pass them on.
   */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A model behind one provider. Implementations must honour the ModelEvent contract. */
export interface ModelClient {
  /** `provider:model`, e.g. `openai:gpt-5-mini` or `sim:demo`. */
  readonly id: string;
  /**
   * Optional: how this client's provider caches prompts, when the id alone does not say
   * (the simulator, a gateway). The context manager plans compaction with it.
   */
  readonly cacheStyle?: CacheStyle;
  stream(request: ModelRequest, options?: StreamOptions): AsyncIterable<ModelEvent>;
  /**
   * Optional: the engine that owned `threadId` has closed (or moved the thread to another
   * model). A client that keeps state per thread drops it here; one client serves many
   * threads, so without this such state would grow with every thread it ever saw.
   */
  release?(threadId: string): void;
}
