import { describe, expect, it } from "vitest";
import { collect, request, useReplayServer } from "../../test/providers/expected.ts";
import type { ReplayServer } from "../../test/providers/replay-server.ts";
import { createOpenAIChat } from "../llm/providers/openai-chat.ts";
import { withRetry } from "../llm/retry.ts";
import { SimClient } from "../llm/sim/sim-client.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { Event, EventMsgOf } from "../protocol/index.ts";
import { adaptiveLimiter, parseReset, slidingWindow, tokenBucket } from "./limiters.ts";
import { RateLimits, withRateLimit } from "./wrap.ts";

describe("token bucket", () => {
  it("allows a burst, then the steady rate, for requests and tokens", () => {
    const l = tokenBucket({ requestsPerMinute: 60, tokensPerMinute: 6_000 });
    expect(l.tryAcquire(100, 0)).toEqual({ ok: true });
    for (let i = 1; i < 60; i++) expect(l.tryAcquire(1, 0).ok).toBe(true);
    // 60 requests used: the next one waits one refill (1 request per second).
    expect(l.tryAcquire(1, 0)).toEqual({ ok: false, waitMs: 1000, reason: "requests" });
    expect(l.tryAcquire(1, 1000)).toEqual({ ok: true });
    const t = tokenBucket({ tokensPerMinute: 6_000 });
    expect(t.tryAcquire(6_000, 0).ok).toBe(true);
    expect(t.tryAcquire(100, 0)).toEqual({ ok: false, waitMs: 1000, reason: "tokens" });
    expect(t.tryAcquire(100, 500)).toEqual({ ok: false, waitMs: 500, reason: "tokens" });
    // A call larger than the bucket waits for a full bucket, not forever.
    expect(t.tryAcquire(1_000_000, 60_000).ok).toBe(true);
  });

  it("corrects a call's estimate with its real usage", () => {
    const l = tokenBucket({ tokensPerMinute: 1_000 });
    expect(l.tryAcquire(900, 0).ok).toBe(true);
    expect(l.tryAcquire(200, 0).ok).toBe(false);
    l.settle(900, 100, 0); // the call used 100: 800 come back
    expect(l.tryAcquire(200, 0).ok).toBe(true);
  });

  it("rejects a nonsensical limit with the option's name", () => {
    expect(() => tokenBucket({ requestsPerMinute: 0 })).toThrow(
      /requestsPerMinute must be a positive number \(got 0\)/,
    );
  });
});

describe("sliding window", () => {
  it("counts exactly within any window", () => {
    const l = slidingWindow({ windowMs: 1000, maxRequests: 2, maxTokens: 100 });
    expect(l.tryAcquire(10, 0).ok).toBe(true);
    expect(l.tryAcquire(10, 400).ok).toBe(true);
    expect(l.tryAcquire(10, 500)).toEqual({ ok: false, waitMs: 500, reason: "requests" });
    expect(l.tryAcquire(10, 1000).ok).toBe(true); // the first left the window
    expect(l.tryAcquire(95, 1401)).toEqual({ ok: false, waitMs: 599, reason: "tokens" });
  });
});

describe("adaptive limiter", () => {
  it("waits for the provider's reset when it says nothing is left", () => {
    const l = adaptiveLimiter();
    l.observe({ headers: { "x-ratelimit-remaining-requests": "1", "x-ratelimit-reset-requests": "2s" } }, 0);
    expect(l.tryAcquire(10, 0).ok).toBe(true);
    expect(l.tryAcquire(10, 500)).toEqual({ ok: false, waitMs: 1500, reason: "adaptive" });
    expect(l.tryAcquire(10, 2000).ok).toBe(true);
  });

  it("honours Retry-After, and backs off exponentially on 429s without one", () => {
    const l = adaptiveLimiter({ baseBackoffMs: 100 });
    l.observe({ limited: true, retryAfterMs: 3000 }, 0);
    expect(l.tryAcquire(1, 10)).toEqual({ ok: false, waitMs: 2990, reason: "retry_after" });
    l.observe({ limited: true }, 3000); // second strike: 200 ms
    expect(l.tryAcquire(1, 3000)).toEqual({ ok: false, waitMs: 200, reason: "retry_after" });
    l.observe({ limited: true }, 3100); // reported twice while blocked: not a new strike
    l.observe({ limited: true }, 3300); // third strike: 400 ms
    expect(l.tryAcquire(1, 3300)).toEqual({ ok: false, waitMs: 400, reason: "retry_after" });
  });

  it("reads every reset format the providers use", () => {
    expect(parseReset("6m0s", 0)).toBe(360_000);
    expect(parseReset("20ms", 0)).toBe(20);
    expect(parseReset("1.5s", 0)).toBe(1500);
    expect(parseReset("12", 0)).toBe(12_000);
    expect(parseReset("2026-01-01T00:00:10Z", Date.parse("2026-01-01T00:00:00Z"))).toBe(10_000);
    expect(parseReset("soon", 0)).toBeUndefined();
  });
});

describe("withRateLimit in engines", () => {
  it("shares one limiter across engines; a wait is an event and cancellable", async () => {
    const limiter = tokenBucket({ requestsPerMinute: 600, burst: 1 / 600 }); // 1 request, then one per 100 ms
    const events: Event[] = [];
    const open = (name: string) =>
      AgentEngine.open({
        model: withRateLimit(new SimClient({ name, script: [{ text: "ok" }] }), { limiter, key: "shared" }),
        listeners: [(e) => events.push(e)],
        context: false,
      });
    const [a, b] = await Promise.all([open("a"), open("b")]);
    await Promise.all([a.submitAndWait("one"), b.submitAndWait("two")]);
    const waits = events
      .filter((e) => e.msg.type === "rate_limit_wait")
      .map((e) => e.msg as EventMsgOf<"rate_limit_wait">);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toMatchObject({ key: "shared", reason: "requests" });
    expect(events.filter((e) => e.msg.type === "turn_completed")).toHaveLength(2);

    // A wait longer than the test: an interrupt ends it at once with aborted.
    const slow = tokenBucket({ requestsPerMinute: 1 });
    slow.tryAcquire(1, Date.now());
    const c = await AgentEngine.open({
      model: withRateLimit(new SimClient({ name: "c", script: [{ text: "never" }] }), { limiter: slow }),
      listeners: [(e) => events.push(e)],
      context: false,
    });
    const sub = await c.submit("three");
    const waiting = new Promise<void>((resolve) =>
      c.on((e) => e.msg.type === "rate_limit_wait" && resolve()),
    );
    await waiting;
    await c.submit({ type: "interrupt" });
    for await (const e of c.subscribe(sub)) if (e.msg.type === "turn_aborted") break;
    await Promise.all([a.close(), b.close(), c.close()]);
    const ofC = events.filter((e) => e.submissionId === sub).map((e) => e.msg.type);
    expect(ofC).toContain("turn_aborted");
    expect(ofC).not.toContain("assistant_text");
  });
});

describe("rate limits against a provider (OpenAI SDK, replay server)", () => {
  let server: ReplayServer;
  useReplayServer((s) => {
    server = s;
  });

  it("a 429 with Retry-After closes the shared gate; headers of a success are learnt", async () => {
    server.queue(
      {
        kind: "status",
        status: 429,
        body: { error: { message: "slow down", type: "rate_limit_exceeded" } },
        headers: { "retry-after-ms": "150" },
      },
      {
        kind: "fixture",
        file: "openai__openai-text.chunks.txt",
        framing: "chat",
        headers: { "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "5s" },
      },
    );
    const limits = new RateLimits().set("openai", adaptiveLimiter());
    const sdk = await createOpenAIChat({
      model: "gpt-4.1-nano",
      apiKey: "k",
      baseUrl: server.url,
      fetch: limits.observingFetch("openai"),
    });
    const limiter = limits.get("openai");
    if (!limiter) throw new Error("no limiter");
    const client = withRetry(withRateLimit(sdk, { limiter, key: "openai" }), { maxAttempts: 1 });
    const first = await collect(client, request("hi"));
    expect(first.events.at(-1)).toMatchObject({
      type: "error",
      error: { code: "rate_limit", retryAfterMs: 150 },
    });
    // Another call through the same limiter waits for the server's Retry-After before sending.
    const started = Date.now();
    const { events } = await collect(client, request("hi"));
    const types = events.map((e) => (e.type === "notice" ? `notice:${e.notice.kind}` : e.type));
    expect(types[0]).toBe("notice:rate_limit_wait");
    expect(events[0]).toMatchObject({ notice: { reason: "retry_after" } });
    expect(types.at(-1)).toBe("finish");
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(server.requests).toHaveLength(2);
    // The success said no request is left for 5 s: the next call must wait, not be sent.
    expect(limiter.tryAcquire(1, Date.now())).toMatchObject({ ok: false, reason: "adaptive" });
  });
});
