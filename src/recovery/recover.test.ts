import { describe, expect, it } from "vitest";
import { z } from "zod";
import { shape } from "../../test/helpers/events.ts";
import { useReplayServer } from "../../test/providers/expected.ts";
import { framedFixture, type ReplayServer } from "../../test/providers/replay-server.ts";
import { createAnthropic } from "../llm/providers/anthropic.ts";
import { createOpenAIChat } from "../llm/providers/openai-chat.ts";
import { SimClient } from "../llm/sim/sim-client.ts";
import type { ModelRequest } from "../llm/types.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { Event, EventMsgOf } from "../protocol/index.ts";
import { defineTool } from "../tool/define.ts";
import { CONTINUE_PROMPT, withRecovery } from "./recover.ts";

const record = () => {
  const events: Event[] = [];
  return { events, listener: (e: Event) => events.push(e) };
};

describe("continuation after finish: length", () => {
  it("stitches the continued answer into one assistant message and sums usage", async () => {
    const seen: ModelRequest[] = [];
    const sim = new SimClient({
      name: "short",
      script: [
        (r) => {
          seen.push(r);
          return {
            text: ["The answer is forty"],
            finish: "length",
            usage: { inputTokens: 10, outputTokens: 5 },
          };
        },
        (r) => {
          seen.push(r);
          return { text: ["-two."], usage: { inputTokens: 20, outputTokens: 2 } };
        },
      ],
    });
    const { events, listener } = record();
    const engine = await AgentEngine.open({
      model: withRecovery(sim),
      listeners: [listener],
      context: false,
    });
    await engine.submitAndWait("what is it?");
    await engine.close();
    expect(shape(events)).toEqual([
      "thread_opened",
      "turn_started",
      'user_message input "what is it?"',
      "model_call_started 1",
      'assistant_text "The answer is forty"',
      "model_recovery",
      'assistant_text "-two."',
      'assistant_message "The answer is forty-two."',
      "model_call_completed 1 stop",
      "turn_completed",
      "shutdown_complete",
    ]);
    const done = events.find((e) => e.msg.type === "model_call_completed")
      ?.msg as EventMsgOf<"model_call_completed">;
    expect(done.usage).toMatchObject({ inputTokens: 30, outputTokens: 7 });
    // The continuation request carries the partial answer and the continue prompt.
    expect(seen[1]?.items.slice(-2)).toEqual([
      { type: "message", role: "assistant", content: [{ type: "text", text: "The answer is forty" }] },
      { type: "message", role: "user", content: [{ type: "text", text: CONTINUE_PROMPT }] },
    ]);
  });

  it("is bounded: after maxContinuations the call ends with length", async () => {
    const sim = new SimClient({
      name: "loop",
      script: [{ text: "a", finish: "length" }],
      onExhausted: "repeat_last",
    });
    const { events, listener } = record();
    const engine = await AgentEngine.open({
      model: withRecovery(sim, { maxContinuations: 2 }),
      listeners: [listener],
      context: false,
    });
    await engine.submitAndWait("go");
    await engine.close();
    expect(events.filter((e) => e.msg.type === "model_recovery")).toHaveLength(2);
    const done = events.find((e) => e.msg.type === "model_call_completed")
      ?.msg as EventMsgOf<"model_call_completed">;
    expect(done.finishReason).toBe("length");
    expect(events.find((e) => e.msg.type === "assistant_message")?.msg).toEqual({
      type: "assistant_message",
      text: "aaa",
    });
  });
});

describe("recovery against providers (official SDKs, replay server)", () => {
  let server: ReplayServer;
  useReplayServer((s) => {
    server = s;
  });

  it("a stream failing before output is retried once, then sent without streaming", async () => {
    const fail = {
      kind: "status",
      status: 500,
      body: { error: { message: "boom", type: "server_error" } },
    } as const;
    server.queue(fail, fail, {
      kind: "status",
      status: 200,
      body: {
        id: "c1",
        object: "chat.completion",
        model: "gpt-4.1-nano",
        choices: [
          { index: 0, message: { role: "assistant", content: "Fine, thanks." }, finish_reason: "stop" },
        ],
        usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
      },
    });
    const opts = { model: "gpt-4.1-nano", apiKey: "k", baseUrl: server.url };
    const client = withRecovery(await createOpenAIChat(opts), {
      nonStreaming: await createOpenAIChat({ ...opts, streaming: false }),
    });
    const { events, listener } = record();
    const engine = await AgentEngine.open({ model: client, listeners: [listener], context: false });
    await engine.submitAndWait("how are you?");
    await engine.close();
    const recoveries = events
      .filter((e) => e.msg.type === "model_recovery")
      .map((e) => (e.msg as EventMsgOf<"model_recovery">).action);
    expect(recoveries).toEqual(["stream_retry", "non_streaming"]);
    expect(server.requests.map((r) => r.body.stream)).toEqual([true, true, false]);
    expect(events.find((e) => e.msg.type === "assistant_message")?.msg).toEqual({
      type: "assistant_message",
      text: "Fine, thanks.",
    });
    const done = events.find((e) => e.msg.type === "model_call_completed")
      ?.msg as EventMsgOf<"model_call_completed">;
    expect(done.usage).toMatchObject({ inputTokens: 9, outputTokens: 3 });
  });

  it("a provider error mid-stream after text continues the answer (Anthropic SDK)", async () => {
    const head = framedFixture("anthropic__anthropic-text.chunks.txt", "anthropic").slice(0, 6);
    const error = `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "api_error", message: "Internal server error" } })}\n\n`;
    server.queue(
      { kind: "raw", chunks: [...head, error] },
      { kind: "fixture", file: "anthropic__anthropic-text.chunks.txt", framing: "anthropic" },
    );
    const client = withRecovery(
      await createAnthropic({ model: "claude-haiku-4-5", apiKey: "k", baseUrl: server.url }),
    );
    const { events, listener } = record();
    const engine = await AgentEngine.open({ model: client, listeners: [listener], context: false });
    await engine.submitAndWait("hello");
    await engine.close();
    const message = events.find((e) => e.msg.type === "assistant_message")
      ?.msg as EventMsgOf<"assistant_message">;
    expect(message.text).toBe(
      "Hello! I'm doing well, thank you for askingHello! I'm doing well, thank you for asking. How are you doing today? Is there anything I can help you with?",
    );
    const rec = events.find((e) => e.msg.type === "model_recovery")?.msg as EventMsgOf<"model_recovery">;
    expect(rec.action).toBe("continuation");
    expect(rec.message).toMatch(/Internal server error; continuing after 43 characters/);
    const second = server.requests[1]?.body.messages as { role: string; content: unknown }[];
    expect(second.at(-2)).toMatchObject({ role: "assistant" });
    expect(events.filter((e) => e.msg.type === "assistant_message")).toHaveLength(1);
  });

  it("a provider error after a complete tool call keeps it and runs it exactly once", async () => {
    const file = "synthetic/anthropic__thinking-parallel-tools.chunks.txt";
    const head = framedFixture(file, "anthropic").slice(0, 16); // Paris complete, Tokyo started
    const error = `event: error\ndata: ${JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } })}\n\n`;
    server.queue(
      { kind: "raw", chunks: [...head, error] },
      { kind: "fixture", file: "anthropic__anthropic-text.chunks.txt", framing: "anthropic" },
    );
    const runs: string[] = [];
    const weather = defineTool({
      name: "weather",
      description: "Weather.",
      schema: z.object({ location: z.string() }),
      execute: ({ location }) => {
        runs.push(location);
        return `sunny in ${location}`;
      },
    });
    const client = withRecovery(
      await createAnthropic({ model: "claude-haiku-4-5", apiKey: "k", baseUrl: server.url }),
    );
    const { events, listener } = record();
    const engine = await AgentEngine.open({
      model: client,
      tools: [weather],
      listeners: [listener],
      context: false,
    });
    await engine.submitAndWait("weather in Paris and Tokyo?");
    await engine.close();
    expect(runs).toEqual(["Paris"]);
    expect(server.requests).toHaveLength(2);
    const s = shape(events);
    // Paris ran once; Tokyo, cut mid-arguments, is answered as unfinished and never run; the
    // next step is a new request, not a replay of the failed one.
    expect(s.slice(s.indexOf("model_recovery"))).toEqual([
      "model_recovery",
      'assistant_message "Let me check both cities."',
      "model_call_completed 1 tool_calls",
      "tool_call_completed weather toolu_01Paris ok",
      "warning tool_call_unfinished",
      "tool_call_started weather toolu_02Tokyo",
      "tool_call_completed weather toolu_02Tokyo invalid_input",
      "model_call_started 2",
      'assistant_text "Hello"',
      'assistant_text "! I"',
      'assistant_text "\'m doing well, thank you for asking"',
      'assistant_text ". How are you doing today?"',
      'assistant_text " Is"',
      'assistant_text " there anything I can help you with?"',
      'assistant_message "Hello! I\'m doing well, thank you for asking. How are you doing today? Is there anything I can help you with?"',
      "model_call_completed 2 stop",
      "turn_completed",
      "shutdown_complete",
    ]);
    const rec = events.find((e) => e.msg.type === "model_recovery")?.msg as EventMsgOf<"model_recovery">;
    expect(rec).toMatchObject({
      action: "cut_after_calls",
      message: "anthropic:claude-haiku-4-5: Overloaded; keeping 1 complete tool call(s)",
    });
  });
});
