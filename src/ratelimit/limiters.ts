/**
 * Rate limiters: synchronous capacity accounting (no timers, no globals). A limiter answers
 * "may this call go now, or how long must it wait"; the waiting itself happens in
 * `withRateLimit`, cancellable by the call's signal.
 */
import { TaifengError } from "../errors.ts";
import { retryAfterFromHeaders } from "../llm/classify.ts";

/** Why a call must wait. */
export type WaitReason = "requests" | "tokens" | "retry_after" | "adaptive";

/** A limiter's answer: go (capacity taken) or wait this long. */
export type Admission =
  | { readonly ok: true }
  | { readonly ok: false; readonly waitMs: number; readonly reason: WaitReason };

/** What a provider told us about its limits. */
export interface RateFeedback {
  /** Response headers (lower-case names) of a successful or failed call. */
  readonly headers?: Readonly<Record<string, string>>;
  /** A 429 (or an overloaded answer) arrived; `retryAfterMs` when the server said how long to wait. */
  readonly limited?: boolean;
  readonly retryAfterMs?: number | undefined;
}

/** The contract every limiter keeps. `now` is milliseconds on one monotonic-enough clock. */
export interface RateLimiter {
  /** Takes capacity for one request of about `tokens` tokens, or says how long to wait. Never blocks. */
  tryAcquire(tokens: number, now: number): Admission;
  /** Corrects the token estimate once the call reported its usage. */
  settle(estimated: number, actual: number, now: number): void;
  /** Learns from the provider (headers, 429s, Retry-After). */
  observe(feedback: RateFeedback, now: number): void;
}

const OK: Admission = { ok: true };

/** Shared by all limiters: a provider's Retry-After closes the gate for everyone using the limiter. */
class RetryAfterGate {
  blockedUntil = 0;
  note(feedback: RateFeedback, now: number): void {
    if (feedback.retryAfterMs !== undefined)
      this.blockedUntil = Math.max(this.blockedUntil, now + feedback.retryAfterMs);
    else {
      const h = feedback.headers ? retryAfterFromHeaders(feedback.headers, now) : undefined;
      if (h !== undefined) this.blockedUntil = Math.max(this.blockedUntil, now + h);
    }
  }
  check(now: number): Admission | undefined {
    return now < this.blockedUntil
      ? { ok: false, waitMs: this.blockedUntil - now, reason: "retry_after" }
      : undefined;
  }
}

/** Options of a token bucket. */
export interface TokenBucketOptions {
  readonly requestsPerMinute?: number;
  readonly tokensPerMinute?: number;
  /** Bucket size as a fraction of a minute's allowance. Default 1 (a full minute's burst). */
  readonly burst?: number;
}

function positive(name: string, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!(v > 0) || !Number.isFinite(v))
    throw new TaifengError("invalid_config", `rate limiter: ${name} must be a positive number (got ${v})`);
  return v;
}

/** A continuously refilled bucket. */
class Bucket {
  private level: number;
  private at: number;
  readonly capacity: number;
  private readonly perMs: number;
  constructor(capacity: number, perMs: number, now: number) {
    this.capacity = capacity;
    this.perMs = perMs;
    this.level = capacity;
    this.at = now;
  }
  refill(now: number): void {
    if (now > this.at) {
      this.level = Math.min(this.capacity, this.level + (now - this.at) * this.perMs);
      this.at = now;
    }
  }
  /** Ms until `amount` is available (0: now). */
  waitFor(amount: number, now: number): number {
    this.refill(now);
    const need = Math.min(amount, this.capacity) - this.level;
    return need <= 0 ? 0 : Math.ceil(need / this.perMs);
  }
  take(amount: number): void {
    this.level -= Math.min(amount, this.capacity);
  }
  give(amount: number): void {
    this.level = Math.min(this.capacity, this.level + amount);
  }
}

/**
 * Token bucket over requests and tokens per minute: bursts up to the bucket size, then a
 * steady rate. A call larger than the whole bucket waits for a full bucket (never forever).
 */
export function tokenBucket(options: TokenBucketOptions): RateLimiter {
  const rpm = positive("requestsPerMinute", options.requestsPerMinute);
  const tpm = positive("tokensPerMinute", options.tokensPerMinute);
  const burst = positive("burst", options.burst) ?? 1;
  let requests: Bucket | undefined;
  let tokens: Bucket | undefined;
  const gate = new RetryAfterGate();
  const init = (now: number) => {
    if (rpm !== undefined) requests ??= new Bucket(Math.max(1, rpm * burst), rpm / 60_000, now);
    if (tpm !== undefined) tokens ??= new Bucket(Math.max(1, tpm * burst), tpm / 60_000, now);
  };
  return {
    tryAcquire(n, now) {
      init(now);
      const blocked = gate.check(now);
      if (blocked) return blocked;
      const rw = requests?.waitFor(1, now) ?? 0;
      const tw = tokens?.waitFor(n, now) ?? 0;
      if (rw > 0 || tw > 0)
        return rw >= tw
          ? { ok: false, waitMs: rw, reason: "requests" }
          : { ok: false, waitMs: tw, reason: "tokens" };
      requests?.take(1);
      tokens?.take(n);
      return OK;
    },
    settle(estimated, actual, now) {
      if (!tokens) return;
      tokens.refill(now);
      if (actual > estimated) tokens.take(actual - estimated);
      else tokens.give(estimated - actual);
    },
    observe: (f, now) => gate.note(f, now),
  };
}

/** Options of a sliding window. */
export interface SlidingWindowOptions {
  /** Default 60 s. */
  readonly windowMs?: number;
  readonly maxRequests?: number;
  readonly maxTokens?: number;
}

/**
 * Sliding window log: at most `maxRequests` calls and `maxTokens` tokens within any
 * `windowMs`. Exact (no burst at window edges), memory bounded by `maxRequests` entries.
 */
export function slidingWindow(options: SlidingWindowOptions): RateLimiter {
  const windowMs = positive("windowMs", options.windowMs) ?? 60_000;
  const maxRequests = positive("maxRequests", options.maxRequests);
  const maxTokens = positive("maxTokens", options.maxTokens);
  const log: { at: number; tokens: number }[] = [];
  let head = 0;
  let sum = 0;
  const gate = new RetryAfterGate();
  const expire = (now: number) => {
    while (head < log.length && (log[head] as { at: number }).at <= now - windowMs) {
      sum -= (log[head] as { tokens: number }).tokens;
      head++;
    }
    if (head > 1024 && head * 2 > log.length) {
      log.splice(0, head);
      head = 0;
    }
  };
  return {
    tryAcquire(n, now) {
      const blocked = gate.check(now);
      if (blocked) return blocked;
      expire(now);
      const live = log.length - head;
      if (maxRequests !== undefined && live >= maxRequests) {
        const oldest = log[log.length - maxRequests] as { at: number };
        return { ok: false, waitMs: Math.max(1, oldest.at + windowMs - now), reason: "requests" };
      }
      const want = maxTokens === undefined ? n : Math.min(n, maxTokens);
      if (maxTokens !== undefined && sum + want > maxTokens) {
        // The wait until enough of the oldest entries leave the window.
        let freed = 0;
        for (let i = head; i < log.length; i++) {
          const e = log[i] as { at: number; tokens: number };
          freed += e.tokens;
          if (sum - freed + want <= maxTokens)
            return { ok: false, waitMs: Math.max(1, e.at + windowMs - now), reason: "tokens" };
        }
      }
      log.push({ at: now, tokens: want });
      sum += want;
      return OK;
    },
    settle(estimated, actual) {
      const last = log[log.length - 1];
      if (!last) return;
      // Charged to the newest entry: the window stays exact in total.
      const delta = actual - estimated;
      last.tokens = Math.max(0, last.tokens + delta);
      sum = Math.max(0, sum + delta);
    },
    observe: (f, now) => gate.note(f, now),
  };
}

/** Options of the adaptive limiter. */
export interface AdaptiveOptions {
  /** First backoff after a 429 without Retry-After. Default 1 s; doubles up to `maxBackoffMs`. */
  readonly baseBackoffMs?: number;
  /** Default 60 s. */
  readonly maxBackoffMs?: number;
}

/**
 * Learns the provider's limits from its answers: `x-ratelimit-remaining-*` /
 * `x-ratelimit-reset-*` (OpenAI and compatible), `anthropic-ratelimit-*-remaining` /
 * `-reset`, and `retry-after`/`retry-after-ms`. When the provider says nothing is left, calls
 * wait for its reset; a 429 closes the gate for its Retry-After, or for an exponential backoff
 * when it gave none (reset by the next success).
 */
export function adaptiveLimiter(options: AdaptiveOptions = {}): RateLimiter {
  const base = options.baseBackoffMs ?? 1_000;
  const cap = options.maxBackoffMs ?? 60_000;
  const gate = new RetryAfterGate();
  let strikes = 0;
  const state = { requests: undefined as Window | undefined, tokens: undefined as Window | undefined };
  return {
    tryAcquire(n, now) {
      const blocked = gate.check(now);
      if (blocked) return blocked;
      for (const [kind, need] of [
        ["requests", 1],
        ["tokens", n],
      ] as const) {
        const w = state[kind];
        if (w && now < w.resetAt && w.remaining < need)
          return { ok: false, waitMs: w.resetAt - now, reason: "adaptive" };
      }
      if (state.requests && now < state.requests.resetAt) state.requests.remaining -= 1;
      if (state.tokens && now < state.tokens.resetAt) state.tokens.remaining -= n;
      return OK;
    },
    settle() {},
    observe(f, now) {
      if (f.headers) {
        const h = f.headers;
        state.requests = windowOf(h, "requests", now) ?? state.requests;
        state.tokens = windowOf(h, "tokens", now) ?? state.tokens;
      }
      if (f.limited) {
        // One 429 may be reported twice (by the observing fetch and by the failed call).
        if (now >= gate.blockedUntil) strikes++;
        const explicit = f.retryAfterMs ?? (f.headers ? retryAfterFromHeaders(f.headers, now) : undefined);
        gate.note({ retryAfterMs: explicit ?? Math.min(cap, base * 2 ** (strikes - 1)) }, now);
      } else if (f.headers) strikes = 0;
    },
  };
}

interface Window {
  remaining: number;
  resetAt: number;
}

function windowOf(
  h: Readonly<Record<string, string>>,
  kind: "requests" | "tokens",
  now: number,
): Window | undefined {
  const remaining = h[`x-ratelimit-remaining-${kind}`] ?? h[`anthropic-ratelimit-${kind}-remaining`];
  const reset = h[`x-ratelimit-reset-${kind}`] ?? h[`anthropic-ratelimit-${kind}-reset`];
  if (remaining === undefined) return undefined;
  const left = Number(remaining);
  if (!Number.isFinite(left)) return undefined;
  const resetMs = reset === undefined ? 60_000 : parseReset(reset, now);
  return { remaining: left, resetAt: now + (resetMs ?? 60_000) };
}

/**
 * A reset as the providers write it: a duration (`1s`, `6m0s`, `20ms`, `1h2m3.5s`), seconds
 * (`12`), or an RFC 3339 time (Anthropic). Milliseconds from now, or undefined when unreadable.
 */
export function parseReset(value: string, now: number): number | undefined {
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const dur = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$/.exec(v);
  if (dur && v !== "") {
    const [, h, m, s, ms] = dur;
    return Math.round(
      Number(h ?? 0) * 3_600_000 + Number(m ?? 0) * 60_000 + Number(s ?? 0) * 1000 + Number(ms ?? 0),
    );
  }
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}
