// models: what the routing and rate-limiting layers add per model call, and the stable-prefix
// guarantee of every prompt compiler (bench/results/models.json).
import { loadavg } from "node:os";
import { compilerOf, type PromptFamily } from "../src/compile/compilers.ts";
import { prefixIdenticalAcrossTurns } from "../src/compile/prefix-check.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../src/llm/types.ts";
import type { ResponseItem } from "../src/protocol/index.ts";
import { adaptiveLimiter, slidingWindow, tokenBucket } from "../src/ratelimit/limiters.ts";
import { decideRoute } from "../src/router/decide.ts";
import { createRouter } from "../src/router/router.ts";
import { percentile, round, writeResult } from "./lib.ts";

const load = loadavg();

/** Median and p99 over `rounds` of the mean CPU µs per call of `n` calls. */
function sample(fn: () => unknown, n: number, rounds = 21): { p50: number; p99: number } {
  for (let i = 0; i < n; i++) fn();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const d = process.cpuUsage(t0);
    samples.push((d.user + d.system) / n);
  }
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) };
}

// A router over four models (one vision, one small window, one cheap, one deep) and a
// 60-item history that grows by one item per call, as a real thread does.
const sim = (name: string) => new SimClient({ name, script: [{ text: "x" }] });
const router = createRouter({
  models: [
    { client: sim("deep"), contextWindow: 400_000, cost: 15, intents: ["plan", "code"] },
    { client: sim("vision"), contextWindow: 200_000, cost: 3, modalities: ["image"] },
    { client: sim("small"), contextWindow: 16_000, cost: 0.5 },
    { client: sim("cheap"), contextWindow: 128_000, cost: 0.1 },
  ],
  profiles: { budget: ["sim:cheap", "sim:small", "sim:deep"] },
  budgetLeft: () => 0.5,
  breakerState: () => "closed",
});
const items: ResponseItem[] = [];
for (let i = 0; i < 60; i++)
  items.push({
    type: "message",
    role: i % 2 ? "assistant" : "user",
    content: [{ type: "text", text: `message ${i} `.repeat(40) }],
  });
const base: ModelRequest = {
  system: "You are a coding agent.",
  items,
  tools: [],
  threadId: "t1",
  maxOutputTokens: 4096,
};
let grow = 0;
const decideFull = sample(() => {
  // A new item every 64 calls: mostly the memoized estimate, sometimes one new item to size.
  if ((++grow & 63) === 0)
    items.push({ type: "message", role: "user", content: [{ type: "text", text: `more ${grow}` }] });
  return router.decide("default", base);
}, 2_000);
const input = router.inputFor("budget", base);
const decidePure = sample(() => decideRoute(input), 5_000);

// Limiters with room to admit every call (the steady-state path).
const bucket = tokenBucket({ requestsPerMinute: 1e12, tokensPerMinute: 1e15 });
const window = slidingWindow({ windowMs: 1_000, maxRequests: 1e9, maxTokens: 1e15 });
const adaptive = adaptiveLimiter();
adaptive.observe(
  { headers: { "x-ratelimit-remaining-requests": "1000000000", "x-ratelimit-reset-requests": "6m0s" } },
  Date.now(),
);
const acquire = (l: typeof bucket) => sample(() => l.tryAcquire(1_000, Date.now()), 20_000);
const bucketUs = acquire(bucket);
const windowUs = acquire(window);
const adaptiveUs = acquire(adaptive);

const families: PromptFamily[] = ["claude", "glm", "cache_priced", "reasoning"];
const perCompiler: Record<string, boolean> = {};
for (const f of families)
  perCompiler[f] = prefixIdenticalAcrossTurns(compilerOf(f), f === "claude" ? "anthropic" : "chat", 20);
const allIdentical = Object.values(perCompiler).every(Boolean);

writeResult(
  "models",
  {
    router_decision_us_p50: round(decideFull.p50, 2),
    router_decision_us_p99: round(decideFull.p99, 2),
    router_decide_pure_us_p50: round(decidePure.p50, 3),
    rate_limiter_acquire_us_p50: round(bucketUs.p50, 3),
    rate_limiter_acquire_us_p99: round(bucketUs.p99, 3),
    sliding_window_acquire_us_p50: round(windowUs.p50, 3),
    adaptive_acquire_us_p50: round(adaptiveUs.p50, 3),
    compiled_prefix_identical_across_turns: allIdentical,
    ...Object.fromEntries(families.map((f) => [`compiled_prefix_identical_${f}`, perCompiler[f] as boolean])),
  },
  {
    load_average_at_start: load.map((v) => round(v, 2)),
    workload:
      "router_decision: ModelRouter.decide (gathering the input: candidates with breaker state and recent errors, modality scan and token estimate of a 60+ item history whose per-item sizes are memoized, budget lookup, then the rules) on 4 models; the history gains one item every 64 calls. router_decide_pure: decideRoute alone on a prepared input. rate_limiter_acquire: tokenBucket.tryAcquire (requests and tokens) on the admitting path; sliding window and adaptive likewise. CPU microseconds, median over 21 rounds of the mean of 2,000-20,000 calls. compiled_prefix_identical_*: 20 scripted turns compiled and serialized with the provider's request builder (Anthropic for claude, Chat Completions otherwise); each turn's bytes must start with the previous turn's (cache_control markers aside).",
    targets: {
      router_decision_us_p50: "<= 20",
      rate_limiter_acquire_us_p50: "reported (no target in the issue)",
      compiled_prefix_identical_across_turns: "true for every compiler",
    },
  },
);
