// The non-streaming fallback (a stream failing before output: one retry, then the request
// without streaming) for every provider that has a non-streaming mode, through the official
// SDKs against the local replay server.

import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { useReplayServer } from "../../test/providers/expected.ts";
import type { ReplayServer } from "../../test/providers/replay-server.ts";
import { aiSdkModel } from "../llm/providers/ai-sdk.ts";
import { createAnthropic } from "../llm/providers/anthropic.ts";
import { createGemini } from "../llm/providers/gemini.ts";
import { createOpenAIResponses } from "../llm/providers/openai-responses.ts";
import type { ModelClient } from "../llm/types.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { Event, EventMsgOf } from "../protocol/index.ts";
import { defineTool } from "../tool/define.ts";
import { withRecovery } from "./recover.ts";

const weather = defineTool({
  name: "get_weather",
  description: "Weather in a city.",
  schema: z.object({ city: z.string() }),
  readOnly: true,
  execute: ({ city }) => `sunny in ${city}`,
});

/** Runs one turn on `client` wrapped with recovery; returns its events. */
async function turn(streaming: ModelClient, nonStreaming: ModelClient): Promise<Event[]> {
  const events: Event[] = [];
  const engine = await AgentEngine.open({
    model: withRecovery(streaming, { nonStreaming }),
    tools: [weather],
    listeners: [(e) => events.push(e)],
    context: false,
  });
  await engine.submitAndWait("weather in Paris?");
  await engine.close();
  return events;
}

const of = <T extends Event["msg"]["type"]>(events: Event[], type: T) =>
  events.filter((e) => e.msg.type === type).map((e) => e.msg as EventMsgOf<T>);

const status500 = (body: unknown) => ({ kind: "status", status: 500, body }) as const;

describe("non-streaming fallback per provider (official SDKs, replay server)", () => {
  let server: ReplayServer;
  useReplayServer((s) => {
    server = s;
  });

  it("Anthropic Messages: thinking, text and a tool call from one non-streamed Message", async () => {
    const fail = status500({ type: "error", error: { type: "api_error", message: "boom" } });
    server.queue(fail, fail, {
      kind: "status",
      status: 200,
      body: {
        id: "msg_ns1",
        type: "message",
        role: "assistant",
        model: "claude-haiku-4-5-20251001",
        content: [
          { type: "thinking", thinking: "Look it up.", signature: "sig-1" },
          { type: "text", text: "Checking." },
          { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } },
        ],
        stop_reason: "tool_use",
        usage: { input_tokens: 20, output_tokens: 7, cache_read_input_tokens: 5 },
      },
    });
    server.queue({ kind: "fixture", file: "anthropic__anthropic-text.chunks.txt", framing: "anthropic" });
    const opts = { model: "claude-haiku-4-5", apiKey: "k", baseUrl: server.url };
    const events = await turn(
      await createAnthropic(opts),
      await createAnthropic({ ...opts, streaming: false }),
    );
    expect(of(events, "model_recovery").map((r) => r.action)).toEqual(["stream_retry", "non_streaming"]);
    expect(server.requests.map((r) => r.body.stream)).toEqual([true, true, false, true]);
    const first = of(events, "model_call_completed")[0];
    expect(first).toMatchObject({
      finishReason: "tool_calls",
      usage: { inputTokens: 25, cachedInputTokens: 5, outputTokens: 7 },
    });
    expect(of(events, "tool_call_completed")[0]).toMatchObject({
      name: "get_weather",
      output: "sunny in Paris",
    });
    // The thinking block and its signature go back to the provider on the next call.
    const sent = server.requests[3]?.body.messages as { role: string; content: unknown }[];
    expect(sent[1]).toEqual({
      role: "assistant",
      content: [
        { type: "thinking", thinking: "Look it up.", signature: "sig-1" },
        { type: "text", text: "Checking." },
        { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } },
      ],
    });
    expect(of(events, "turn_completed")).toHaveLength(1);
  });

  it("OpenAI Responses: a non-streamed Response with text", async () => {
    const fail = status500({ error: { message: "boom", type: "server_error" } });
    server.queue(fail, fail, {
      kind: "status",
      status: 200,
      body: {
        id: "resp_ns1",
        object: "response",
        status: "completed",
        model: "gpt-4.1-nano-2025-04-14",
        output: [
          {
            id: "msg_1",
            type: "message",
            role: "assistant",
            status: "completed",
            content: [{ type: "output_text", text: "Sunny, I think.", annotations: [] }],
          },
        ],
        usage: {
          input_tokens: 12,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: 4,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: 16,
        },
      },
    });
    const opts = { model: "gpt-4.1-nano", apiKey: "k", baseUrl: server.url };
    const events = await turn(
      await createOpenAIResponses(opts),
      await createOpenAIResponses({ ...opts, streaming: false }),
    );
    expect(of(events, "model_recovery").map((r) => r.action)).toEqual(["stream_retry", "non_streaming"]);
    expect(server.requests.map((r) => r.body.stream)).toEqual([true, true, false]);
    expect(of(events, "assistant_message")).toEqual([{ type: "assistant_message", text: "Sunny, I think." }]);
    expect(of(events, "model_call_completed")[0]).toMatchObject({
      finishReason: "stop",
      usage: { inputTokens: 12, outputTokens: 4 },
    });
  });

  it("Gemini: a non-streamed GenerateContentResponse with a function call", async () => {
    const fail = status500({ error: { code: 500, message: "boom", status: "INTERNAL" } });
    server.queue(fail, fail, {
      kind: "status",
      status: 200,
      body: {
        candidates: [
          {
            content: {
              role: "model",
              parts: [{ functionCall: { name: "get_weather", args: { city: "Paris" } } }],
            },
            finishReason: "STOP",
          },
        ],
        usageMetadata: { promptTokenCount: 15, candidatesTokenCount: 5, totalTokenCount: 20 },
        modelVersion: "gemini-2.5-flash",
        responseId: "gem_ns1",
      },
    });
    server.queue({ kind: "fixture", file: "google__google-text.chunks.txt", framing: "gemini" });
    const opts = { model: "gemini-2.5-flash", apiKey: "k", baseUrl: server.url };
    const events = await turn(await createGemini(opts), await createGemini({ ...opts, streaming: false }));
    expect(of(events, "model_recovery").map((r) => r.action)).toEqual(["stream_retry", "non_streaming"]);
    expect(server.requests.map((r) => /:(\w+)/.exec(r.path.split("?")[0] ?? "")?.[1])).toEqual([
      "streamGenerateContent",
      "streamGenerateContent",
      "generateContent",
      "streamGenerateContent",
    ]);
    expect(of(events, "model_call_completed")[0]).toMatchObject({
      finishReason: "tool_calls",
      usage: { inputTokens: 15, outputTokens: 5 },
    });
    expect(of(events, "tool_call_completed")[0]).toMatchObject({
      name: "get_weather",
      output: "sunny in Paris",
    });
    expect(of(events, "turn_completed")).toHaveLength(1);
  });

  it("AI SDK bridge: doGenerate's content replayed as stream parts, tool call included", async () => {
    const fail = status500({ error: { message: "boom", type: "server_error" } });
    server.queue(fail, fail, {
      kind: "status",
      status: 200,
      body: {
        id: "chatcmpl-ns1",
        object: "chat.completion",
        model: "gpt-4.1-nano",
        choices: [
          {
            index: 0,
            message: {
              role: "assistant",
              content: null,
              tool_calls: [
                {
                  id: "call_ns",
                  type: "function",
                  function: { name: "get_weather", arguments: '{"city":"Paris"}' },
                },
              ],
            },
            finish_reason: "tool_calls",
          },
        ],
        usage: { prompt_tokens: 11, completion_tokens: 6, total_tokens: 17 },
      },
    });
    server.queue({ kind: "fixture", file: "openai__openai-text.chunks.txt", framing: "chat" });
    const provider = createOpenAICompatible({
      name: "compat",
      baseURL: server.url,
      apiKey: "k",
      includeUsage: true,
    });
    const events = await turn(
      aiSdkModel(provider.chatModel("gpt-4.1-nano")),
      aiSdkModel(provider.chatModel("gpt-4.1-nano"), { streaming: false }),
    );
    expect(of(events, "model_recovery").map((r) => r.action)).toEqual(["stream_retry", "non_streaming"]);
    expect(server.requests.map((r) => r.body.stream === true)).toEqual([true, true, false, true]);
    expect(of(events, "model_call_completed")[0]).toMatchObject({
      finishReason: "tool_calls",
      usage: { inputTokens: 11, outputTokens: 6 },
    });
    expect(of(events, "tool_call_completed")[0]).toMatchObject({
      name: "get_weather",
      output: "sunny in Paris",
    });
    expect(of(events, "turn_completed")).toHaveLength(1);
  });
});
