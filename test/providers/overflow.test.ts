import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseOverflow } from "../../src/context/overflow.ts";
import { MemoryThreadStore } from "../../src/conversation/memory-store.ts";
import { createAnthropic } from "../../src/llm/providers/anthropic.ts";
import { createOpenAIResponses } from "../../src/llm/providers/openai-responses.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import type { ModelClient } from "../../src/llm/types.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import type { Event } from "../../src/protocol/index.ts";
import { defineTool } from "../../src/tool/define.ts";
import { shape } from "../helpers/events.ts";
import { useReplayServer } from "./expected.ts";
import type { ReplayServer } from "./replay-server.ts";

/**
 * Overflow recovery against real provider errors (official SDKs, replay server): the
 * window is learned from the provider's message, the history shrinks for real (also when
 * the summary call overflows too), and no request is ever sent twice.
 */

let server: ReplayServer;
useReplayServer((s) => {
  server = s;
});

const ANTHROPIC_TEXT = "anthropic__anthropic-text.chunks.txt";
const RESPONSES_TEXT = "azure__azure-text.1.chunks.txt"; // a Responses API stream

/** Tool outputs of ~2,500 tokens each: a history the real (small) window cannot hold. */
const report = defineTool({
  name: "read_report",
  description: "Reads a report.",
  schema: z.object({ part: z.number() }),
  readOnly: true,
  execute: ({ part }) =>
    Array.from({ length: 400 }, (_, i) => `part ${part} line ${i}: measured ${i * 7} units`).join("\n"),
});

/** A thread whose first turn read two long reports (played by the simulator). */
async function threadWithHistory(store: MemoryThreadStore): Promise<string> {
  const sim = new SimClient({
    script: [
      {
        toolCalls: [
          { id: "r1", name: "read_report", arguments: { part: 1 } },
          { id: "r2", name: "read_report", arguments: { part: 2 } },
        ],
      },
      { text: "Both reports are read." },
    ],
  });
  const engine = await AgentEngine.open({ model: sim, tools: [report], store, maxToolOutputChars: false });
  await engine.submitAndWait("Read both reports.");
  await engine.close();
  return engine.threadId;
}

async function secondTurn(model: ModelClient, store: MemoryThreadStore, threadId: string): Promise<Event[]> {
  const events: Event[] = [];
  const engine = await AgentEngine.open({
    model,
    tools: [report],
    store,
    threadId,
    maxToolOutputChars: false,
    listeners: [(ev) => events.push(ev)],
  });
  await engine.submitAndWait("What did part 2 measure at line 399?");
  await engine.close();
  return events;
}

const bodies = () => server.requests.map((r) => JSON.stringify(r.body));

describe("overflow recovery through a provider SDK", () => {
  it("learns Anthropic's real window from its error and retries a smaller request", async () => {
    const store = new MemoryThreadStore();
    const threadId = await threadWithHistory(store);
    server.queue(
      {
        kind: "status",
        status: 400,
        body: {
          type: "error",
          error: { type: "invalid_request_error", message: "prompt is too long: 7412 tokens > 6000 maximum" },
        },
      },
      { kind: "fixture", file: ANTHROPIC_TEXT, framing: "anthropic" }, // the summary
      { kind: "fixture", file: ANTHROPIC_TEXT, framing: "anthropic" }, // the retried call
    );
    const model = await createAnthropic({ model: "claude-haiku-4-5", apiKey: "k", baseUrl: server.url });
    const events = await secondTurn(model, store, threadId);
    expect(shape(events).filter((l) => !/assistant_text|thread_opened|shutdown/.test(l))).toEqual([
      "turn_started",
      'user_message input "What did part 2 measure at line 399?"',
      "model_call_started 1",
      "model_call_completed 1 error",
      "warning context_window_learned",
      "compaction_started",
      "compaction_completed",
      "compaction_started",
      "compaction_completed",
      "model_call_started 2",
      expect.stringMatching(/^assistant_message /),
      "model_call_completed 2 stop",
      "turn_completed",
    ]);
    const learned = events.find((e) => e.msg.type === "warning")?.msg;
    expect(learned?.type === "warning" && learned.message).toContain("context window of 6000 tokens");
    const compactions = events.flatMap((e) => (e.msg.type === "compaction_completed" ? [e.msg] : []));
    expect(compactions.map((c) => [c.strategy, c.trigger])).toEqual([
      ["microcompact", "overflow"],
      ["handoff_summary", "overflow"],
    ]);
    // The provider's own count of the rejected prompt calibrated the estimate.
    expect(compactions[0]?.tokensBefore).toBe(7412);
    expect(server.requests).toHaveLength(3);
    const [failed, , retried] = bodies();
    expect(new Set(bodies()).size).toBe(3);
    expect((retried ?? "").length).toBeLessThan((failed ?? "").length / 2);
  });

  it("recovers when the error names no window and the summary call overflows too", async () => {
    const store = new MemoryThreadStore();
    const threadId = await threadWithHistory(store);
    const tooLong = (message: string) => ({
      kind: "status" as const,
      status: 400,
      body: {
        error: { message, type: "invalid_request_error", param: "input", code: "context_length_exceeded" },
      },
    });
    server.queue(
      tooLong("Your input exceeds the context window of this model. Please adjust your input and try again."),
      tooLong(
        "This model's maximum context length is 3000 tokens. However, your messages resulted in 4630 tokens. Please reduce the length of the messages.",
      ),
      { kind: "fixture", file: RESPONSES_TEXT, framing: "responses" }, // the second, smaller summary
      { kind: "fixture", file: RESPONSES_TEXT, framing: "responses" }, // the retried call
    );
    const model = await createOpenAIResponses({ model: "gpt-5-mini", apiKey: "k", baseUrl: server.url });
    const events = await secondTurn(model, store, threadId);
    expect(shape(events).filter((l) => !/assistant_text|thread_opened|shutdown/.test(l))).toEqual([
      "turn_started",
      'user_message input "What did part 2 measure at line 399?"',
      "model_call_started 1",
      "model_call_completed 1 error",
      "warning context_window_learned",
      "compaction_started",
      "compaction_completed",
      "compaction_started",
      "warning context_window_learned",
      "compaction_completed",
      "model_call_started 2",
      expect.stringMatching(/^assistant_message /),
      "model_call_completed 2 stop",
      "turn_completed",
    ]);
    const warnings = events.flatMap((e) => (e.msg.type === "warning" ? [e.msg.message] : []));
    expect(warnings[1]).toContain("context window of 3000 tokens");
    expect(server.requests).toHaveLength(4);
    // Every request differs from every other: nothing that failed was sent again.
    expect(new Set(bodies()).size).toBe(4);
    const [failed, summary1, summary2, retried] = bodies().map((b) => b.length);
    expect(summary2).toBeLessThan(summary1 ?? 0);
    expect(retried).toBeLessThan((failed ?? 0) / 2);
  });
});

describe("parseOverflow", () => {
  it("reads the window and the prompt size from each provider's wording", () => {
    const cases: [string, ReturnType<typeof parseOverflow>][] = [
      [
        "This model's maximum context length is 128000 tokens. However, your messages resulted in 130532 tokens. Please reduce the length of the messages.",
        { limit: 128000, prompt: 130532 },
      ],
      [
        "This model's maximum context length is 65536 tokens. However, you requested 70000 tokens (66000 in the messages, 4000 in the completion). Please reduce the length of the messages or completion.",
        { limit: 65536, prompt: 66000 },
      ],
      ["prompt is too long: 208154 tokens > 200000 maximum", { limit: 200000, prompt: 208154 }],
      [
        "input length and `max_tokens` exceed context limit: 188240 + 21333 > 200000, decrease input length or `max_tokens` and try again",
        { limit: 200000, prompt: 188240 },
      ],
      [
        "The input token count (1100000) exceeds the maximum number of tokens allowed (1048576).",
        { limit: 1048576, prompt: 1100000 },
      ],
      [
        "Prompt contains 40000 tokens and 0 draft tokens, too large for model with 32768 maximum context length",
        { limit: 32768, prompt: 40000 },
      ],
      [
        "This model's maximum prompt length is 131072 but the request contains 150000 tokens.",
        { limit: 131072, prompt: 150000 },
      ],
      [
        "This model's maximum context length is 32768 tokens. However, your request has 40000 input tokens. Please reduce the length of the input messages.",
        { limit: 32768, prompt: 40000 },
      ],
      [
        "request (5000 tokens) exceeds the available context size (4096 tokens), try increasing it",
        { limit: 4096, prompt: 5000 },
      ],
      ["Your input exceeds the context window of this model. Please adjust your input and try again.", {}],
    ];
    for (const [message, facts] of cases)
      expect({ message, facts: parseOverflow(message) }).toEqual({ message, facts });
  });
});
