import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { describe, expect, it } from "vitest";
import {
  collect,
  expectedChat,
  expectedGemini,
  reasoningText,
  request,
  terminalOf,
  useReplayServer,
} from "../../../test/providers/expected.ts";
import { fixtureLines, type ReplayServer } from "../../../test/providers/replay-server.ts";
import { aiSdkModel } from "./ai-sdk.ts";

let server: ReplayServer;
useReplayServer((s) => {
  server = s;
});

function compatible(name: string) {
  return createOpenAICompatible({ name, baseURL: server.url, apiKey: "k", includeUsage: true });
}

describe("AI SDK bridge", () => {
  for (const file of [
    "openai-compatible__xai-tool-call.chunks.txt",
    "deepseek__deepseek-tool-call.chunks.txt",
    "openai__openai-text.chunks.txt",
  ]) {
    it(`reproduces ${file} through @ai-sdk/openai-compatible`, async () => {
      server.queue({ kind: "fixture", file, framing: "chat" });
      const client = aiSdkModel(compatible("compat").chatModel("some-model"));
      expect(client.id).toBe("compat.chat:some-model");
      const { events, result } = await collect(client, request("Weather?"));
      const expected = expectedChat(file);
      terminalOf(events);
      expect(result.text).toBe(expected.text);
      expect(reasoningText(result)).toBe(expected.reasoning);
      expect(result.calls.map((c) => ({ callId: c.callId, name: c.name, args: c.arguments }))).toEqual(
        expected.calls.map((c) => ({ callId: c.callId, name: c.name, args: c.args })),
      );
      expect(result.finish).toBe(expected.finish);
      expect(result.usage?.inputTokens).toBe(expected.usage.inputTokens);
      expect(result.usage?.cachedInputTokens).toBe(expected.usage.cachedInputTokens);
    });
  }

  it("sends tool calls and results back in the AI SDK prompt format", async () => {
    const file = "openai-compatible__xai-tool-call.chunks.txt";
    server.queue(
      { kind: "fixture", file, framing: "chat" },
      { kind: "fixture", file: "openai__openai-text.chunks.txt", framing: "chat" },
    );
    const client = aiSdkModel(compatible("xai").chatModel("grok-3-mini"));
    const first = request("Weather in San Francisco?");
    const { result } = await collect(client, first);
    const call = result.calls[0];
    if (!call) throw new Error("expected a call");
    await collect(client, {
      ...first,
      items: [
        ...first.items,
        ...result.items,
        { type: "function_call_output", callId: call.callId, output: "Foggy" },
      ],
    });
    const messages = server.requests[1]?.body.messages as Record<string, unknown>[];
    expect(messages.at(-1)).toEqual({ role: "tool", tool_call_id: call.callId, content: "Foggy" });
    const assistant = messages.at(-2) as {
      tool_calls: { id: string; function: { name: string; arguments: string } }[];
    };
    expect(assistant.tool_calls[0]?.id).toBe(call.callId);
    expect(JSON.parse(assistant.tool_calls[0]?.function.arguments ?? "")).toEqual(JSON.parse(call.arguments));
  });

  it("round-trips provider metadata (Gemini thought signatures through @ai-sdk/google)", async () => {
    const file = "google__google-tool-call.chunks.txt";
    server.queue(
      { kind: "fixture", file, framing: "gemini" },
      { kind: "fixture", file: "google__google-text.chunks.txt", framing: "gemini" },
    );
    const google = createGoogleGenerativeAI({ baseURL: server.url, apiKey: "k" });
    const client = aiSdkModel(google("gemini-3-pro-preview"));
    const first = request("Weather in San Francisco?");
    const { result } = await collect(client, first);
    const expected = expectedGemini(file);
    expect(result.calls.map((c) => ({ name: c.name, args: JSON.parse(c.arguments) }))).toEqual(
      expected.calls.map((c) => ({ name: c.name, args: JSON.parse(c.args) })),
    );
    const call = result.calls[0];
    if (!call) throw new Error("expected a call");
    await collect(client, {
      ...first,
      items: [
        ...first.items,
        ...result.items,
        { type: "function_call_output", callId: call.callId, output: "Sunny" },
      ],
    });
    const firstLine = fixtureLines(file)[0] as {
      candidates: { content: { parts: { thoughtSignature: string }[] } }[];
    };
    const signature = firstLine.candidates[0]?.content.parts[0]?.thoughtSignature;
    const contents = server.requests[1]?.body.contents as {
      role: string;
      parts: Record<string, unknown>[];
    }[];
    const modelTurn = contents.find((c) => c.role === "model");
    expect(modelTurn?.parts[0]?.thoughtSignature).toBe(signature);
  });

  it("classifies an HTTP error thrown by the model's doStream", async () => {
    server.queue({
      kind: "status",
      status: 429,
      body: { error: { message: "slow down", type: "rate_limit_exceeded" } },
      headers: { "retry-after": "7" },
    });
    const client = aiSdkModel(compatible("compat").chatModel("m"));
    const { events } = await collect(client, request("hi"));
    const last = terminalOf(events);
    expect(last.type === "error" && last.error).toMatchObject({
      code: "rate_limit",
      retryAfterMs: 7000,
      status: 429,
    });
  });
});
