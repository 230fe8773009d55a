import { describe, expect, it } from "vitest";
import {
  collect,
  expectedAnthropic,
  expectReplayed,
  request,
  terminalOf,
  useReplayServer,
} from "../../../test/providers/expected.ts";
import { fixtureLines, type ReplayServer } from "../../../test/providers/replay-server.ts";
import type { ResponseItem } from "../../protocol/index.ts";
import { ModelCatalog } from "../catalog.ts";
import { createAnthropic } from "./anthropic.ts";

let server: ReplayServer;
useReplayServer((s) => {
  server = s;
});

const files = [
  "anthropic__anthropic-text.chunks.txt",
  "anthropic__anthropic-json-tool.1.chunks.txt",
  "anthropic__anthropic-tool-no-args.chunks.txt",
  "synthetic/anthropic__thinking-parallel-tools.chunks.txt",
];

/** Every cache_control marker in a request body, as a path. */
function breakpoints(body: Record<string, unknown>): string[] {
  const found: string[] = [];
  const walk = (v: unknown, path: string) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        walk(x, `${path}[${i}]`);
      });
    } else if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        if (k === "cache_control") found.push(path);
        else walk(x, path === "" ? k : `${path}.${k}`);
      }
    }
  };
  walk(body, "");
  return found;
}

describe("Anthropic Messages replay through the Anthropic SDK", () => {
  for (const file of files) {
    it(`reproduces ${file}`, async () => {
      server.queue({ kind: "fixture", file, framing: "anthropic" });
      const client = await createAnthropic({
        model: "claude-haiku-4-5",
        apiKey: "sk-test",
        baseUrl: server.url,
      });
      const { events, result } = await collect(client, request("Weather?"));
      const expected = expectedAnthropic(file);
      terminalOf(events);
      const prices = new ModelCatalog().lookup("anthropic", "claude-haiku-4-5")?.prices;
      expectReplayed(result, expected, { callIds: true, prices });
      const sent = server.requests[0];
      expect(sent?.path).toBe("/v1/messages");
      expect(sent?.headers.authorization).toBe("Bearer sk-test");
      expect(sent?.headers["x-stainless-retry-count"]).toBe("0");
    });
  }

  it("round-trips thinking signatures and places at most four cache breakpoints", async () => {
    const file = "synthetic/anthropic__thinking-parallel-tools.chunks.txt";
    server.queue(
      { kind: "fixture", file, framing: "anthropic" },
      { kind: "fixture", file: "anthropic__anthropic-text.chunks.txt", framing: "anthropic" },
    );
    const client = await createAnthropic({ model: "claude-haiku-4-5", apiKey: "k", baseUrl: server.url });
    const first = request("Weather in Paris and Tokyo?");
    const { result } = await collect(client, first);
    const outputs: ResponseItem[] = result.calls.map((c, i) => ({
      type: "function_call_output",
      callId: c.callId,
      output: `result ${i}`,
      ...(i === 1 ? { isError: true } : {}),
    }));
    await collect(client, { ...first, items: [...first.items, ...result.items, ...outputs] });
    const body = server.requests[1]?.body ?? {};
    const signature = fixtureLines(file)
      .map((l) => l.delta as Record<string, unknown> | undefined)
      .find((d) => d?.type === "signature_delta")?.signature;
    const expected = expectedAnthropic(file);
    const messages = body.messages as { role: string; content: Record<string, unknown>[] }[];
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(messages[1]?.content).toEqual([
      { type: "thinking", thinking: expected.reasoning, signature },
      { type: "text", text: expected.text },
      ...expected.calls.map((c) => ({
        type: "tool_use",
        id: c.callId,
        name: c.name,
        input: JSON.parse(c.args),
      })),
    ]);
    expect(messages[2]?.content).toEqual([
      { type: "tool_result", tool_use_id: expected.calls[0]?.callId, content: "result 0" },
      {
        type: "tool_result",
        tool_use_id: expected.calls[1]?.callId,
        content: "result 1",
        is_error: true,
        cache_control: { type: "ephemeral" },
      },
    ]);
    // Tools, system, the last message, and the end of the previous request (the first user message).
    expect(breakpoints(body)).toEqual([
      "system[0]",
      "tools[0]",
      "messages[0].content[0]",
      "messages[2].content[1]",
    ]);
  });

  it("places the context manager's breakpoints on the blocks that end its item boundaries", async () => {
    server.queue(
      { kind: "fixture", file: "anthropic__anthropic-text.chunks.txt", framing: "anthropic" },
      { kind: "fixture", file: "anthropic__anthropic-text.chunks.txt", framing: "anthropic" },
    );
    const client = await createAnthropic({ model: "claude-haiku-4-5", apiKey: "k", baseUrl: server.url });
    const text = (role: "user" | "assistant", t: string): ResponseItem => ({
      type: "message",
      role,
      content: [{ type: "text", text: t }],
    });
    const items = [
      text("user", "one"),
      text("assistant", "two"),
      { type: "function_call", callId: "toolu_1", name: "weather", arguments: "{}" },
      { type: "function_call_output", callId: "toolu_1", output: "sunny" },
      text("assistant", "three"),
      text("user", "four"),
    ] as ResponseItem[];
    // Boundary 3 ends with the tool call (inside the assistant message), boundary 5 with "three".
    await collect(client, { ...request("x"), items, cacheBreakpoints: [3, 5, 1] });
    const body = server.requests[0]?.body ?? {};
    // System, the last message, then the first two boundaries; no slot is left for the tools.
    expect(breakpoints(body)).toEqual([
      "system[0]",
      "messages[1].content[1]",
      "messages[3].content[0]",
      "messages[4].content[0]",
    ]);
    const messages = body.messages as { content: Record<string, unknown>[] }[];
    expect(messages[1]?.content[1]).toMatchObject({ type: "tool_use", id: "toolu_1" });
    expect(messages[3]?.content[0]).toMatchObject({ type: "text", text: "three" });
    // Without hints the provider's own placement stays: tools, system, the last message.
    await collect(client, { ...request("x"), items: items.slice(0, 1) });
    expect(breakpoints(server.requests[1]?.body ?? {})).toEqual([
      "system[0]",
      "tools[0]",
      "messages[0].content[0]",
    ]);
  });

  it("uses native structured output and sends tool choice and thinking as configured", async () => {
    server.queue({ kind: "fixture", file: "anthropic__anthropic-text.chunks.txt", framing: "anthropic" });
    const client = await createAnthropic({
      model: "claude-haiku-4-5",
      apiKey: "k",
      baseUrl: server.url,
      thinking: { type: "enabled", budget_tokens: 2048 },
    });
    const schema = { type: "object", properties: { ok: { type: "boolean" } } };
    await collect(
      client,
      request("q", {
        responseFormat: { type: "json_schema", name: "o", schema },
        toolChoice: "required",
        temperature: 0.3,
      }),
    );
    const body = server.requests[0]?.body ?? {};
    expect(body.output_config).toEqual({ format: { type: "json_schema", schema } });
    expect(body.tool_choice).toEqual({ type: "any" });
    expect(body.thinking).toEqual({ type: "enabled", budget_tokens: 2048 });
    // Thinking forbids a custom temperature.
    expect(body.temperature).toBeUndefined();
    expect(body.max_tokens).toBe(new ModelCatalog().lookup("anthropic", "claude-haiku-4-5")?.maxOutputTokens);
  });
});
