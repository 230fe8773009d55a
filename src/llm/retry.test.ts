import { describe, expect, it } from "vitest";
import { modelError } from "./errors.ts";
import { withFallback } from "./fallback.ts";
import { retryDelay, withRetry } from "./retry.ts";
import { SimClient } from "./sim/sim-client.ts";
import type { ModelClient, ModelEvent, ModelRequest } from "./types.ts";

const request: ModelRequest = { system: "", items: [], tools: [], threadId: "t" };

async function events(client: ModelClient): Promise<string[]> {
  const out: string[] = [];
  for await (const ev of client.stream(request)) out.push(label(ev));
  return out;
}

function label(ev: ModelEvent): string {
  switch (ev.type) {
    case "retry":
      return `retry#${ev.attempt} ${ev.error.code} ${ev.delayMs}`;
    case "error":
      return `error ${ev.error.code}`;
    case "finish":
      return `finish ${ev.reason}`;
    case "text_delta":
      return `text ${ev.delta}`;
    default:
      return ev.type;
  }
}

const fast = { baseDelayMs: 2, maxDelayMs: 8, random: () => 0 };

describe("retryDelay", () => {
  it("grows exponentially with equal jitter and caps at maxDelayMs", () => {
    const e = modelError("server", "x");
    const low = { baseDelayMs: 100, maxDelayMs: 1000, random: () => 0 };
    const high = { ...low, random: () => 0.999999 };
    expect([1, 2, 3, 4, 5].map((a) => retryDelay(a, e, low))).toEqual([50, 100, 200, 400, 500]);
    expect([1, 2, 3, 4, 5].map((a) => retryDelay(a, e, high))).toEqual([100, 200, 400, 800, 1000]);
  });

  it("honours Retry-After (plus at most 10%) and refuses waits beyond maxRetryAfterMs", () => {
    const e = modelError("rate_limit", "x", { retryAfterMs: 2000 });
    expect(retryDelay(1, e, { random: () => 0 })).toBe(2000);
    expect(retryDelay(1, e, { random: () => 0.999999 })).toBe(2200);
    expect(retryDelay(1, e, { maxRetryAfterMs: 1000 })).toBeUndefined();
  });
});

describe("withRetry", () => {
  it("retries retryable errors that came before any output, then succeeds", async () => {
    const sim = new SimClient({
      script: [{ error: { code: "overloaded" } }, { error: { code: "network" } }, { text: "ok" }],
    });
    expect(await events(withRetry(sim, { ...fast, maxAttempts: 3 }))).toEqual([
      "retry#1 overloaded 1",
      "retry#2 network 2",
      "text ok",
      "usage",
      "finish stop",
    ]);
  });

  it("stops after maxAttempts and reports the last error", async () => {
    const sim = new SimClient({ script: [{ error: { code: "server" } }], onExhausted: "repeat_last" });
    expect(await events(withRetry(sim, { ...fast, maxAttempts: 2 }))).toEqual([
      "retry#1 server 1",
      "error server",
    ]);
    expect(sim.callsMade("t")).toBe(2);
  });

  it("never retries after output was streamed, nor non-retryable errors", async () => {
    const cut = new SimClient({
      script: [{ text: "half done", error: { code: "network", afterChunks: 1 } }, { text: "x" }],
    });
    expect(await events(withRetry(cut, fast))).toEqual(["text half ", "error network"]);
    const auth = new SimClient({ script: [{ error: { code: "auth" } }, { text: "x" }] });
    expect(await events(withRetry(auth, fast))).toEqual(["error auth"]);
    expect(cut.callsMade("t") + auth.callsMade("t")).toBe(2);
  });

  it("accepts a custom retryOn", async () => {
    const sim = new SimClient({ script: [{ error: { code: "context_overflow" } }, { text: "fits" }] });
    const client = withRetry(sim, { ...fast, retryOn: (e) => e.code === "context_overflow" });
    expect(await events(client)).toEqual(["retry#1 context_overflow 1", "text fits", "usage", "finish stop"]);
  });
});

describe("withFallback", () => {
  it("moves to the next model when one fails before output, naming it", async () => {
    const a = new SimClient({ name: "a", script: [{ error: { code: "quota" } }] });
    const b = new SimClient({ name: "b", script: [{ text: "from b" }] });
    const chain = withFallback([a, b]);
    expect(chain.id).toBe("sim:a");
    const out: ModelEvent[] = [];
    for await (const ev of chain.stream(request)) out.push(ev);
    expect(out.map(label)).toEqual(["retry#1 quota 0", "text from ", "text b", "usage", "finish stop"]);
    const retry = out[0];
    expect(retry?.type === "retry" && retry.error.message).toContain("falling back to sim:b");
  });

  it("does not fall back after output, on content filters, or past the last model", async () => {
    const filtered = new SimClient({ script: [{ error: { code: "content_filter" } }] });
    const spare = new SimClient({ script: [{ text: "never" }] });
    expect(await events(withFallback([filtered, spare]))).toEqual(["error content_filter"]);
    const x = new SimClient({ script: [{ error: { code: "server" } }] });
    const y = new SimClient({ script: [{ error: { code: "overloaded" } }] });
    expect(await events(withFallback([x, y]))).toEqual(["retry#1 server 0", "error overloaded"]);
    expect(spare.callsMade("t")).toBe(0);
  });
});

describe("release through wrappers", () => {
  it("withRetry and withFallback pass a thread's release on to every client they wrap", async () => {
    const a = new SimClient({ name: "a", script: [{ error: { code: "quota" } }, { text: "later" }] });
    const b = new SimClient({ name: "b", script: [{ text: "from b" }] });
    const chain = withRetry(withFallback([a, b]), { maxAttempts: 1 });
    await events(chain);
    expect([a.callsMade("t"), b.callsMade("t")]).toEqual([1, 1]);
    chain.release?.("t");
    expect([a.callsMade("t"), b.callsMade("t")]).toEqual([0, 0]);
    // A wrapped client without release is fine.
    const bare: ModelClient = { id: "x:y", stream: (r, o) => a.stream(r, o) };
    expect(() => withFallback([bare]).release?.("t")).not.toThrow();
  });
});
