import { describe, expect, it } from "vitest";
import {
  collect,
  expectedResponses,
  expectReplayed,
  request,
  terminalOf,
  useReplayServer,
} from "../../../test/providers/expected.ts";
import { fixtureLines, type ReplayServer } from "../../../test/providers/replay-server.ts";
import type { ResponseItem } from "../../protocol/index.ts";
import { ModelCatalog } from "../catalog.ts";
import { createOpenAIResponses } from "./openai-responses.ts";

let server: ReplayServer;
useReplayServer((s) => {
  server = s;
});

const files = [
  { file: "azure__azure-text.1.chunks.txt", model: "gpt-5.1" },
  { file: "azure__azure-tool-call.1.chunks.txt", model: "gpt-5.1" },
  { file: "synthetic/openai-responses__reasoning-parallel-calls.chunks.txt", model: "gpt-5-mini" },
];

describe("Responses API replay through the OpenAI SDK", () => {
  for (const { file, model } of files) {
    it(`reproduces ${file}`, async () => {
      server.queue({ kind: "fixture", file, framing: "responses" });
      const client = await createOpenAIResponses({ model, apiKey: "k", baseUrl: server.url });
      const { events, result } = await collect(client, request("Weather?"));
      const expected = expectedResponses(file);
      terminalOf(events);
      expectReplayed(result, expected, {
        callIds: true,
        prices: new ModelCatalog().lookup("openai", model)?.prices,
      });
      const sent = server.requests[0]?.body ?? {};
      expect(server.requests[0]?.path).toBe("/responses");
      expect(sent.store).toBe(false);
      expect(sent.prompt_cache_key).toBe("thread-test-1");
      expect(sent.include).toEqual(["reasoning.encrypted_content"]);
      expect(sent.instructions).toBe("You are terse.");
      expect(sent.tools).toEqual([
        {
          type: "function",
          name: "weather",
          description: "Current weather for a location.",
          parameters: {
            type: "object",
            properties: { location: { type: "string" } },
            required: ["location"],
          },
          strict: false,
        },
      ]);
    });
  }

  it("round-trips reasoning with its encrypted content, and sends calls and outputs back", async () => {
    const file = "synthetic/openai-responses__reasoning-parallel-calls.chunks.txt";
    server.queue(
      { kind: "fixture", file, framing: "responses" },
      { kind: "fixture", file: "azure__azure-text.1.chunks.txt", framing: "responses" },
    );
    const client = await createOpenAIResponses({ model: "gpt-5-mini", apiKey: "k", baseUrl: server.url });
    const first = request("Weather in Paris and Tokyo?");
    const { result } = await collect(client, first);
    const outputs: ResponseItem[] = result.calls.map((c, i) => ({
      type: "function_call_output",
      callId: c.callId,
      output: `result ${i}`,
    }));
    await collect(client, { ...first, items: [...first.items, ...result.items, ...outputs] });
    const reasoningItem = fixtureLines(file)
      .filter((l) => l.type === "response.output_item.done")
      .map((l) => l.item as Record<string, unknown>)
      .find((i) => i.type === "reasoning") as Record<string, unknown>;
    const expected = expectedResponses(file);
    const input = server.requests[1]?.body.input;
    expect(input).toEqual([
      { role: "user", content: [{ type: "input_text", text: "Weather in Paris and Tokyo?" }] },
      {
        type: "reasoning",
        id: reasoningItem.id,
        summary: reasoningItem.summary,
        encrypted_content: reasoningItem.encrypted_content,
      },
      ...expected.calls.map((c) => ({
        type: "function_call",
        call_id: c.callId,
        name: c.name,
        arguments: c.args,
      })),
      ...expected.calls.map((c, i) => ({
        type: "function_call_output",
        call_id: c.callId,
        output: `result ${i}`,
      })),
    ]);
  });

  it("drops reasoning it cannot replay and asks for JSON Schema output natively", async () => {
    server.queue({ kind: "fixture", file: "azure__azure-text.1.chunks.txt", framing: "responses" });
    const client = await createOpenAIResponses({ model: "gpt-4.1", apiKey: "k", baseUrl: server.url });
    const schema = { type: "object", properties: { ok: { type: "boolean" } } };
    const items: ResponseItem[] = [
      { type: "message", role: "user", content: [{ type: "text", text: "q" }] },
      {
        type: "reasoning",
        text: "thoughts from another provider",
        providerData: { anthropic: { signature: "x" } },
      },
      { type: "message", role: "assistant", content: [{ type: "text", text: "a" }] },
      { type: "message", role: "system", content: [{ type: "text", text: "note" }] },
    ];
    await collect(
      client,
      request("", { items, responseFormat: { type: "json_schema", name: "out", schema } }),
    );
    const body = server.requests[0]?.body ?? {};
    expect(body.input).toEqual([
      { role: "user", content: [{ type: "input_text", text: "q" }] },
      { role: "assistant", content: "a" },
      { role: "developer", content: "note" },
    ]);
    expect(body.text).toEqual({ format: { type: "json_schema", name: "out", schema, strict: false } });
    // gpt-4.1 is not a reasoning model: no encrypted reasoning requested.
    expect(body.include).toBeUndefined();
  });
});
