import { afterEach, beforeEach, expect } from "vitest";
import { type AssembledResponse, ResponseAssembler } from "../../src/llm/assemble.ts";
import { costOf, type ModelPrices } from "../../src/llm/catalog.ts";
import type { FinishReason, ModelClient, ModelEvent, ModelRequest } from "../../src/llm/types.ts";
import type { Usage } from "../../src/protocol/index.ts";
import { fixtureLines, ReplayServer } from "./replay-server.ts";

/**
 * What a fixture file says the model produced, read straight from its payloads (not
 * through the adapters under test): text, reasoning, tool calls, finish and usage.
 */
export interface Expected {
  readonly text: string;
  readonly reasoning: string;
  readonly calls: { callId: string | undefined; name: string; args: string }[];
  readonly finish: FinishReason;
  readonly usage: Usage;
}

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (v !== null && typeof v === "object" ? (v as Rec) : {});
const n = (v: unknown): number => (typeof v === "number" ? v : 0);

/** Chat Completions (OpenAI, DeepSeek, xAI...). */
export function expectedChat(file: string): Expected {
  let text = "";
  let reasoning = "";
  let finish = "";
  let usage: Rec = {};
  const calls = new Map<number, { callId: string | undefined; name: string; args: string }>();
  for (const line of fixtureLines(file)) {
    if (line.usage) usage = rec(line.usage);
    const choice = rec((line.choices as unknown[] | undefined)?.[0]);
    const delta = rec(choice.delta);
    text += String(delta.content ?? "") + String(delta.refusal ?? "");
    reasoning += String(delta.reasoning_content ?? "");
    for (const tc of (delta.tool_calls as Rec[] | undefined) ?? []) {
      const index = n(tc.index);
      const fn = rec(tc.function);
      const call = calls.get(index) ?? { callId: undefined, name: "", args: "" };
      call.callId ??= typeof tc.id === "string" ? tc.id : undefined;
      call.name += String(fn.name ?? "");
      call.args += String(fn.arguments ?? "");
      calls.set(index, call);
    }
    if (typeof choice.finish_reason === "string") finish = choice.finish_reason;
  }
  const refusal = fixtureLines(file).some(
    (l) => rec(rec((l.choices as unknown[] | undefined)?.[0]).delta).refusal,
  );
  const prompt = n(usage.prompt_tokens);
  const total = typeof usage.total_tokens === "number" ? usage.total_tokens : undefined;
  return {
    text,
    reasoning,
    calls: [...calls.values()],
    finish: refusal
      ? "refusal"
      : finish === "tool_calls"
        ? "tool_calls"
        : finish === "length"
          ? "length"
          : "stop",
    usage: {
      inputTokens: prompt,
      cachedInputTokens: n(usage.prompt_cache_hit_tokens ?? rec(usage.prompt_tokens_details).cached_tokens),
      cacheWriteTokens: 0,
      outputTokens:
        total === undefined
          ? n(usage.completion_tokens)
          : Math.max(n(usage.completion_tokens), total - prompt),
      reasoningTokens: n(rec(usage.completion_tokens_details).reasoning_tokens),
    },
  };
}

/** OpenAI Responses. */
export function expectedResponses(file: string): Expected {
  let text = "";
  let reasoning = "";
  let usage: Rec = {};
  const calls: Expected["calls"] = [];
  for (const line of fixtureLines(file)) {
    if (line.type === "response.output_text.delta") text += String(line.delta);
    if (line.type === "response.output_item.done") {
      const item = rec(line.item);
      if (item.type === "function_call") {
        calls.push({ callId: String(item.call_id), name: String(item.name), args: String(item.arguments) });
      }
      if (item.type === "reasoning") {
        reasoning += (item.summary as Rec[]).map((s) => String(s.text)).join("\n\n");
      }
    }
    if (line.type === "response.completed") usage = rec(rec(line.response).usage);
  }
  return {
    text,
    reasoning,
    calls,
    finish: calls.length > 0 ? "tool_calls" : "stop",
    usage: {
      inputTokens: n(usage.input_tokens),
      cachedInputTokens: n(rec(usage.input_tokens_details).cached_tokens),
      cacheWriteTokens: 0,
      outputTokens: n(usage.output_tokens),
      reasoningTokens: n(rec(usage.output_tokens_details).reasoning_tokens),
    },
  };
}

/** Anthropic Messages. */
export function expectedAnthropic(file: string): Expected {
  let text = "";
  let reasoning = "";
  let stop = "";
  const usage: Rec = {};
  const calls = new Map<number, { callId: string | undefined; name: string; args: string }>();
  for (const line of fixtureLines(file)) {
    if (line.type === "message_start") Object.assign(usage, rec(rec(line.message).usage));
    if (line.type === "message_delta") {
      Object.assign(usage, rec(line.usage));
      stop = String(rec(line.delta).stop_reason);
    }
    const block = rec(line.content_block);
    if (line.type === "content_block_start" && block.type === "tool_use") {
      calls.set(n(line.index), { callId: String(block.id), name: String(block.name), args: "" });
    }
    const delta = rec(line.delta);
    if (delta.type === "text_delta") text += String(delta.text);
    if (delta.type === "thinking_delta") reasoning += String(delta.thinking);
    if (delta.type === "input_json_delta") {
      const call = calls.get(n(line.index));
      if (call) call.args += String(delta.partial_json);
    }
  }
  const read = n(usage.cache_read_input_tokens);
  const write = n(usage.cache_creation_input_tokens);
  return {
    text,
    reasoning,
    calls: [...calls.values()].map((c) => ({ ...c, args: c.args === "" ? "{}" : c.args })),
    finish: stop === "tool_use" ? "tool_calls" : stop === "max_tokens" ? "length" : "stop",
    usage: {
      inputTokens: n(usage.input_tokens) + read + write,
      cachedInputTokens: read,
      cacheWriteTokens: write,
      outputTokens: n(usage.output_tokens),
      reasoningTokens: 0,
    },
  };
}

/** Gemini. Call ids are not in the stream; only names and arguments are compared. */
export function expectedGemini(file: string): Expected {
  let text = "";
  let reasoning = "";
  let usage: Rec = {};
  let finish = "";
  let blocked = false;
  const calls: Expected["calls"] = [];
  for (const line of fixtureLines(file)) {
    if (line.usageMetadata) usage = rec(line.usageMetadata);
    if (rec(line.promptFeedback).blockReason) blocked = true;
    const cand = rec((line.candidates as unknown[] | undefined)?.[0]);
    for (const part of (rec(cand.content).parts as Rec[] | undefined) ?? []) {
      if (part.functionCall) {
        const fc = rec(part.functionCall);
        calls.push({ callId: undefined, name: String(fc.name), args: JSON.stringify(fc.args ?? {}) });
      } else if (typeof part.text === "string") {
        if (part.thought) reasoning += part.text;
        else text += part.text;
      }
    }
    if (typeof cand.finishReason === "string") finish = cand.finishReason;
  }
  const thoughts = n(usage.thoughtsTokenCount);
  return {
    text,
    reasoning,
    calls,
    finish: blocked || finish === "SAFETY" ? "content_filter" : calls.length > 0 ? "tool_calls" : "stop",
    usage: {
      inputTokens: n(usage.promptTokenCount),
      cachedInputTokens: n(usage.cachedContentTokenCount),
      cacheWriteTokens: 0,
      outputTokens: n(usage.candidatesTokenCount) + thoughts,
      reasoningTokens: thoughts,
    },
  };
}

/** Streams one request and returns every event plus the assembled response. */
export async function collect(
  client: ModelClient,
  request: ModelRequest,
  signal?: AbortSignal,
): Promise<{ events: ModelEvent[]; result: AssembledResponse }> {
  const events: ModelEvent[] = [];
  const assembler = new ResponseAssembler();
  for await (const ev of client.stream(request, signal ? { signal } : {})) {
    events.push(ev);
    assembler.push(ev);
  }
  return { events, result: assembler.result() };
}

/** The reasoning text of an assembled response. */
export function reasoningText(result: AssembledResponse): string {
  return result.items.map((i) => (i.type === "reasoning" ? i.text : "")).join("");
}

/** A minimal request: one user message, optional tools. */
export function request(text: string, extra: Partial<ModelRequest> = {}): ModelRequest {
  return {
    system: "You are terse.",
    items: [{ type: "message", role: "user", content: [{ type: "text", text }] }],
    tools: [
      {
        name: "weather",
        description: "Current weather for a location.",
        parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
      },
    ],
    threadId: "thread-test-1",
    ...extra,
  };
}

/** Asserts the ModelEvent contract on a finished stream: exactly one terminal event, last. */
export function terminalOf(events: readonly ModelEvent[]): ModelEvent {
  const terminals = events.filter((e) => e.type === "finish" || e.type === "error");
  if (terminals.length !== 1) throw new Error(`expected exactly one terminal event, got ${terminals.length}`);
  const last = events.at(-1) as ModelEvent;
  if (last !== terminals[0]) throw new Error("the terminal event is not the last event");
  return last;
}

/** Starts a replay server before each test of the file (handed to `set`) and closes it after. */
export function useReplayServer(set: (server: ReplayServer) => void): void {
  let current: ReplayServer | undefined;
  beforeEach(async () => {
    current = await ReplayServer.start();
    set(current);
  });
  afterEach(async () => {
    await current?.close();
  });
}

/**
 * Asserts that an assembled response is what the fixture says: text, reasoning, calls
 * (with their ids unless the stream has none), finish, usage, and the cost at `prices`.
 */
export function expectReplayed(
  result: AssembledResponse,
  expected: Expected,
  options: { callIds: boolean; prices: ModelPrices | undefined },
): void {
  expect(result.error).toBeUndefined();
  expect(result.text).toBe(expected.text);
  expect(reasoningText(result)).toBe(expected.reasoning);
  const calls = (list: { callId: string | undefined; name: string; args: string }[]) =>
    list.map((c) =>
      options.callIds ? { callId: c.callId, name: c.name, args: c.args } : { name: c.name, args: c.args },
    );
  expect(calls(result.calls.map((c) => ({ callId: c.callId, name: c.name, args: c.arguments })))).toEqual(
    calls(expected.calls),
  );
  expect(result.finish).toBe(expected.finish);
  expect(result.usage).toEqual(expected.usage);
  expect(result.costUsd).toEqual(options.prices ? costOf(expected.usage, options.prices) : undefined);
}
