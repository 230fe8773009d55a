import { describe, expect, it } from "vitest";
import type { ResponseItem } from "../../protocol/index.ts";
import { textMessage } from "../../protocol/index.ts";
import type { ModelRequest } from "../types.ts";
import { PrefixCache } from "./prefix-cache.ts";

// One token per character keeps the arithmetic readable.
const counter = { name: "chars", exact: false, count: (t: string) => t.length };
const block = (n: number, fill = "a") => textMessage("user", fill.repeat(n - 4)); // 4 tokens framing per item
const req = (items: ResponseItem[]): ModelRequest => ({ system: "", tools: [], items });

describe("PrefixCache (openai style)", () => {
  it("caches automatically, reports the longest cached prefix in 128-token steps from 1,024", () => {
    const cache = new PrefixCache({ style: "openai", counter });
    const a = block(1500);
    const first = cache.account(req([a]));
    expect(first).toEqual({ inputTokens: 1502, cachedInputTokens: 0, cacheWriteTokens: 0 }); // "[]" tools = 2
    const second = cache.account(req([a, block(700, "b")]));
    expect(second.inputTokens).toBe(2202);
    expect(second.cachedInputTokens).toBe(1024 + Math.floor((1502 - 1024) / 128) * 128);
    expect(second.cacheWriteTokens).toBe(0);
  });

  it("does not cache prefixes under the minimum and expires entries after the TTL", () => {
    let now = 0;
    const cache = new PrefixCache({ style: "openai", counter, now: () => now, ttlMs: 1000 });
    const small = block(500);
    cache.account(req([small]));
    expect(cache.account(req([small, block(100)])).cachedInputTokens).toBe(0);
    const big = block(2000);
    cache.account(req([big]));
    now = 900;
    expect(cache.account(req([big])).cachedInputTokens).toBeGreaterThan(0); // hit refreshes
    now = 1800;
    expect(cache.account(req([big])).cachedInputTokens).toBeGreaterThan(0);
    now = 3000;
    expect(cache.account(req([big])).cachedInputTokens).toBe(0);
  });

  it("loses everything after an edit in the middle of the history", () => {
    const cache = new PrefixCache({ style: "openai", counter });
    const a = block(1200);
    const b = block(1200, "b");
    cache.account(req([a, b, block(100, "c")]));
    const edited = cache.account(req([a, block(50, "x"), block(100, "c")]));
    expect(edited.cachedInputTokens).toBe(1024 + Math.floor((1202 - 1024) / 128) * 128);
  });
});

describe("PrefixCache (anthropic style)", () => {
  it("writes at breakpoints and reads the longest cached breakpoint prefix", () => {
    const cache = new PrefixCache({ style: "anthropic", counter });
    const history = [block(1500)];
    const first = cache.account(req(history));
    expect(first).toEqual({ inputTokens: 1502, cachedInputTokens: 0, cacheWriteTokens: 1502 });
    history.push(block(300, "b"));
    const second = cache.account(req(history));
    expect(second).toEqual({ inputTokens: 1802, cachedInputTokens: 1502, cacheWriteTokens: 300 });
  });

  it("finds an earlier breakpoint only within 20 blocks of the new one", () => {
    const cache = new PrefixCache({ style: "anthropic", counter });
    const history = [block(1500)];
    cache.account(req(history));
    for (let i = 0; i < 21; i++) history.push(block(10, String(i % 10)));
    const far = cache.account(req(history));
    expect(far.cachedInputTokens).toBe(0);
    const near = cache.account(req([...history, block(10, "z")]));
    expect(near.cachedInputTokens).toBe(far.inputTokens);
  });

  it("never caches a prefix shorter than the minimum", () => {
    const cache = new PrefixCache({ style: "anthropic", counter, minTokens: 2048 });
    const history = [block(1500)];
    expect(cache.account(req(history)).cacheWriteTokens).toBe(0);
    history.push(block(300));
    expect(cache.account(req(history))).toEqual({
      inputTokens: 1802,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
    });
  });
});

describe("PrefixCache (gemini style)", () => {
  it("serves the longest cached prefix token by token, with no write charge", () => {
    const cache = new PrefixCache({ style: "gemini", counter });
    const a = block(1500);
    cache.account(req([a]));
    expect(cache.account(req([a, block(700, "b")]))).toEqual({
      inputTokens: 2202,
      cachedInputTokens: 1502,
      cacheWriteTokens: 0,
    });
  });
});

describe("PrefixCache across rewrites", () => {
  it("still serves the prefix a rewrite kept, and an older branch while it lives", () => {
    let now = 0;
    const cache = new PrefixCache({ style: "gemini", counter, now: () => now, ttlMs: 1000 });
    const head = block(2000);
    const old = [head, block(500, "b"), block(500, "c")];
    cache.account(req(old));
    cache.account(req([...old, block(100, "d")]));
    // A rewrite after the first block: only that block is served.
    const rewritten = [head, block(50, "x")];
    expect(cache.account(req(rewritten)).cachedInputTokens).toBe(2002);
    // Going back to the old branch: its prefix is still cached.
    expect(cache.account(req(old)).cachedInputTokens).toBe(3002);
    now = 5000;
    expect(cache.account(req(old)).cachedInputTokens).toBe(0);
  });

  it("answers a long thread by hashing only what is new (the same figures as a fresh cache)", () => {
    const incremental = new PrefixCache({ style: "openai", counter });
    const history: ResponseItem[] = [block(1200)];
    incremental.account(req(history));
    for (let i = 0; i < 200; i++) {
      history.push(block(50 + (i % 7), String(i % 10)));
      const fresh = new PrefixCache({ style: "openai", counter });
      fresh.account(req(history.slice(0, -1)));
      expect(incremental.account(req(history))).toEqual(fresh.account(req(history)));
    }
  });
});

describe("PrefixCache (anthropic breakpoints)", () => {
  const call = (id: string): ResponseItem => ({
    type: "function_call",
    callId: id,
    name: "t",
    arguments: "{}",
  });
  const out = (id: string): ResponseItem => ({
    type: "function_call_output",
    callId: id,
    output: "y".repeat(40),
  });

  it("places the provider's default breakpoints, so one step of 30 blocks still reads the previous request", () => {
    const cache = new PrefixCache({ style: "anthropic", counter });
    const history: ResponseItem[] = [block(1500)];
    const first = cache.account(req(history));
    // The answer: a text and 15 parallel calls, then their outputs: 31 blocks after the
    // previous request's end, past the last breakpoint's 20-block lookback.
    history.push(textMessage("assistant", "plan"));
    for (let i = 0; i < 15; i++) history.push(call(`c${i}`));
    for (let i = 0; i < 15; i++) history.push(out(`c${i}`));
    expect(cache.account(req(history)).cachedInputTokens).toBe(first.inputTokens);
  });

  it("reads through a breakpoint the request asks for, after a rewrite past the lookback", () => {
    const history: ResponseItem[] = [block(1500)];
    for (let i = 0; i < 30; i++) history.push(call(`c${i}`), out(`c${i}`));
    const rewritten = [...history.slice(0, 1), ...history.slice(1).map((_, i) => block(10, String(i % 10)))];
    const hinted = new PrefixCache({ style: "anthropic", counter });
    hinted.account({ ...req(history), cacheBreakpoints: [1] });
    expect(hinted.account({ ...req(rewritten), cacheBreakpoints: [1] }).cachedInputTokens).toBe(1502);
    const unhinted = new PrefixCache({ style: "anthropic", counter });
    unhinted.account(req(history));
    expect(unhinted.account(req(rewritten)).cachedInputTokens).toBe(0);
  });
});
