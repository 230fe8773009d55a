import { describe, expect, it } from "vitest";
import type { ResponseItem } from "../protocol/index.ts";
import { textMessage } from "../protocol/index.ts";
import { counterFor, heuristicCounter, openaiCounter, openaiEncodingFor, TokenEstimator } from "./tokens.ts";

describe("token counters", () => {
  it("counts CJK characters about one token each and other text about four characters a token", () => {
    const h = heuristicCounter();
    expect(h.count("")).toBe(0);
    expect(h.count("abcdefgh")).toBe(2);
    expect(h.count("上下文窗口")).toBe(5);
    expect(h.count("a上b")).toBe(1 + 1);
    expect(h.count("𠀀")).toBe(1); // astral ideograph (surrogate pair) counts once
  });

  it("is within 35% of the exact tokenizer on English, code and Chinese", async () => {
    const exact = await openaiCounter("o200k_base");
    const h = heuristicCounter();
    const samples = [
      "The quick brown fox jumps over the lazy dog. ".repeat(40),
      "export function add(a: number, b: number): number { return a + b; }\n".repeat(30),
      "缓存感知的上下文压缩在长会话中节省大量输入令牌。".repeat(30),
    ];
    for (const text of samples) {
      const ratio = h.count(text) / exact.count(text);
      expect(ratio).toBeGreaterThan(0.65);
      expect(ratio).toBeLessThan(1.35);
    }
  });

  it("picks the exact OpenAI encoding by model family and the heuristic otherwise", async () => {
    expect(openaiEncodingFor("openai:gpt-4o-mini")).toBe("o200k_base");
    expect(openaiEncodingFor("openai-chat:gpt-5")).toBe("o200k_base");
    expect(openaiEncodingFor("gpt-4-turbo")).toBe("cl100k_base");
    expect(openaiEncodingFor("anthropic:claude-sonnet-4")).toBeUndefined();
    const exact = await counterFor("openai:gpt-4o");
    expect(exact).toMatchObject({ name: "o200k_base", exact: true });
    expect(exact.count("hello world")).toBe(2);
    // The heuristic comes back as is, without a promise: engines open without waiting for it.
    expect(counterFor("sim:demo")).toMatchObject({ name: "heuristic", exact: false });
  });
});

describe("TokenEstimator", () => {
  it("counts each item once and reuses the count", () => {
    let calls = 0;
    const est = new TokenEstimator({
      name: "t",
      exact: false,
      count: (t) => {
        calls++;
        return t.length;
      },
    });
    const items: ResponseItem[] = [textMessage("user", "abcd"), textMessage("assistant", "xy")];
    expect(est.items(items)).toBe(4 + 4 + 4 + 2);
    const after = calls;
    expect(est.items(items)).toBe(14);
    expect(calls).toBe(after);
  });

  it("calibrates toward what the provider reports, within bounds", () => {
    const est = new TokenEstimator(heuristicCounter());
    est.calibrate(1000, 1200);
    expect(est.calibration).toBeCloseTo(1.2);
    est.calibrate(1000, 1200);
    expect(est.calibration).toBeCloseTo(1.2);
    est.calibrate(1000, 10_000); // an outlier is clamped to 2 and averaged in
    expect(est.calibration).toBeCloseTo(1.2 + 0.3 * (2 - 1.2));
    expect(est.prompt("", [], [textMessage("user", "x".repeat(400))])).toBe(
      Math.round((100 + 4) * est.calibration),
    );
  });
});
