import { describe, expect, it } from "vitest";
import { z } from "zod";
import { costOf, ModelCatalog } from "../../src/llm/catalog.ts";
import { createDeepSeek } from "../../src/llm/providers/deepseek.ts";
import { createModel } from "../../src/llm/resolve.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import { defineTool } from "../../src/tool/define.ts";
import { recorder, shape } from "../helpers/events.ts";
import { expectedAnthropic, expectedChat, useReplayServer } from "./expected.ts";
import { fixtureLines as fixtureLinesOf, type ReplayServer } from "./replay-server.ts";

/**
 * A real provider behind the engine: DeepSeek's recorded tool call and answer, replayed
 * through the OpenAI SDK, drive one whole turn. The event sequence, the tool output sent
 * back, and the per-call and per-turn cost all come out of the recordings.
 */

let server: ReplayServer;
useReplayServer((s) => {
  server = s;
});

const TOOL_CALL = "deepseek__deepseek-tool-call.chunks.txt";
const ANSWER = "deepseek__deepseek-text.chunks.txt";

describe("engine over a real provider SDK", () => {
  it("runs a tool-calling turn and reports usage and cost per call and per turn", async () => {
    server.queue(
      { kind: "fixture", file: TOOL_CALL, framing: "chat" },
      { kind: "fixture", file: ANSWER, framing: "chat" },
    );
    const model = await createDeepSeek({ model: "deepseek-reasoner", apiKey: "k", baseUrl: server.url });
    const weather = defineTool({
      name: "weather",
      description: "Current weather for a location.",
      schema: z.object({ location: z.string() }),
      readOnly: true,
      execute: ({ location }) => `Sunny in ${location}`,
    });
    const rec = recorder();
    const engine = await AgentEngine.open({ model, tools: [weather], listeners: [rec.listener] });
    try {
      const id = engine.submit("What is the weather in San Francisco?");
      for await (const _ of engine.subscribe(id)) {
        // drain
      }
    } finally {
      await engine.close();
    }
    const call = expectedChat(TOOL_CALL);
    const answer = expectedChat(ANSWER);
    const callId = call.calls[0]?.callId ?? "";
    const deltas = (file: string, kind: "assistant_text" | "reasoning_delta") => {
      const { text, reasoning } = expectedChatDeltas(file);
      return (kind === "assistant_text" ? text : reasoning).map((d) => `${kind} ${JSON.stringify(d)}`);
    };
    expect(shape(rec.events)).toEqual([
      "thread_opened",
      "turn_started",
      'user_message input "What is the weather in San Francisco?"',
      "model_call_started 1",
      ...deltas(TOOL_CALL, "reasoning_delta"),
      `tool_call_started weather ${callId}`,
      `tool_call_completed weather ${callId} ok`,
      "model_call_completed 1 tool_calls",
      "model_call_started 2",
      ...deltas(ANSWER, "assistant_text"),
      `assistant_message ${JSON.stringify(answer.text)}`,
      "model_call_completed 2 length",
      "turn_completed",
      "shutdown_complete",
    ]);
    const prices = new ModelCatalog().lookup("deepseek", "deepseek-reasoner")?.prices;
    if (!prices) throw new Error("deepseek-reasoner must be in the catalog");
    const costs = rec.events.flatMap((e) => (e.msg.type === "model_call_completed" ? [e.msg.costUsd] : []));
    expect(costs).toEqual([costOf(call.usage, prices), costOf(answer.usage, prices)]);
    const end = rec.events.find((e) => e.msg.type === "turn_completed")?.msg;
    expect(end?.type === "turn_completed" && end.costUsd).toBeCloseTo((costs[0] ?? 0) + (costs[1] ?? 0), 12);
    expect(end?.type === "turn_completed" && end.usage.cachedInputTokens).toBe(
      call.usage.cachedInputTokens + answer.usage.cachedInputTokens,
    );
    // The tool output went back to the provider with the reasoning of the tool loop.
    const messages = server.requests[1]?.body.messages as Record<string, unknown>[];
    expect(messages.at(-1)).toEqual({
      role: "tool",
      tool_call_id: callId,
      content: "Sunny in San Francisco",
    });
    expect((messages.at(-2) as { reasoning_content?: string }).reasoning_content).toBe(call.reasoning);
  });
});

describe("engine retries through the provider", () => {
  it("reports a retried model call as model_retry and completes the turn", async () => {
    server.queue(
      {
        kind: "status",
        status: 503,
        body: { error: { message: "overloaded" } },
        headers: { "retry-after-ms": "5" },
      },
      { kind: "fixture", file: "anthropic__anthropic-text.chunks.txt", framing: "anthropic" },
    );
    const model = await createModel("anthropic:claude-haiku-4-5", {
      baseUrl: server.url,
      env: { ANTHROPIC_API_KEY: "k" },
      retry: { baseDelayMs: 1, maxDelayMs: 2 },
    });
    const rec = recorder();
    const engine = await AgentEngine.open({ model, listeners: [rec.listener] });
    try {
      const id = engine.submit("Hello");
      for await (const _ of engine.subscribe(id)) {
        // drain
      }
    } finally {
      await engine.close();
    }
    const text = expectedAnthropic("anthropic__anthropic-text.chunks.txt").text;
    const retry = rec.events.find((e) => e.msg.type === "model_retry")?.msg;
    expect(retry).toMatchObject({
      type: "model_retry",
      step: 1,
      model: "anthropic:claude-haiku-4-5",
      attempt: 1,
    });
    expect(retry?.type === "model_retry" && retry.error).toMatchObject({
      code: "overloaded",
      retryAfterMs: 5,
      status: 503,
    });
    expect(shape(rec.events).filter((s) => !s.startsWith("assistant_text"))).toEqual([
      "thread_opened",
      "turn_started",
      'user_message input "Hello"',
      "model_call_started 1",
      "model_retry",
      `assistant_message ${JSON.stringify(text)}`,
      "model_call_completed 1 stop",
      "turn_completed",
      "shutdown_complete",
    ]);
  });
});

/** The non-empty content and reasoning deltas of a Chat Completions fixture, in order. */
function expectedChatDeltas(file: string): { text: string[]; reasoning: string[] } {
  const text: string[] = [];
  const reasoning: string[] = [];
  for (const line of fixtureLinesOf(file)) {
    const delta = (line.choices as { delta?: Record<string, unknown> }[] | undefined)?.[0]?.delta ?? {};
    if (typeof delta.reasoning_content === "string" && delta.reasoning_content !== "")
      reasoning.push(delta.reasoning_content);
    if (typeof delta.content === "string" && delta.content !== "") text.push(delta.content);
  }
  return { text, reasoning };
}
