import { describe, expect, it } from "vitest";
import { withFallback } from "../../src/llm/fallback.ts";
import { createAnthropic } from "../../src/llm/providers/anthropic.ts";
import { createDeepSeek } from "../../src/llm/providers/deepseek.ts";
import { createGemini } from "../../src/llm/providers/gemini.ts";
import { createOpenAIChat } from "../../src/llm/providers/openai-chat.ts";
import { OPENAI_DIALECT } from "../../src/llm/providers/openai-chat-request.ts";
import type { ProviderTimeouts } from "../../src/llm/providers/runtime.ts";
import { type RetryPolicy, withRetry } from "../../src/llm/retry.ts";
import type { ModelClient, ModelEvent } from "../../src/llm/types.ts";
import { collect, terminalOf, useReplayServer, request as userRequest } from "./expected.ts";
import type { ReplayServer } from "./replay-server.ts";

/**
 * Fault injection: every failure a provider can produce over HTTP ends in a classified
 * error or a successful retry, never a hang, a retry storm or an unhandled rejection.
 * Backoff is kept tiny through the policy; attempts are counted on the server.
 */

let server: ReplayServer;
useReplayServer((s) => {
  server = s;
});

const FAST: RetryPolicy = { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 4, maxRetryAfterMs: 1000 };
const TEXT = { kind: "fixture", file: "openai__openai-text.chunks.txt", framing: "chat" } as const;
const ANTHROPIC_TEXT = {
  kind: "fixture",
  file: "anthropic__anthropic-text.chunks.txt",
  framing: "anthropic",
} as const;

const chat = (timeouts?: ProviderTimeouts) =>
  createOpenAIChat({
    model: "gpt-4.1-mini",
    apiKey: "k",
    baseUrl: server.url,
    dialect: OPENAI_DIALECT,
    ...(timeouts ? { timeouts } : {}),
  });
const anthropic = () => createAnthropic({ model: "claude-haiku-4-5", apiKey: "k", baseUrl: server.url });

function sse(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}
function chatDelta(content: string, finish: string | null = null): string {
  return sse({
    id: "c",
    object: "chat.completion.chunk",
    choices: [{ index: 0, delta: { content }, finish_reason: finish }],
  });
}

function summary(events: readonly ModelEvent[]) {
  const last = terminalOf(events);
  return {
    retries: events.filter((e) => e.type === "retry").map((e) => (e.type === "retry" ? e.error.code : "")),
    end:
      last.type === "finish"
        ? `finish:${last.reason}`
        : `error:${last.type === "error" ? last.error.code : ""}`,
    requests: server.requests.length,
  };
}

async function run(client: ModelClient | Promise<ModelClient>, policy: RetryPolicy | false = FAST) {
  const base = await client;
  const wrapped = policy === false ? base : withRetry(base, policy);
  return collect(wrapped, userRequest("hi"));
}

describe("HTTP errors", () => {
  it("429 with Retry-After: waits what the server asked, then succeeds", async () => {
    server.queue(
      {
        kind: "status",
        status: 429,
        body: { error: { message: "Rate limit reached", type: "requests" } },
        headers: { "retry-after-ms": "40" },
      },
      TEXT,
    );
    const { events } = await run(chat());
    expect(summary(events)).toEqual({ retries: ["rate_limit"], end: "finish:stop", requests: 2 });
    const retry = events.find((e) => e.type === "retry");
    expect(retry?.type === "retry" && retry.error.retryAfterMs).toBe(40);
    expect(retry?.type === "retry" && retry.delayMs).toBeGreaterThanOrEqual(40);
    expect(retry?.type === "retry" && retry.delayMs).toBeLessThanOrEqual(44);
  });

  it("429 asking for a longer wait than allowed fails at once", async () => {
    server.queue({
      kind: "status",
      status: 429,
      body: { error: { message: "slow down" } },
      headers: { "retry-after": "120" },
    });
    const { events } = await run(chat());
    expect(summary(events)).toEqual({ retries: [], end: "error:rate_limit", requests: 1 });
  });

  it("500 is retried a bounded number of times", async () => {
    const fail = {
      kind: "status",
      status: 500,
      body: { error: { message: "boom", type: "server_error" } },
    } as const;
    server.queue(fail, fail, fail, TEXT);
    const { events } = await run(chat());
    expect(summary(events)).toEqual({ retries: ["server", "server"], end: "error:server", requests: 3 });
    expect(server.pending).toBe(1);
  });

  it("529 overloaded (Anthropic) is classified and retried", async () => {
    server.queue(
      {
        kind: "status",
        status: 529,
        body: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } },
      },
      ANTHROPIC_TEXT,
    );
    const { events } = await run(anthropic());
    expect(summary(events)).toEqual({ retries: ["overloaded"], end: "finish:stop", requests: 2 });
  });

  it("an overloaded error event before any output (Anthropic) is retried", async () => {
    const overloaded = `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } })}\n\n`;
    server.queue({ kind: "raw", chunks: [overloaded] }, ANTHROPIC_TEXT);
    const { events } = await run(anthropic());
    expect(summary(events)).toEqual({ retries: ["overloaded"], end: "finish:stop", requests: 2 });
  });

  it("non-retryable quota errors fail at once (OpenAI 429 insufficient_quota, DeepSeek 402)", async () => {
    server.queue({
      kind: "status",
      status: 429,
      body: {
        error: {
          message: "You exceeded your current quota",
          type: "insufficient_quota",
          code: "insufficient_quota",
        },
      },
    });
    expect(summary((await run(chat())).events)).toEqual({ retries: [], end: "error:quota", requests: 1 });
    server.queue({
      kind: "status",
      status: 402,
      body: { error: { message: "Insufficient Balance", type: "unknown_error" } },
    });
    const deepseek = createDeepSeek({ model: "deepseek-chat", apiKey: "k", baseUrl: server.url });
    expect(summary((await run(deepseek)).events)).toEqual({ retries: [], end: "error:quota", requests: 2 });
  });

  it("auth, context overflow and bad requests are not retried", async () => {
    server.queue(
      {
        kind: "status",
        status: 401,
        body: { error: { message: "Incorrect API key provided", code: "invalid_api_key" } },
      },
      {
        kind: "status",
        status: 400,
        body: {
          error: {
            message: "This model's maximum context length is 128000 tokens",
            code: "context_length_exceeded",
          },
        },
      },
      {
        kind: "status",
        status: 400,
        body: {
          type: "error",
          error: {
            type: "invalid_request_error",
            message: "prompt is too long: 210000 tokens > 200000 maximum",
          },
        },
      },
      { kind: "status", status: 400, body: { error: { message: "Unknown parameter: 'foo'" } } },
    );
    const ends = [];
    ends.push(summary((await run(chat())).events).end);
    ends.push(summary((await run(chat())).events).end);
    ends.push(summary((await run(anthropic())).events).end);
    ends.push(summary((await run(chat())).events).end);
    expect(ends).toEqual([
      "error:auth",
      "error:context_overflow",
      "error:context_overflow",
      "error:invalid_request",
    ]);
    expect(server.requests.length).toBe(4);
  });

  it("Gemini RESOURCE_EXHAUSTED with RetryInfo is a rate limit with the server's delay", async () => {
    server.queue(
      {
        kind: "status",
        status: 429,
        body: {
          error: {
            code: 429,
            message: "You exceeded your current quota, please check your plan and billing details.",
            status: "RESOURCE_EXHAUSTED",
            details: [{ "@type": "type.googleapis.com/google.rpc.RetryInfo", retryDelay: "0.03s" }],
          },
        },
      },
      { kind: "fixture", file: "google__google-text.chunks.txt", framing: "gemini" },
    );
    const { events } = await run(
      createGemini({ model: "gemini-2.5-flash", apiKey: "k", baseUrl: server.url }),
    );
    expect(summary(events)).toEqual({ retries: ["rate_limit"], end: "finish:stop", requests: 2 });
    const retry = events.find((e) => e.type === "retry");
    expect(retry?.type === "retry" && retry.error.retryAfterMs).toBe(30);
  });
});

describe("broken streams", () => {
  it("a connection reset after output is reported as network and not retried", async () => {
    server.queue(
      { kind: "fixture", file: "openai__openai-text.chunks.txt", framing: "chat", cutAfter: 5 },
      TEXT,
    );
    const { events, result } = await run(chat());
    expect(summary(events)).toEqual({ retries: [], end: "error:network", requests: 1 });
    expect(result.text.length).toBeGreaterThan(0);
  });

  it("a connection reset before any output is retried", async () => {
    server.queue({ kind: "raw", chunks: [], reset: true }, TEXT);
    const { events } = await run(chat());
    expect(summary(events)).toEqual({ retries: ["network"], end: "finish:stop", requests: 2 });
  });

  it("a malformed chunk is a server error; retried only when nothing was streamed", async () => {
    server.queue({ kind: "raw", chunks: [chatDelta("Hel"), "data: {not json\n\n"] });
    expect(summary((await run(chat())).events)).toEqual({ retries: [], end: "error:server", requests: 1 });
    server.queue({ kind: "raw", chunks: ["data: {not json\n\n"] }, TEXT);
    expect(summary((await run(chat())).events)).toEqual({
      retries: ["server"],
      end: "finish:stop",
      requests: 3,
    });
  });

  it("a stream that ends without a finish is a network error", async () => {
    server.queue(
      { kind: "raw", chunks: [chatDelta("partial"), "data: [DONE]\n\n"] },
      { kind: "fixture", file: "anthropic__anthropic-text.chunks.txt", framing: "anthropic", endAfter: 6 },
    );
    expect(summary((await run(chat())).events)).toEqual({ retries: [], end: "error:network", requests: 1 });
    expect(summary((await run(anthropic())).events)).toEqual({
      retries: [],
      end: "error:network",
      requests: 2,
    });
  });

  it("a first byte slower than the timeout times out and is retried", async () => {
    server.queue({ kind: "delay", ms: 5000, reply: TEXT }, TEXT);
    const { events } = await run(chat({ firstByteMs: 100 }));
    expect(summary(events)).toEqual({ retries: ["timeout"], end: "finish:stop", requests: 2 });
  });

  it("a stream that stalls mid-way hits the idle timeout", async () => {
    server.queue({ kind: "raw", chunks: [chatDelta("Hello")], hold: true });
    const { events } = await run(chat({ idleMs: 100 }));
    expect(summary(events)).toEqual({ retries: [], end: "error:timeout", requests: 1 });
  });
});

describe("cancellation and fallback", () => {
  it("an abort during the retry wait ends the stream with aborted", async () => {
    server.queue({ kind: "status", status: 503, body: { error: { message: "unavailable" } } });
    const client = withRetry(await chat(), { maxAttempts: 3, baseDelayMs: 60_000, maxDelayMs: 60_000 });
    const ctl = new AbortController();
    const events: ModelEvent[] = [];
    for await (const ev of client.stream(userRequest("hi"), { signal: ctl.signal })) {
      events.push(ev);
      if (ev.type === "retry") ctl.abort();
    }
    expect(events.map((e) => (e.type === "error" ? `error:${e.error.code}` : e.type))).toEqual([
      "retry",
      "error:aborted",
    ]);
    expect(server.requests.length).toBe(1);
  });

  it("an abort while streaming ends with aborted and releases the connection", async () => {
    server.queue({ kind: "raw", chunks: [chatDelta("Hello")], hold: true });
    const ctl = new AbortController();
    const events: ModelEvent[] = [];
    for await (const ev of (await chat()).stream(userRequest("hi"), { signal: ctl.signal })) {
      events.push(ev);
      if (ev.type === "text_delta") ctl.abort();
    }
    expect(events.map((e) => (e.type === "error" ? `error:${e.error.code}` : e.type))).toEqual([
      "text_delta",
      "error:aborted",
    ]);
  });

  it("a fallback chain moves to the next model after the first one's retries", async () => {
    const fail = { kind: "status", status: 500, body: { error: { message: "boom" } } } as const;
    server.queue(fail, fail, ANTHROPIC_TEXT);
    const chain = withFallback([
      withRetry(await chat(), { ...FAST, maxAttempts: 2 }),
      withRetry(await anthropic(), FAST),
    ]);
    const { events, result } = await collect(chain, userRequest("hi"));
    expect(summary(events)).toEqual({ retries: ["server", "server"], end: "finish:stop", requests: 3 });
    const last = events.filter((e) => e.type === "retry").at(-1);
    expect(last?.type === "retry" && last.error.message).toContain(
      "falling back to anthropic:claude-haiku-4-5",
    );
    expect(result.text.length).toBeGreaterThan(0);
  });
});
