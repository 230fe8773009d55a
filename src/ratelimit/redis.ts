/**
 * A token bucket shared across processes through Redis: the in-process `tokenBucket`'s
 * accounting, kept in one Redis hash per limiter and changed only by Lua scripts (each runs
 * atomically on the server, on the server's clock), so every worker using the same name and
 * prefix draws on one budget. See ADR 2202.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { TaifengError } from "../errors.ts";
import { retryAfterFromHeaders } from "../llm/classify.ts";
import type { Admission, RateFeedback, WaitReason } from "./limiters.ts";

/**
 * A limiter whose accounting lives elsewhere (another process's view must agree with ours):
 * the same three operations as `RateLimiter`, answered asynchronously. `withRateLimit` and
 * `RateLimits` take either kind. A rejected `tryAcquire` (the store is unreachable) fails the
 * call with a retryable `network` error; `settle` and `observe` never reject.
 */
export interface SharedRateLimiter {
  tryAcquire(tokens: number, now: number): Promise<Admission>;
  settle(estimated: number, actual: number, now: number): Promise<void>;
  observe(feedback: RateFeedback, now: number): Promise<void>;
}

/** Options of `redisTokenBucket`. */
export interface RedisTokenBucketOptions {
  /** A connected (or lazily connecting) ioredis client; the host owns it and closes it. */
  readonly redis: Redis;
  /** The budget's name, e.g. `openai:gpt-5-mini` or `openai#key-2`: one per provider/model/key. */
  readonly name: string;
  /** Prepended to the Redis key. Default `taifeng:ratelimit:`. */
  readonly prefix?: string;
  readonly requestsPerMinute?: number;
  readonly tokensPerMinute?: number;
  /** Bucket size as a fraction of a minute's allowance. Default 1 (a full minute's burst). */
  readonly burst?: number;
}

// The bucket: fields r (requests left), t (tokens left), at (ms of the last refill), b (blocked
// until, ms). Caps of 0 mean "no limit on this dimension". Times are the server's (TIME), so
// workers on different machines agree. The key expires once a full refill (and any block) is
// over: an idle budget leaves nothing behind.
const PRELUDE = `
local rCap, rPer, tCap, tPer = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local h = redis.call('HMGET', KEYS[1], 'r', 't', 'at', 'b')
local at = tonumber(h[3]) or now
local elapsed = math.max(0, now - at)
local r = tonumber(h[1]) or rCap
local t = tonumber(h[2]) or tCap
local b = tonumber(h[4]) or 0
if rCap > 0 then r = math.min(rCap, r + elapsed * rPer) end
if tCap > 0 then t = math.min(tCap, t + elapsed * tPer) end
local function save()
  redis.call('HSET', KEYS[1], 'r', tostring(r), 't', tostring(t), 'at', now, 'b', b)
  local ttl = 1000
  if rCap > 0 then ttl = math.max(ttl, math.ceil((rCap - r) / rPer)) end
  if tCap > 0 then ttl = math.max(ttl, math.ceil((tCap - t) / tPer)) end
  ttl = math.max(ttl, b - now)
  redis.call('PEXPIRE', KEYS[1], ttl + 1000)
end
`;

/** ARGV[5]: tokens wanted. Returns {0, 'ok'} or {waitMs, reason}. */
const ACQUIRE = `${PRELUDE}
local n = tonumber(ARGV[5])
if now < b then save() return {b - now, 'retry_after'} end
local rw, tw = 0, 0
if rCap > 0 and r < 1 then rw = math.ceil((1 - r) / rPer) end
local want = n
if tCap > 0 then
  want = math.min(n, tCap)
  if t < want then tw = math.ceil((want - t) / tPer) end
end
if rw > 0 or tw > 0 then
  save()
  if rw >= tw then return {rw, 'requests'} end
  return {tw, 'tokens'}
end
if rCap > 0 then r = r - 1 end
if tCap > 0 then t = t - want end
save()
return {0, 'ok'}
`;

/** ARGV[5]: actual minus estimated tokens. */
const SETTLE = `${PRELUDE}
local d = tonumber(ARGV[5])
if tCap > 0 then
  if d > 0 then t = t - math.min(d, tCap) else t = math.min(tCap, t - d) end
end
save()
return 0
`;

/** ARGV[5]: the provider's Retry-After in ms: blocks every worker until then. */
const BLOCK = `${PRELUDE}
b = math.max(b, now + tonumber(ARGV[5]))
save()
return 0
`;

interface Script {
  readonly source: string;
  readonly sha: string;
}
const script = (source: string): Script => ({
  source,
  sha: createHash("sha1").update(source).digest("hex"),
});
const SCRIPTS = { acquire: script(ACQUIRE), settle: script(SETTLE), block: script(BLOCK) };

function positive(name: string, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!(v > 0) || !Number.isFinite(v))
    throw new TaifengError(
      "invalid_config",
      `redisTokenBucket: ${name} must be a positive number (got ${v})`,
    );
  return v;
}

const REASONS: ReadonlySet<string> = new Set<WaitReason>(["requests", "tokens", "retry_after"]);

/**
 * A token bucket over requests and tokens per minute whose state is in Redis under
 * `prefix + name`: every process (and engine) that builds one with the same `redis` server,
 * `prefix` and `name` shares one budget. Each operation is one Lua script run (EVALSHA, loaded
 * on first use), atomic on the server and on its clock; the `now` arguments are ignored.
 * Semantics match `tokenBucket`: a burst of `burst` minutes' allowance, then the steady rate;
 * a call larger than the bucket waits for a full bucket; a provider's Retry-After blocks every
 * process. Throws `invalid_config` on a nonsensical limit or when neither limit is set.
 */
export function redisTokenBucket(options: RedisTokenBucketOptions): SharedRateLimiter {
  const rpm = positive("requestsPerMinute", options.requestsPerMinute);
  const tpm = positive("tokensPerMinute", options.tokensPerMinute);
  const burst = positive("burst", options.burst) ?? 1;
  if (rpm === undefined && tpm === undefined)
    throw new TaifengError(
      "invalid_config",
      "redisTokenBucket: set requestsPerMinute, tokensPerMinute or both",
    );
  if (options.name === "")
    throw new TaifengError("invalid_config", "redisTokenBucket: name must not be empty");
  const { redis } = options;
  const key = `${options.prefix ?? "taifeng:ratelimit:"}${options.name}`;
  const limits = [
    rpm === undefined ? 0 : Math.max(1, rpm * burst),
    rpm === undefined ? 0 : rpm / 60_000,
    tpm === undefined ? 0 : Math.max(1, tpm * burst),
    tpm === undefined ? 0 : tpm / 60_000,
  ];
  const run = async (s: Script, arg: number): Promise<unknown> => {
    const args = [...limits, arg];
    try {
      return await redis.evalsha(s.sha, 1, key, ...args);
    } catch (err) {
      if (!String((err as Error)?.message).includes("NOSCRIPT")) throw err;
      return await redis.eval(s.source, 1, key, ...args);
    }
  };
  return {
    async tryAcquire(tokens) {
      const reply = (await run(SCRIPTS.acquire, Math.max(0, Math.ceil(tokens)))) as [number, string];
      const [waitMs, reason] = reply;
      if (reason === "ok") return { ok: true };
      if (!REASONS.has(reason)) throw new Error(`unexpected reply from the rate limit script: ${reason}`);
      return { ok: false, waitMs: Math.max(1, Number(waitMs)), reason: reason as WaitReason };
    },
    async settle(estimated, actual) {
      if (tpm === undefined || actual === estimated) return;
      await run(SCRIPTS.settle, Math.round(actual - estimated)).catch(() => {});
    },
    async observe(feedback, now) {
      const ms =
        feedback.retryAfterMs ??
        (feedback.headers ? retryAfterFromHeaders(feedback.headers, now) : undefined);
      if (ms === undefined || !(ms > 0)) return;
      await run(SCRIPTS.block, Math.ceil(ms)).catch(() => {});
    },
  };
}
