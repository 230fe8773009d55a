import { describe, expect, it } from "vitest";
import { isTaifengError } from "../errors.ts";
import { costOf, ModelCatalog } from "./catalog.ts";

describe("ModelCatalog", () => {
  it("finds models by exact name, dated name, and provider-specific override", () => {
    const catalog = new ModelCatalog().extend([
      {
        model: "gpt-4.1-mini",
        provider: "azure",
        contextWindow: 1000,
        maxOutputTokens: 10,
        prices: { input: 9, output: 9 },
      },
      {
        model: "llama3.3:70b",
        contextWindow: 131_072,
        maxOutputTokens: 8192,
        prices: { input: 0, output: 0 },
      },
    ]);
    expect(catalog.lookup("openai", "gpt-4.1-nano-2025-04-14")?.model).toBe("gpt-4.1-nano");
    expect(catalog.lookup("anthropic", "claude-haiku-4-5-20251001")?.model).toBe("claude-haiku-4-5");
    expect(catalog.lookup("azure", "gpt-4.1-mini")?.prices?.input).toBe(9);
    expect(catalog.lookup("openai", "gpt-4.1-mini")?.prices?.input).toBe(0.4);
    expect(catalog.lookup("openai-chat", "llama3.3:70b")?.contextWindow).toBe(131_072);
    expect(catalog.lookup("openai", "no-such-model")).toBeUndefined();
  });

  it("looks client ids up by provider and model, the same answer every time", () => {
    const catalog = new ModelCatalog().extend([
      { model: "llama3.3:70b", contextWindow: 131_072, maxOutputTokens: 8192 },
    ]);
    for (let round = 0; round < 2; round++) {
      expect(catalog.forClient("openai:gpt-4.1-nano-2025-04-14")?.model).toBe("gpt-4.1-nano");
      // Only the first colon separates the provider: model names may contain colons.
      expect(catalog.forClient("ollama:llama3.3:70b")?.contextWindow).toBe(131_072);
      expect(catalog.forClient("sim:bench")).toBeUndefined();
      expect(catalog.forClient("gpt-4.1-nano")).toBeUndefined(); // not a client id
    }
    // Many distinct ids (past the remembered set) keep answering correctly.
    for (let i = 0; i < 600; i++) expect(catalog.forClient(`sim:m${i}`)).toBeUndefined();
    expect(catalog.forClient("openai:gpt-4.1-mini")?.prices?.input).toBe(0.4);
  });

  it("rejects a bad entry naming it", () => {
    try {
      new ModelCatalog([{ model: "x", contextWindow: -1, maxOutputTokens: 1 }]);
      expect.unreachable();
    } catch (err) {
      expect(isTaifengError(err, "invalid_config")).toBe(true);
      expect((err as Error).message).toBe(
        "model catalog entry 0: contextWindow: Too small: expected number to be >0",
      );
    }
  });
});

describe("costOf", () => {
  it("bills uncached input, cache reads, cache writes and output at their own prices", () => {
    const prices = { input: 3, cachedInput: 0.3, cacheWrite: 3.75, output: 15 };
    const usage = {
      inputTokens: 10_000,
      cachedInputTokens: 6_000,
      cacheWriteTokens: 2_000,
      outputTokens: 1_000,
      reasoningTokens: 400,
    };
    // 2000 * 3 + 6000 * 0.3 + 2000 * 3.75 + 1000 * 15 = 30300 per million
    expect(costOf(usage, prices)).toBe(0.0303);
  });

  it("prices cache traffic as plain input when the model has no cache prices", () => {
    const usage = {
      inputTokens: 1_000_000,
      cachedInputTokens: 500_000,
      cacheWriteTokens: 0,
      outputTokens: 0,
      reasoningTokens: 0,
    };
    expect(costOf(usage, { input: 2, output: 8 })).toBe(2);
  });
});
