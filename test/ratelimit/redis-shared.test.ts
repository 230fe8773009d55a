import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import type { Event } from "../../src/protocol/index.ts";
import { redisTokenBucket } from "../../src/ratelimit/redis.ts";
import { RateLimits, withRateLimit } from "../../src/ratelimit/wrap.ts";
import { REDIS_URL, services } from "../helpers/services.ts";

const svc = await services({ redis: true });
// This file's own keys: nothing another test (or helper) writes is touched.
const PREFIX = `taifeng-test:ratelimit:${process.pid}:${randomBytes(4).toString("hex")}:`;
const WORKER = fileURLToPath(new URL("./redis-worker.ts", import.meta.url));

let redis: Redis;
beforeAll(() => {
  if (svc.run) redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 2 });
});
afterAll(async () => {
  if (!redis) return;
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

/** Runs the worker script; resolves with its JSON line. Kills it if the test times out. */
function worker(env: Record<string, string>): Promise<{ admitted: number; refused: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WORKER], {
      env: { ...process.env, REDIS_URL, PREFIX, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 50_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(JSON.parse(out.trim()));
      else reject(new Error(`worker exited ${code}: ${err}`));
    });
  });
}

describe.runIf(svc.run)("redisTokenBucket (real Redis)", () => {
  it("two processes draw on one budget: exactly the bucket is admitted, the rest refused", async () => {
    // 6 requests of burst, then one per minute: within the test, nothing refills.
    const env = {
      NAME: "openai:gpt-5-mini",
      RPM: "1",
      BURST: "6",
      CALLS: "5",
      MAX_WAIT_MS: "100",
      GO_AT: String(Date.now() + 3_000),
    };
    const [a, b] = await Promise.all([worker(env), worker(env)]);
    expect(a.admitted + b.admitted).toBe(6);
    expect(a.refused + b.refused).toBe(4);
    // The budget's state is in Redis under the prefix and the name, with an expiry.
    const key = `${PREFIX}openai:gpt-5-mini`;
    expect(Number(await redis.hget(key, "r"))).toBeLessThan(1);
    expect(await redis.pttl(key)).toBeGreaterThan(0);
  }, 60_000);

  it("keeps the in-process bucket's semantics: reasons, token settling, Retry-After for everyone", async () => {
    const name = `semantics-${randomBytes(3).toString("hex")}`;
    const one = redisTokenBucket({
      redis,
      prefix: PREFIX,
      name,
      requestsPerMinute: 600,
      tokensPerMinute: 6_000,
      burst: 1 / 60,
    });
    const two = redisTokenBucket({
      redis,
      prefix: PREFIX,
      name,
      requestsPerMinute: 600,
      tokensPerMinute: 6_000,
      burst: 1 / 60,
    });
    // Bucket: 10 requests and 100 tokens.
    expect(await one.tryAcquire(90, 0)).toEqual({ ok: true });
    expect(await two.tryAcquire(20, 0)).toMatchObject({ ok: false, reason: "tokens" });
    await one.settle(90, 30, 0); // the call used 30: 60 come back, for both
    expect(await two.tryAcquire(20, 0)).toEqual({ ok: true });
    // A Retry-After seen by one blocks the other.
    await one.observe({ limited: true, retryAfterMs: 30_000 }, 0);
    const blocked = await two.tryAcquire(1, 0);
    expect(blocked).toMatchObject({ ok: false, reason: "retry_after" });
    expect(blocked.ok === false && blocked.waitMs > 25_000 && blocked.waitMs <= 30_000).toBe(true);
    // A budget of another name is untouched.
    const other = redisTokenBucket({ redis, prefix: PREFIX, name: `${name}-b`, requestsPerMinute: 60 });
    expect(await other.tryAcquire(1, 0)).toEqual({ ok: true });
    expect(() => redisTokenBucket({ redis, name: "x" })).toThrow(
      /set requestsPerMinute, tokensPerMinute or both/,
    );
    expect(() => redisTokenBucket({ redis, name: "x", requestsPerMinute: -1 })).toThrow(
      /requestsPerMinute must be a positive number \(got -1\)/,
    );
  });

  it("in engines: a wait is a rate_limit_wait event and an interrupt ends it; an unreachable Redis fails the call as retryable", async () => {
    const name = `engine-${randomBytes(3).toString("hex")}`;
    const limits = new RateLimits().set(
      name,
      redisTokenBucket({ redis, prefix: PREFIX, name, requestsPerMinute: 1 }),
    );
    const limiter = limits.get(name);
    if (!limiter) throw new Error("no limiter");
    const events: Event[] = [];
    const engine = await AgentEngine.open({
      model: withRateLimit(new SimClient({ name: "r", script: [{ text: "first" }, { text: "never" }] }), {
        limiter,
        key: name,
      }),
      listeners: [(e) => events.push(e)],
      context: false,
    });
    await engine.submitAndWait("one");
    const sub = await engine.submit("two");
    await new Promise<void>((resolve) => engine.on((e) => e.msg.type === "rate_limit_wait" && resolve()));
    await engine.submit({ type: "interrupt" });
    for await (const e of engine.subscribe(sub)) if (e.msg.type === "turn_aborted") break;
    await engine.close();
    const second = events.filter((e) => e.submissionId === sub).map((e) => e.msg);
    expect(second.find((m) => m.type === "rate_limit_wait")).toMatchObject({ key: name, reason: "requests" });
    expect(second.map((m) => m.type)).toContain("turn_aborted");
    expect(second.map((m) => m.type)).not.toContain("assistant_text");

    const dead = new Redis("redis://127.0.0.1:1", {
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    dead.on("error", () => {});
    const unreachable = withRateLimit(new SimClient({ name: "d", script: [{ text: "x" }] }), {
      limiter: redisTokenBucket({ redis: dead, name: "d", requestsPerMinute: 1 }),
      key: "d",
    });
    const out = [];
    for await (const ev of unreachable.stream({ system: "", items: [], tools: [] })) out.push(ev);
    expect(out).toEqual([
      {
        type: "error",
        error: expect.objectContaining({
          code: "network",
          retryable: true,
          message: expect.stringContaining("rate limiter d is unavailable"),
        }),
      },
    ]);
    dead.disconnect();
  });
});
