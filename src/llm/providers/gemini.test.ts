import { describe, expect, it } from "vitest";
import {
  collect,
  expectedGemini,
  expectReplayed,
  request,
  terminalOf,
  useReplayServer,
} from "../../../test/providers/expected.ts";
import { fixtureLines, type ReplayServer } from "../../../test/providers/replay-server.ts";
import type { ResponseItem } from "../../protocol/index.ts";
import { ModelCatalog } from "../catalog.ts";
import { createGemini } from "./gemini.ts";
import { SKIP_SIGNATURE } from "./gemini-request.ts";

let server: ReplayServer;
useReplayServer((s) => {
  server = s;
});

const files = [
  { file: "google__google-text.chunks.txt", model: "gemini-3-pro-preview" },
  { file: "google__google-tool-call.chunks.txt", model: "gemini-3-pro-preview" },
  { file: "synthetic/google__thought-parts.chunks.txt", model: "gemini-2.5-flash" },
  { file: "synthetic/google__prompt-blocked.chunks.txt", model: "gemini-2.5-flash" },
];

/** Every thoughtSignature in a fixture, in order. */
function signatures(file: string): string[] {
  return fixtureLines(file).flatMap((l) =>
    ((l.candidates as { content?: { parts?: { thoughtSignature?: string }[] } }[] | undefined) ?? []).flatMap(
      (c) => (c.content?.parts ?? []).flatMap((p) => (p.thoughtSignature ? [p.thoughtSignature] : [])),
    ),
  );
}

describe("Gemini replay through @google/genai", () => {
  for (const { file, model } of files) {
    it(`reproduces ${file}`, async () => {
      server.queue({ kind: "fixture", file, framing: "gemini" });
      const client = await createGemini({ model, apiKey: "g-key", baseUrl: server.url });
      const { events, result } = await collect(client, request("How many r's in strawberry?"));
      const expected = expectedGemini(file);
      terminalOf(events);
      expectReplayed(result, expected, {
        callIds: false,
        prices: new ModelCatalog().lookup("google", model)?.prices,
      });
      // Every signature in the stream is kept on some item for the next request.
      const kept = result.items.flatMap((i) => {
        const sig = (i.providerData?.google as { thoughtSignature?: string } | undefined)?.thoughtSignature;
        return sig ? [sig] : [];
      });
      expect(kept).toEqual(signatures(file));
      const sent = server.requests[0];
      expect(sent?.path).toMatch(new RegExp(`^/v1\\w*/models/${model}:streamGenerateContent\\?alt=sse$`));
      expect(sent?.headers["x-goog-api-key"]).toBe("g-key");
    });
  }

  it("sends thought signatures back on the parts they came with, and tool results by name", async () => {
    const file = "google__google-tool-call.chunks.txt";
    server.queue(
      { kind: "fixture", file, framing: "gemini" },
      { kind: "fixture", file: "google__google-text.chunks.txt", framing: "gemini" },
    );
    const client = await createGemini({ model: "gemini-3-pro-preview", apiKey: "k", baseUrl: server.url });
    const first = request("Weather in San Francisco?");
    const { result } = await collect(client, first);
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
    const expected = expectedGemini(file);
    const body = server.requests[1]?.body ?? {};
    expect(body.contents).toEqual([
      { role: "user", parts: [{ text: "Weather in San Francisco?" }] },
      {
        role: "model",
        parts: [
          {
            functionCall: {
              name: expected.calls[0]?.name,
              args: JSON.parse(expected.calls[0]?.args ?? "{}"),
            },
            thoughtSignature: signatures(file)[0],
          },
        ],
      },
      { role: "user", parts: [{ functionResponse: { name: "weather", response: { output: "Sunny" } } }] },
    ]);
    expect(body.systemInstruction).toEqual({ parts: [{ text: "You are terse." }], role: "user" });
    const decl = (body.tools as { functionDeclarations: Record<string, unknown>[] }[])[0]
      ?.functionDeclarations[0];
    expect(decl?.parametersJsonSchema).toEqual(first.tools[0]?.parameters);
  });

  it("marks foreign function calls for Gemini 3 and asks for JSON natively", async () => {
    server.queue({ kind: "fixture", file: "google__google-text.chunks.txt", framing: "gemini" });
    const client = await createGemini({ model: "gemini-3-pro-preview", apiKey: "k", baseUrl: server.url });
    const items: ResponseItem[] = [
      { type: "message", role: "user", content: [{ type: "text", text: "q" }] },
      { type: "function_call", callId: "x1", name: "weather", arguments: '{"location":"Oslo"}' },
      { type: "function_call", callId: "x2", name: "weather", arguments: '{"location":"Rome"}' },
      { type: "function_call_output", callId: "x1", output: "cold", isError: true },
      { type: "function_call_output", callId: "x2", output: "warm" },
    ];
    const schema = { type: "object", properties: { n: { type: "number" } } };
    await collect(client, request("", { items, responseFormat: { type: "json_schema", name: "o", schema } }));
    const body = server.requests[0]?.body ?? {};
    const contents = body.contents as { role: string; parts: Record<string, unknown>[] }[];
    expect(contents[1]?.parts.map((p) => p.thoughtSignature)).toEqual([SKIP_SIGNATURE, undefined]);
    expect(contents[2]?.parts).toEqual([
      { functionResponse: { name: "weather", response: { error: "cold" } } },
      { functionResponse: { name: "weather", response: { output: "warm" } } },
    ]);
    const config = body.generationConfig as Record<string, unknown>;
    expect(config.responseMimeType).toBe("application/json");
    expect(config.responseJsonSchema).toEqual(schema);
  });
});
