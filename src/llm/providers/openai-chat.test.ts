import { describe, expect, it } from "vitest";
import {
  collect,
  expectedChat,
  expectReplayed,
  request,
  terminalOf,
  useReplayServer,
} from "../../../test/providers/expected.ts";
import type { ReplayServer } from "../../../test/providers/replay-server.ts";
import type { ResponseItem } from "../../protocol/index.ts";
import { ModelCatalog } from "../catalog.ts";
import type { ModelClient } from "../types.ts";
import { createDeepSeek } from "./deepseek.ts";
import { createOpenAIChat } from "./openai-chat.ts";
import { COMPATIBLE_DIALECT, OPENAI_DIALECT } from "./openai-chat-request.ts";

let server: ReplayServer;
useReplayServer((s) => {
  server = s;
});

const cases = [
  { file: "openai__openai-text.chunks.txt", model: "gpt-4.1-nano-2025-04-14", provider: "openai" },
  { file: "synthetic/openai__parallel-tool-calls.chunks.txt", model: "gpt-4.1-mini", provider: "openai" },
  { file: "synthetic/openai__refusal.chunks.txt", model: "gpt-4.1-mini", provider: "openai" },
  { file: "deepseek__deepseek-text.chunks.txt", model: "deepseek-chat", provider: "deepseek" },
  { file: "deepseek__deepseek-tool-call.chunks.txt", model: "deepseek-reasoner", provider: "deepseek" },
  { file: "openai-compatible__xai-tool-call.chunks.txt", model: "grok-3-mini", provider: "compatible" },
] as const;

async function clientFor(c: (typeof cases)[number]): Promise<ModelClient> {
  const base = { model: c.model, apiKey: "test-key", baseUrl: server.url };
  if (c.provider === "deepseek") return createDeepSeek(base);
  return createOpenAIChat({
    ...base,
    dialect: c.provider === "openai" ? OPENAI_DIALECT : COMPATIBLE_DIALECT,
  });
}

describe("Chat Completions replay through the OpenAI SDK", () => {
  for (const c of cases) {
    it(`reproduces ${c.file}`, async () => {
      server.queue({ kind: "fixture", file: c.file, framing: "chat" });
      const client = await clientFor(c);
      const { events, result } = await collect(client, request("What is the weather?"));
      const expected = expectedChat(c.file);
      const prices = new ModelCatalog().lookup(
        c.provider === "deepseek" ? "deepseek" : "openai",
        c.model,
      )?.prices;
      expectReplayed(result, expected, { callIds: true, prices });
      terminalOf(events);
      // Tool arguments arrive as deltas, never as one final blob.
      const deltas = events.filter((e) => e.type === "tool_call_delta").length;
      expect(deltas).toBeGreaterThanOrEqual(expected.calls.length);
      const sent = server.requests[0];
      expect(sent?.path).toBe("/chat/completions");
      expect(sent?.headers.authorization).toBe("Bearer test-key");
      expect(sent?.body.stream).toBe(true);
      expect(sent?.body.stream_options).toEqual({ include_usage: true });
      expect(sent?.body.prompt_cache_key).toBe(c.provider === "openai" ? "thread-test-1" : undefined);
    });
  }
});

describe("Chat Completions follow-up requests", () => {
  it("sends DeepSeek reasoning_content, tool calls and tool outputs back within the tool loop", async () => {
    const file = "deepseek__deepseek-tool-call.chunks.txt";
    server.queue(
      { kind: "fixture", file, framing: "chat" },
      { kind: "fixture", file: "deepseek__deepseek-text.chunks.txt", framing: "chat" },
    );
    const client = await createDeepSeek({ model: "deepseek-reasoner", apiKey: "k", baseUrl: server.url });
    const first = request("Weather in San Francisco?");
    const { result } = await collect(client, first);
    const call = result.calls[0];
    if (!call) throw new Error("expected a tool call");
    const history: ResponseItem[] = [
      ...first.items,
      ...result.items,
      { type: "function_call_output", callId: call.callId, output: "Sunny, 18 C" },
    ];
    await collect(client, { ...first, items: history });
    const messages = server.requests[1]?.body.messages as Record<string, unknown>[];
    expect(messages.map((m) => m.role)).toEqual(["system", "user", "assistant", "tool"]);
    const expected = expectedChat(file);
    expect(messages[2]).toEqual({
      role: "assistant",
      content: expected.text === "" ? null : expected.text,
      reasoning_content: expected.reasoning,
      tool_calls: expected.calls.map((c) => ({
        id: c.callId,
        type: "function",
        function: { name: c.name, arguments: c.args },
      })),
    });
    expect(messages[3]).toEqual({ role: "tool", tool_call_id: call.callId, content: "Sunny, 18 C" });
  });

  it("drops reasoning of earlier turns and sends injected system items as the dialect says", async () => {
    server.queue({ kind: "fixture", file: "openai__openai-text.chunks.txt", framing: "chat" });
    const client = await createDeepSeek({ model: "deepseek-reasoner", apiKey: "k", baseUrl: server.url });
    const items: ResponseItem[] = [
      { type: "message", role: "user", content: [{ type: "text", text: "first" }] },
      { type: "reasoning", text: "old thoughts" },
      { type: "message", role: "assistant", content: [{ type: "text", text: "answer one" }] },
      { type: "message", role: "system", content: [{ type: "text", text: "reminder" }] },
      { type: "message", role: "user", content: [{ type: "text", text: "second" }] },
    ];
    await collect(client, request("", { items }));
    const messages = server.requests[0]?.body.messages as Record<string, unknown>[];
    expect(messages.slice(1)).toEqual([
      { role: "user", content: "first" },
      { role: "assistant", content: "answer one" },
      { role: "system", content: "reminder" },
      { role: "user", content: "second" },
    ]);
  });

  it("asks for JSON Schema natively on OpenAI and falls back to JSON mode plus the schema on DeepSeek", async () => {
    const responseFormat = {
      type: "json_schema" as const,
      name: "answer",
      schema: { type: "object", properties: { n: { type: "number" } } },
    };
    server.queue(
      { kind: "fixture", file: "openai__openai-text.chunks.txt", framing: "chat" },
      { kind: "fixture", file: "openai__openai-text.chunks.txt", framing: "chat" },
    );
    const openai = await createOpenAIChat({
      model: "gpt-4.1-mini",
      apiKey: "k",
      baseUrl: server.url,
      dialect: OPENAI_DIALECT,
    });
    const deepseek = await createDeepSeek({ model: "deepseek-chat", apiKey: "k", baseUrl: server.url });
    await collect(openai, request("n?", { responseFormat }));
    await collect(deepseek, request("n?", { responseFormat }));
    expect(server.requests[0]?.body.response_format).toEqual({
      type: "json_schema",
      json_schema: { name: "answer", schema: responseFormat.schema, strict: false },
    });
    expect(server.requests[1]?.body.response_format).toEqual({ type: "json_object" });
    const sentMessages = (server.requests[1]?.body.messages ?? []) as { content: string }[];
    const system = sentMessages[0]?.content ?? "";
    expect(system).toContain(JSON.stringify(responseFormat.schema));
  });

  it("sends images a tool returned as a user message after the tool messages", async () => {
    server.queue({ kind: "fixture", file: "openai__openai-text.chunks.txt", framing: "chat" });
    const client = await createOpenAIChat({ model: "gpt-4.1-mini", apiKey: "k", baseUrl: server.url });
    const items: ResponseItem[] = [
      { type: "message", role: "user", content: [{ type: "text", text: "look" }] },
      { type: "function_call", callId: "c1", name: "shot", arguments: "{}" },
      {
        type: "function_call_output",
        callId: "c1",
        output: [
          { type: "text", text: "captured" },
          { type: "image", mediaType: "image/png", data: "iVBORw0KGgo=" },
        ],
      },
    ];
    await collect(client, request("", { items }));
    const messages = server.requests[0]?.body.messages as Record<string, unknown>[];
    expect(messages.slice(3)).toEqual([
      { role: "tool", tool_call_id: "c1", content: "captured" },
      {
        role: "user",
        content: [
          { type: "text", text: "Images returned by the tools above:" },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } },
        ],
      },
    ]);
  });
});
