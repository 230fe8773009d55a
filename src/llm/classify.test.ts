import { describe, expect, it } from "vitest";
import { classifyError, classifyFacts, errorFacts, retryAfterFromHeaders } from "./classify.ts";

describe("classifyFacts", () => {
  const cases: [string, Parameters<typeof classifyFacts>[0], string][] = [
    ["429", { message: "Rate limit reached", status: 429 }, "rate_limit"],
    ["429 insufficient_quota", { message: "quota", status: 429, code: "insufficient_quota" }, "quota"],
    ["402", { message: "Insufficient Balance", status: 402 }, "quota"],
    ["400 credit balance", { message: "Your credit balance is too low", status: 400 }, "quota"],
    ["529", { message: "Overloaded", status: 529 }, "overloaded"],
    ["503", { message: "unavailable", status: 503 }, "overloaded"],
    ["500", { message: "boom", status: 500 }, "server"],
    ["504", { message: "gateway timeout", status: 504 }, "timeout"],
    ["401", { message: "bad key", status: 401 }, "auth"],
    ["413", { message: "too large", status: 413 }, "context_overflow"],
    ["400 context", { message: "maximum context length is 8192 tokens", status: 400 }, "context_overflow"],
    [
      "400 llama.cpp",
      {
        message: "the request exceeds the available context size, try increasing it",
        status: 400,
        type: "exceed_context_size_error",
      },
      "context_overflow",
    ],
    [
      "400 xAI",
      {
        message: "This model's maximum prompt length is 131072 but the request contains 150000 tokens.",
        status: 400,
      },
      "context_overflow",
    ],
    [
      "400 policy",
      { message: "Invalid prompt: flagged by our content policy", status: 400 },
      "content_filter",
    ],
    ["400 other", { message: "Unknown parameter", status: 400 }, "invalid_request"],
    ["stream overloaded_error", { message: "Overloaded", type: "overloaded_error" }, "overloaded"],
    ["ECONNRESET", { message: "socket hang up", systemCode: "ECONNRESET" }, "network"],
    ["ETIMEDOUT", { message: "timeout", systemCode: "ETIMEDOUT" }, "timeout"],
  ];
  for (const [name, facts, code] of cases) {
    it(`${name} -> ${code}`, () => {
      const info = classifyFacts(facts);
      expect(info.code).toBe(code);
      expect(info.retryable).toBe(
        ["rate_limit", "overloaded", "server", "timeout", "network"].includes(code),
      );
    });
  }
});

describe("retryAfterFromHeaders", () => {
  it("reads retry-after-ms, seconds and HTTP dates", () => {
    expect(retryAfterFromHeaders(new Headers({ "retry-after-ms": "250" }))).toBe(250);
    expect(retryAfterFromHeaders({ "retry-after": "3" })).toBe(3000);
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterFromHeaders({ "retry-after": "Thu, 01 Jan 2026 00:00:05 GMT" }, now)).toBe(5000);
    expect(retryAfterFromHeaders({ "retry-after": "soon" })).toBeUndefined();
  });
});

describe("errorFacts and classifyError", () => {
  it("reads Google's JSON-in-message errors with RetryInfo", () => {
    const err = Object.assign(
      new Error(
        JSON.stringify({
          error: {
            code: 429,
            message: "Quota exceeded",
            status: "RESOURCE_EXHAUSTED",
            details: [{ retryDelay: "12s" }],
          },
        }),
      ),
      { status: 429 },
    );
    expect(errorFacts(err)).toMatchObject({
      message: "Quota exceeded",
      status: 429,
      type: "RESOURCE_EXHAUSTED",
      retryAfterMs: 12000,
    });
    expect(classifyError(err, undefined, "google:x")).toMatchObject({
      code: "rate_limit",
      retryAfterMs: 12000,
    });
  });

  it("tells a timeout the provider imposed from a caller abort", () => {
    expect(classifyError(new Error("aborted"), "first_byte_timeout").code).toBe("timeout");
    expect(classifyError(new Error("aborted"), "idle_timeout").code).toBe("timeout");
    expect(classifyError(new Error("aborted"), "user").code).toBe("aborted");
    expect(classifyError(new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } })).code).toBe(
      "network",
    );
    expect(classifyError(new SyntaxError("Unexpected token")).code).toBe("server");
  });
});
