import { setTimeout as sleep } from "node:timers/promises";
import type { ErrorInfo } from "../protocol/index.ts";
import { modelError } from "./errors.ts";
import type { ModelClient, ModelEvent, ModelRequest, StreamOptions } from "./types.ts";

/**
 * The one retry policy of Taifeng (the SDKs' own retries are switched off). A failed call
 * is tried again only when all of these hold:
 * - its error is retryable (`rate_limit`, `overloaded`, `server`, `timeout`, `network`, or
 *   whatever `retryOn` accepts);
 * - the failed attempt streamed nothing yet (no text, reasoning or tool call reached the
 *   caller), so a retry can never duplicate output the engine already showed;
 * - attempts remain (`maxAttempts` counts the first one), the caller has not aborted, and
 *   a server-requested wait is not longer than `maxRetryAfterMs`.
 * The wait is the server's Retry-After when it sent one (plus up to 10% jitter), else
 * exponential backoff with equal jitter: between half and all of
 * `min(maxDelayMs, baseDelayMs * 2^(attempt-1))`.
 */
export interface RetryPolicy {
  /** Attempts in total, the first included. Default 4; 1 disables retries. */
  readonly maxAttempts?: number;
  /** Backoff before the first retry. Default 500 ms. */
  readonly baseDelayMs?: number;
  /** Cap of the exponential backoff. Default 20 s. */
  readonly maxDelayMs?: number;
  /** A server asking for a longer wait than this fails at once. Default 60 s. */
  readonly maxRetryAfterMs?: number;
  /** Decides which errors are retried. Default: `error.retryable`. */
  readonly retryOn?: (error: ErrorInfo) => boolean;
  /** Source of randomness in [0, 1) for jitter. Default Math.random. */
  readonly random?: () => number;
}

/** The policy used when none is given. */
export const DEFAULT_RETRY_POLICY = {
  maxAttempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 20_000,
  maxRetryAfterMs: 60_000,
} as const;

/**
 * The wait before retry number `attempt` (1 = the first retry) after `error`, or undefined
 * when the server asked for more than `maxRetryAfterMs`.
 */
export function retryDelay(attempt: number, error: ErrorInfo, policy: RetryPolicy = {}): number | undefined {
  const random = policy.random ?? Math.random;
  const maxRetryAfter = policy.maxRetryAfterMs ?? DEFAULT_RETRY_POLICY.maxRetryAfterMs;
  if (error.retryAfterMs !== undefined) {
    if (error.retryAfterMs > maxRetryAfter) return undefined;
    return Math.round(error.retryAfterMs * (1 + 0.1 * random()));
  }
  const base = policy.baseDelayMs ?? DEFAULT_RETRY_POLICY.baseDelayMs;
  const cap = policy.maxDelayMs ?? DEFAULT_RETRY_POLICY.maxDelayMs;
  const exp = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (exp / 2) * random());
}

/** True for events that put model output in front of the caller. */
function isOutput(ev: ModelEvent): boolean {
  return (
    ev.type !== "usage" &&
    ev.type !== "retry" &&
    ev.type !== "notice" &&
    ev.type !== "finish" &&
    ev.type !== "error"
  );
}

/**
 * Wraps a client with the retry policy. Emits a `retry` event (attempt, delay, error)
 * before each wait, which the engine reports as `model_retry`. Never throws; an abort
 * during a wait ends the stream with an `aborted` error.
 */
export function withRetry(client: ModelClient, policy: RetryPolicy = {}): ModelClient {
  const maxAttempts = Math.max(1, policy.maxAttempts ?? DEFAULT_RETRY_POLICY.maxAttempts);
  const retryOn = policy.retryOn ?? ((e: ErrorInfo) => e.retryable === true);
  async function* run(request: ModelRequest, options: StreamOptions | undefined): AsyncGenerator<ModelEvent> {
    const signal = options?.signal;
    for (let attempt = 1; ; attempt++) {
      let streamed = false;
      let failure: ErrorInfo | undefined;
      for await (const ev of client.stream(request, options)) {
        if (ev.type === "error") {
          failure = ev.error;
          break;
        }
        if (isOutput(ev)) streamed = true;
        yield ev;
        if (ev.type === "finish") return;
      }
      failure ??= modelError("network", `${client.id}: the model stream ended without a finish event`);
      const delay =
        !streamed && attempt < maxAttempts && !signal?.aborted && retryOn(failure)
          ? retryDelay(attempt, failure, policy)
          : undefined;
      if (delay === undefined) {
        yield { type: "error", error: failure };
        return;
      }
      yield { type: "retry", attempt, delayMs: delay, error: failure };
      try {
        await sleep(delay, undefined, signal ? { signal } : undefined);
      } catch {
        yield { type: "error", error: modelError("aborted", "model call aborted while waiting to retry") };
        return;
      }
    }
  }
  return {
    id: client.id,
    stream: (request, options) => run(request, options),
    release: (threadId) => client.release?.(threadId),
  };
}
