import { describe, expect, it } from "vitest";
import type { ModelEvent } from "../types.ts";
import { anthropicTranslator } from "./anthropic-stream.ts";
import { geminiTranslator } from "./gemini-stream.ts";
import { chatTranslator } from "./openai-chat-stream.ts";
import { responsesTranslator } from "./openai-responses-stream.ts";
import type { Translator } from "./runtime.ts";

/** Refusals, filters and truncation as each API reports them, fed straight into the translators. */

function run<T>(t: Translator<T>, chunks: T[]): string {
  const events: ModelEvent[] = [];
  for (const c of chunks) events.push(...t.push(c));
  events.push(...t.end());
  const last = events.find((e) => e.type === "finish" || e.type === "error");
  if (last?.type === "finish") return `finish ${last.reason}`;
  if (last?.type === "error") return `error ${last.error.code}`;
  return "none";
}

describe("finish reasons and stream-level failures", () => {
  it("Chat Completions: content_filter and length", () => {
    const chunk = (finish: string) => ({ choices: [{ delta: { content: "x" }, finish_reason: finish }] });
    expect(run(chatTranslator("t"), [chunk("content_filter")])).toBe("finish content_filter");
    expect(run(chatTranslator("t"), [chunk("length")])).toBe("finish length");
    expect(run(chatTranslator("t"), [chunk("insufficient_system_resource")])).toBe("error overloaded");
  });

  it("Responses: refusal, incomplete and failed", () => {
    const t = responsesTranslator("t");
    expect(
      run(t, [
        { type: "response.refusal.delta", delta: "No." },
        { type: "response.completed", response: {} },
      ]),
    ).toBe("finish refusal");
    const incomplete = (reason: string) => ({
      type: "response.incomplete",
      response: { incomplete_details: { reason } },
    });
    expect(run(responsesTranslator("t"), [incomplete("content_filter")])).toBe("finish content_filter");
    expect(run(responsesTranslator("t"), [incomplete("max_output_tokens")])).toBe("finish length");
    const failed = {
      type: "response.failed",
      response: { error: { code: "rate_limit_exceeded", message: "slow" } },
    };
    expect(run(responsesTranslator("t"), [failed])).toBe("error rate_limit");
    expect(run(responsesTranslator("t"), [{ type: "error", code: "server_error", message: "oops" }])).toBe(
      "error server",
    );
  });

  it("Anthropic: refusal and max_tokens", () => {
    const stop = (reason: string) => [
      { type: "message_start", message: { usage: { input_tokens: 1 } } },
      { type: "message_delta", delta: { stop_reason: reason }, usage: { output_tokens: 1 } },
      { type: "message_stop" },
    ];
    expect(run(anthropicTranslator("t"), stop("refusal"))).toBe("finish refusal");
    expect(run(anthropicTranslator("t"), stop("max_tokens"))).toBe("finish length");
  });

  it("Gemini: MAX_TOKENS, SAFETY and malformed calls", () => {
    const finish = (reason: string) => [
      { candidates: [{ content: { parts: [{ text: "x" }] }, finishReason: reason }] },
    ];
    expect(run(geminiTranslator("t"), finish("MAX_TOKENS"))).toBe("finish length");
    expect(run(geminiTranslator("t"), finish("SAFETY"))).toBe("finish content_filter");
    expect(run(geminiTranslator("t"), finish("MALFORMED_FUNCTION_CALL"))).toBe("error server");
  });
});
