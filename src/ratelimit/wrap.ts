/** Rate limiting a ModelClient: cancellable waits, visible as events, fed by the provider's answers. */
import { TaifengError } from "../errors.ts";
import { modelError } from "../llm/errors.ts";
import type { ModelClient, ModelEvent, ModelRequest, StreamOptions } from "../llm/types.ts";
import type { Admission, RateFeedback, RateLimiter } from "./limiters.ts";
import type { SharedRateLimiter } from "./redis.ts";

/** An in-process limiter (synchronous) or a shared one (its state elsewhere, asynchronous). */
export type AnyRateLimiter = RateLimiter | SharedRateLimiter;

const swallow = (r: void | Promise<void>) => {
  if (r) r.catch(() => {});
};

/**
 * Limiters by key (`openai`, `openai:gpt-5-mini`, `openai#key-2`...), one set per process or
 * per pool: hand the same RateLimits to every engine's clients and they share the limits.
 * No global state: two RateLimits never see each other.
 */
export class RateLimits {
  private readonly limiters = new Map<string, AnyRateLimiter>();
  /** Registers `limiter` under `key`. Throws `invalid_config` when the key is taken. */
  set(key: string, limiter: AnyRateLimiter): this {
    if (this.limiters.has(key))
      throw new TaifengError("invalid_config", `rate limiter "${key}" is already set`);
    this.limiters.set(key, limiter);
    return this;
  }
  /** The limiter under `key`, created with `create` on first use. */
  getOrCreate(key: string, create: () => AnyRateLimiter): AnyRateLimiter {
    let l = this.limiters.get(key);
    if (!l) {
      l = create();
      this.limiters.set(key, l);
    }
    return l;
  }
  get(key: string): AnyRateLimiter | undefined {
    return this.limiters.get(key);
  }
  /**
   * A `fetch` for a provider SDK (`fetch` option of `createOpenAIChat`, `createAnthropic`...)
   * that reports every response's headers to the limiter under `key`, so an adaptive limiter
   * learns `x-ratelimit-*` and `retry-after` even from successful calls.
   */
  observingFetch(
    key: string,
    base: typeof globalThis.fetch = globalThis.fetch,
    now: () => number = Date.now,
  ): typeof globalThis.fetch {
    return async (input, init) => {
      const res = await base(input, init);
      const limiter = this.limiters.get(key);
      if (limiter) {
        const headers: Record<string, string> = {};
        res.headers.forEach((v, k) => {
          if (k.includes("ratelimit") || k.startsWith("retry-after")) headers[k] = v;
        });
        swallow(limiter.observe({ headers, limited: res.status === 429 }, now()));
      }
      return res;
    };
  }
}

/** Options of `withRateLimit`. */
export interface RateLimitOptions {
  /** In-process (`tokenBucket`...) or shared across processes (`redisTokenBucket`). */
  readonly limiter: AnyRateLimiter;
  /** Names the limiter in events. Default: the client id. */
  readonly key?: string;
  /** Tokens a request will use (prompt plus expected answer). Default: characters / 3 plus maxOutputTokens or 1,024. */
  readonly estimateTokens?: (request: ModelRequest) => number;
  /** Longest single wait before the call fails with `rate_limit` instead. Default 120 s. */
  readonly maxWaitMs?: number;
  readonly now?: () => number;
}

function defaultEstimate(request: ModelRequest): number {
  let chars = request.system.length;
  for (const item of request.items) chars += JSON.stringify(item).length;
  return Math.ceil(chars / 3) + (request.maxOutputTokens ?? 1_024);
}

/** Waits `ms` or until `signal` aborts; true when it waited the whole time. */
function wait(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The client behind a rate limiter. Every attempt (wrap it inside `withRetry`, so each retry
 * asks again) takes capacity first; when it must wait, a `rate_limit_wait` event says how long
 * and why, and the wait ends early with an `aborted` error when the call is cancelled. A
 * `rate_limit` error teaches the limiter the server's Retry-After (shared by every call using
 * it); the usage a call reports corrects its token estimate. Never throws.
 */
export function withRateLimit(client: ModelClient, options: RateLimitOptions): ModelClient {
  const { limiter } = options;
  const key = options.key ?? client.id;
  const now = options.now ?? Date.now;
  const estimate = options.estimateTokens ?? defaultEstimate;
  const maxWait = options.maxWaitMs ?? 120_000;
  async function* run(request: ModelRequest, opts: StreamOptions | undefined): AsyncGenerator<ModelEvent> {
    const tokens = estimate(request);
    for (;;) {
      const pending = limiter.tryAcquire(tokens, now());
      let a: Admission;
      if ("then" in pending) {
        // A shared limiter: its store may be unreachable. Retryable, so withRetry backs off.
        try {
          a = await pending;
        } catch (err) {
          yield {
            type: "error",
            error: modelError(
              "network",
              `rate limiter ${key} is unavailable: ${(err as Error)?.message ?? err}`,
            ),
          };
          return;
        }
      } else a = pending;
      if (a.ok) break;
      if (a.waitMs > maxWait) {
        yield {
          type: "error",
          error: modelError(
            "rate_limit",
            `${key}: rate limit needs a ${a.waitMs} ms wait (limit ${maxWait} ms)`,
            {
              retryAfterMs: a.waitMs,
            },
          ),
        };
        return;
      }
      yield { type: "notice", notice: { kind: "rate_limit_wait", key, waitMs: a.waitMs, reason: a.reason } };
      if (!(await wait(a.waitMs, opts?.signal))) {
        yield {
          type: "error",
          error: modelError("aborted", `model call aborted while waiting for rate limit ${key}`),
        };
        return;
      }
    }
    for await (const ev of client.stream(request, opts)) {
      if (ev.type === "usage")
        swallow(limiter.settle(tokens, ev.usage.inputTokens + ev.usage.outputTokens, now()));
      else if (ev.type === "error" && ev.error.code === "rate_limit") {
        const feedback: RateFeedback = { limited: true, retryAfterMs: ev.error.retryAfterMs };
        swallow(limiter.observe(feedback, now()));
      }
      yield ev;
      if (ev.type === "finish" || ev.type === "error") return;
    }
  }
  return {
    id: client.id,
    ...(client.cacheStyle !== undefined ? { cacheStyle: client.cacheStyle } : {}),
    stream: (request, opts) => run(request, opts),
    release: (threadId) => client.release?.(threadId),
  };
}
