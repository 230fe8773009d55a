import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { BUILTIN_PROVIDERS } from "../../src/llm/providers/index.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import type { ModelEvent } from "../../src/llm/types.ts";
import { ROOT } from "../helpers/cli.ts";
import { collect, request, terminalOf, useReplayServer } from "./expected.ts";
import type { Framing, ReplayServer } from "./replay-server.ts";

/**
 * Golden shape fixtures: the normalized ModelEvent stream each recorded provider stream
 * produces through its adapter, committed under test/fixtures/golden. The adapter must keep
 * producing exactly these events, and SimClient must replay them exactly, so tests of the
 * engine can run on real provider shapes without a server. Regenerate deliberately with
 * UPDATE_GOLDEN=1 after an intended adapter change.
 */
const GOLDEN = join(ROOT, "test", "fixtures", "golden");

const cases: { file: string; provider: keyof typeof BUILTIN_PROVIDERS; model: string; framing: Framing }[] = [
  { file: "openai__openai-text.chunks.txt", provider: "openai-chat", model: "gpt-4.1-nano", framing: "chat" },
  {
    file: "deepseek__deepseek-text.chunks.txt",
    provider: "deepseek",
    model: "deepseek-chat",
    framing: "chat",
  },
  {
    file: "deepseek__deepseek-tool-call.chunks.txt",
    provider: "deepseek",
    model: "deepseek-reasoner",
    framing: "chat",
  },
  {
    file: "openai-compatible__xai-tool-call.chunks.txt",
    provider: "openai-chat",
    model: "grok-3-mini",
    framing: "chat",
  },
  { file: "azure__azure-text.1.chunks.txt", provider: "openai", model: "gpt-4.1-mini", framing: "responses" },
  {
    file: "azure__azure-tool-call.1.chunks.txt",
    provider: "openai",
    model: "gpt-4.1-mini",
    framing: "responses",
  },
  {
    file: "anthropic__anthropic-text.chunks.txt",
    provider: "anthropic",
    model: "claude-haiku-4-5",
    framing: "anthropic",
  },
  {
    file: "anthropic__anthropic-json-tool.1.chunks.txt",
    provider: "anthropic",
    model: "claude-haiku-4-5",
    framing: "anthropic",
  },
  {
    file: "anthropic__anthropic-tool-no-args.chunks.txt",
    provider: "anthropic",
    model: "claude-haiku-4-5",
    framing: "anthropic",
  },
  {
    file: "google__google-text.chunks.txt",
    provider: "google",
    model: "gemini-2.5-flash",
    framing: "gemini",
  },
  {
    file: "google__google-tool-call.chunks.txt",
    provider: "google",
    model: "gemini-2.5-flash",
    framing: "gemini",
  },
];

let server: ReplayServer;
useReplayServer((s) => {
  server = s;
});

function goldenPath(file: string): string {
  return join(GOLDEN, `${basename(file, ".chunks.txt")}.events.json`);
}

describe("golden shape fixtures", () => {
  for (const c of cases) {
    it(`${c.file}: the adapter produces the golden events and SimClient replays them`, async () => {
      server.queue({ kind: "fixture", file: c.file, framing: c.framing });
      const provider = BUILTIN_PROVIDERS[c.provider];
      if (!provider) throw new Error(`no provider ${c.provider}`);
      const client = await provider.create(c.model, "test-key", { baseUrl: server.url });
      const { events } = await collect(client, request("What is the weather?"));
      terminalOf(events);
      const path = goldenPath(c.file);
      if (process.env.UPDATE_GOLDEN === "1" || (!existsSync(path) && process.env.CI !== "true")) {
        mkdirSync(GOLDEN, { recursive: true });
        const golden = {
          source: `test/fixtures/provider-streams/${c.file}`,
          provider: c.provider,
          model: c.model,
          events,
        };
        writeFileSync(path, `${JSON.stringify(golden, null, 1)}\n`);
      }
      const golden = JSON.parse(readFileSync(path, "utf8")) as { events: ModelEvent[] };
      expect(events).toEqual(golden.events);

      const sim = new SimClient({ script: [{ events: golden.events as never }] });
      const replayed = await collect(sim, request("What is the weather?"));
      expect(replayed.events).toEqual(golden.events);
    });
  }
});

describe("engine on a golden provider shape", () => {
  it("runs a turn from Anthropic's recorded tool call, replayed by SimClient", async () => {
    const { AgentEngine } = await import("../../src/loop/engine.ts");
    const { defineTool } = await import("../../src/tool/define.ts");
    const golden = JSON.parse(
      readFileSync(goldenPath("anthropic__anthropic-json-tool.1.chunks.txt"), "utf8"),
    ) as {
      events: ModelEvent[];
    };
    const seen: unknown[] = [];
    const json = defineTool({
      name: "json",
      description: "Structured weather.",
      schema: { type: "object", properties: { elements: { type: "array" } }, required: ["elements"] },
      readOnly: true,
      execute: (input) => {
        seen.push(input);
        return "ok";
      },
    });
    const sim = new SimClient({
      script: [{ events: golden.events as never }, { text: "It is sunny in San Francisco." }],
    });
    const engine = await AgentEngine.open({ model: sim, tools: [json] });
    const events = await engine.submitAndWait("Weather?");
    expect(seen).toEqual([
      { elements: [{ location: "San Francisco", temperature: 58, condition: "sunny" }] },
    ]);
    expect(events.at(-1)?.msg).toMatchObject({
      type: "turn_completed",
      text: "It is sunny in San Francisco.",
      steps: 2,
    });
    const usage = golden.events.find((e) => e.type === "usage");
    const first = events.find((e) => e.msg.type === "model_call_completed")?.msg;
    expect(first).toMatchObject({ finishReason: "tool_calls", usage: (usage as { usage: unknown }).usage });
  });
});
