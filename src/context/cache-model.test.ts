import { describe, expect, it } from "vitest";
import { builtinCatalog } from "../llm/catalog.ts";
import {
  batchTokens,
  cacheCosts,
  cacheProfile,
  cacheProfileFor,
  rewriteCost,
  rewriteSaving,
  servedPrefix,
  usdOf,
} from "./cache-model.ts";

const prices = (model: string) => builtinCatalog().lookup("", model)?.prices;

describe("cache profiles", () => {
  it("follows the provider, the model's minimum and the client's own hint", () => {
    const of = (id: string, hint?: Parameters<typeof cacheProfileFor>[1]) => {
      const p = cacheProfileFor(id, hint);
      return [p.style, p.minTokens, p.step, p.breakpoints];
    };
    expect(of("anthropic:claude-sonnet-4-5")).toEqual(["anthropic", 1024, 1, 4]);
    expect(of("anthropic:claude-haiku-4-5")).toEqual(["anthropic", 4096, 1, 4]);
    expect(of("anthropic:claude-3-5-haiku")).toEqual(["anthropic", 2048, 1, 4]);
    expect(of("google:gemini-2.5-pro")).toEqual(["gemini", 4096, 1, 0]);
    expect(of("google:gemini-2.5-flash")).toEqual(["gemini", 1024, 1, 0]);
    expect(of("openai:gpt-5")).toEqual(["openai", 1024, 128, 0]);
    expect(of("deepseek:deepseek-chat")).toEqual(["openai", 64, 64, 0]);
    expect(of("groq:llama-3.3-70b")).toEqual(["openai", 1024, 128, 0]);
    expect(of("sim:script")[0]).toBe("none");
    expect(of("sim:script", "anthropic")[0]).toBe("anthropic");
  });

  it("prices relative to the input price, from the catalog or the style's usual ratios", () => {
    const sonnet = cacheCosts(cacheProfile("anthropic"), prices("claude-sonnet-4-5"));
    expect(sonnet).toMatchObject({
      read: expect.closeTo(0.1, 9),
      write: 1.25,
      output: 5,
      inputUsdPerToken: 3e-6,
    });
    const gpt = cacheCosts(cacheProfile("openai"), prices("gpt-5.1"));
    expect(gpt).toMatchObject({ read: expect.closeTo(0.1, 9), write: 1, output: 8 });
    expect(cacheCosts(cacheProfile("none"), prices("claude-sonnet-4-5"))).toMatchObject({
      read: 1,
      write: 1,
    });
    // A missing cache price is billed as input: caching saves nothing.
    expect(cacheCosts(cacheProfile("openai"), { input: 2, output: 8 }).read).toBe(1);
    expect(cacheCosts(cacheProfile("gemini"))).toMatchObject({
      read: 0.1,
      write: 1,
      inputUsdPerToken: undefined,
    });
  });

  it("serves nothing under the minimum and whole steps past it", () => {
    const openai = cacheProfile("openai");
    expect(servedPrefix(openai, 1000)).toBe(0);
    expect(servedPrefix(openai, 1024 + 127)).toBe(1024);
    expect(servedPrefix(openai, 20_000)).toBe(1024 + 148 * 128);
    expect(servedPrefix(cacheProfile("anthropic"), 20_000)).toBe(20_000);
    expect(servedPrefix(cacheProfile("none"), 20_000)).toBe(0);
  });
});

describe("the price of a rewrite (the worked example of docs/guides/context.md)", () => {
  // 60,000-token prompt, 58,000 cached; a trim keeps the first 20,000 and removes 24,000.
  const rewrite = { kept: 20_000, cached: 58_000, after: 36_000, removed: 24_000 };

  it("Anthropic (claude-sonnet-4-5): the 14,000 cached tokens after the cut are written again", () => {
    const costs = cacheCosts(cacheProfile("anthropic"), prices("claude-sonnet-4-5"));
    const cost = rewriteCost(costs, rewrite);
    expect(cost).toBeCloseTo(14_000 * 1.15, 6);
    expect(usdOf(costs, cost)).toBeCloseTo(0.0483, 6);
    expect(rewriteSaving(costs, 24_000, 1)).toBeCloseTo(2_400, 6);
    // Trimming 2,000 tokens' growth per call, the best batch is about 25,400 tokens.
    expect(Math.round(batchTokens(costs, cost, 2_000))).toBe(25_377);
  });

  it("OpenAI (gpt-5.1): no write premium, the kept prefix counted in 128-token steps", () => {
    const costs = cacheCosts(cacheProfile("openai"), prices("gpt-5.1"));
    expect(rewriteCost(costs, rewrite)).toBeCloseTo((34_000 - 19_968) * 0.9, 6);
  });

  it("no cache: a rewrite costs nothing and every trim pays at once", () => {
    const costs = cacheCosts(cacheProfile("none"), prices("claude-sonnet-4-5"));
    expect(rewriteCost(costs, rewrite)).toBe(0);
    expect(batchTokens(costs, 0, 2_000)).toBe(0);
    expect(rewriteSaving(costs, 24_000, 1)).toBe(24_000);
  });
});
