// A worker process for redis-shared.test.ts: makes `CALLS` model calls through a
// redisTokenBucket named NAME under PREFIX, each allowed to wait at most MAX_WAIT_MS, and
// prints one JSON line: how many calls got through and how many were refused.
import { Redis } from "ioredis";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { redisTokenBucket } from "../../src/ratelimit/redis.ts";
import { withRateLimit } from "../../src/ratelimit/wrap.ts";

const env = process.env;
const redis = new Redis(env.REDIS_URL ?? "redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
const limiter = redisTokenBucket({
  redis,
  name: env.NAME ?? "shared",
  prefix: env.PREFIX,
  requestsPerMinute: Number(env.RPM),
  burst: Number(env.BURST),
});
const calls = Number(env.CALLS);
const script = Array.from({ length: calls }, () => ({ text: "ok" }));
const client = withRateLimit(new SimClient({ name: "w", script }), {
  limiter,
  key: env.NAME,
  maxWaitMs: Number(env.MAX_WAIT_MS),
});
// Both workers start together: wait for the go time the test set.
await new Promise((r) => setTimeout(r, Math.max(0, Number(env.GO_AT) - Date.now())));
let admitted = 0;
let refused = 0;
for (let i = 0; i < calls; i++) {
  let ok = false;
  for await (const ev of client.stream({ system: "", items: [], tools: [] })) {
    if (ev.type === "finish") ok = true;
    if (ev.type === "error" && ev.error.code !== "rate_limit") throw new Error(ev.error.message);
  }
  if (ok) admitted++;
  else refused++;
}
process.stdout.write(`${JSON.stringify({ admitted, refused })}\n`);
await redis.quit();
