import { describe, expect, it } from "vitest";
import type { ResponseItem } from "../protocol/index.ts";
import { textMessage } from "../protocol/index.ts";
import { counterFor, heuristicCounter, openaiCounter, openaiEncodingFor, TokenEstimator } from "./tokens.ts";

describe("token counters", () => {
  it("prices words, digit groups, punctuation runs and scripts the way BPE tokenizers cut them", () => {
    const h = heuristicCounter();
    expect(h.count("")).toBe(0);
    expect(h.count("hello world")).toBe(2); // a short word is one token, the space joins it
    expect(h.count("internationalization")).toBe(4); // 1 + (20 - 5) / 5
    expect(h.count("2025")).toBe(2); // digits in groups of three
    expect(h.count('{"a":1}')).toBe(6); // {" a ": 1 }
    expect(h.count("上下文窗口")).toBe(5);
    expect(h.count("😀😀")).toBe(5); // 2.5 per emoji
    expect(h.count("𠀀")).toBe(3); // an astral character counts once, as a pair
  });

  // The uncalibrated estimate decides the first compactions of every non-OpenAI thread: an
  // estimate that is too low lets the first prompt overflow the window.
  it("never under-counts JSON, Thai or emoji against the exact tokenizer, and stays close on prose and code", async () => {
    const exact = await openaiCounter("o200k_base");
    const h = heuristicCounter();
    const records = Array.from({ length: 40 }, (_, i) => ({
      id: i,
      name: `item-${i}`,
      tags: ["a", "b"],
      price: i * 1.25,
      ok: i % 2 === 0,
      nested: { x: i, y: null },
    }));
    const conservative: Record<string, string> = {
      json: JSON.stringify(records),
      jsonPretty: JSON.stringify(records, null, 2),
      thai: "ภาษาไทยเป็นภาษาที่มีวรรณยุกต์ และไม่มีการเว้นวรรคระหว่างคำ สวัสดีครับ ".repeat(30),
      emoji: "😀😃😄😁😆😅😂🤣🥲☺️😊😇🙂🙃😉😌😍🥰😘😗😙😚😋😛😝😜🤪🤨🧐🤓😎🥸🤩🥳".repeat(10),
      emojiSequences: "👨‍👩‍👧‍👦👩‍💻🏳️‍🌈🧑🏽‍🚀👍🏿".repeat(20),
      emojiInText: "Great job 🎉🎉 thanks 🙏 see you 👋 soon! ".repeat(30),
      hindi: "हिन्दी भारत की एक प्रमुख भाषा है और यह देवनागरी लिपि में लिखी जाती है। ".repeat(30),
      arabic: "اللغة العربية هي إحدى أكثر اللغات انتشارا في العالم. مرحبا بكم جميعا. ".repeat(30),
      russian: "Русский язык является одним из самых распространённых языков мира. Привет всем. ".repeat(30),
      korean: "한국어 텍스트는 토큰이 많이 필요합니다. 안녕하세요 여러분. ".repeat(30),
      chinese: "缓存感知的上下文压缩在长会话中节省大量输入令牌。".repeat(30),
      english: "The quick brown fox jumps over the lazy dog. ".repeat(40),
      code: "export function add(a: number, b: number): number { return a + b; }\n".repeat(30),
      python: "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n".repeat(20),
      numbers: Array.from({ length: 200 }, (_, i) => (i * 7919.123).toFixed(3)).join(", "),
      logs: "2025-01-12T10:22:33.123Z INFO  [worker-3] request_id=8f2a9c processed in 123ms status=200\n".repeat(
        20,
      ),
    };
    for (const [name, text] of Object.entries(conservative)) {
      const ratio = h.count(text) / exact.count(text);
      expect({ name, atLeastExact: ratio >= 1 }).toEqual({ name, atLeastExact: true });
      expect({ name, notWildlyOver: ratio < 1.5 }).toEqual({ name, notWildlyOver: true });
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
      Math.round((heuristicCounter().count("x".repeat(400)) + 4) * est.calibration),
    );
  });
});
