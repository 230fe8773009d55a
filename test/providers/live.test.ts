import { describe, expect, it } from "vitest";
import { createModel } from "../../src/llm/resolve.ts";
import type { ResponseItem } from "../../src/protocol/index.ts";
import { collect, request, terminalOf } from "./expected.ts";

/**
 * Live calls to the real APIs. Each provider's block runs only when its key is set, so
 * the default test run (no keys) skips them all. Models can be overridden with
 * TAIFENG_LIVE_<PROVIDER>_MODEL (e.g. TAIFENG_LIVE_OPENAI_MODEL=gpt-5-nano).
 */

const env = process.env;
const providers = [
  { name: "openai", keys: ["OPENAI_API_KEY"], model: "gpt-5-mini" },
  { name: "openai-chat", keys: ["OPENAI_API_KEY"], model: "gpt-4.1-mini" },
  { name: "anthropic", keys: ["ANTHROPIC_API_KEY"], model: "claude-haiku-4-5" },
  { name: "google", keys: ["GEMINI_API_KEY", "GOOGLE_API_KEY"], model: "gemini-2.5-flash" },
  { name: "deepseek", keys: ["DEEPSEEK_API_KEY"], model: "deepseek-chat" },
];

for (const p of providers) {
  const hasKey = p.keys.some((k) => env[k]);
  const model = env[`TAIFENG_LIVE_${p.name.replace("-", "_").toUpperCase()}_MODEL`] ?? p.model;
  describe.skipIf(!hasKey)(`live ${p.name}:${model}`, () => {
    it("answers, calls a tool, and reads its output back", { timeout: 120_000 }, async () => {
      const client = await createModel(`${p.name}:${model}`, { retry: { maxAttempts: 3 } });
      const first = request(
        "What is the weather in Paris? Use the weather tool, then answer in one sentence.",
        {
          toolChoice: "required",
        },
      );
      const step1 = await collect(client, first);
      expect(terminalOf(step1.events)).toMatchObject({ type: "finish", reason: "tool_calls" });
      const call = step1.result.calls[0];
      if (!call) throw new Error("the model made no tool call");
      expect(JSON.parse(call.arguments)).toHaveProperty("location");
      expect(step1.result.usage?.inputTokens).toBeGreaterThan(0);
      const history: ResponseItem[] = [
        ...first.items,
        ...step1.result.items,
        ...step1.result.calls.map((c) => ({
          type: "function_call_output" as const,
          callId: c.callId,
          output: "18 C, sunny",
        })),
      ];
      const step2 = await collect(client, { ...first, toolChoice: "auto", items: history });
      expect(terminalOf(step2.events)).toMatchObject({ type: "finish", reason: "stop" });
      expect(step2.result.text).toMatch(/18|sunny/i);
    });
  });
}
