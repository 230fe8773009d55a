import { describe, expect, it } from "vitest";
import { z } from "zod";
import { cacheProfile } from "../src/context/cache-model.ts";
import { microcompact } from "../src/context/strategies/microcompact.ts";
import { MemoryThreadStore } from "../src/conversation/memory-store.ts";
import { SimClient, type SimClientOptions } from "../src/llm/sim/sim-client.ts";
import type { ModelClient, ModelEvent, ModelRequest } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import type { Event, Usage } from "../src/protocol/index.ts";
import { defineTool } from "../src/tool/define.ts";
import { shape } from "./helpers/events.ts";

const readBig = defineTool({
  name: "read_big",
  description: "Returns a large file.",
  schema: z.object({ name: z.string(), size: z.number() }),
  readOnly: true,
  execute: ({ name, size }) =>
    `${name} header\n${"lorem ipsum ".repeat(Math.ceil(size / 12))}`.slice(0, size),
});
const read = (n: number, size = 4000) => ({
  toolCalls: [{ name: "read_big", arguments: { name: `f${n}`, size } }],
});

/** A SimClient whose requests and usage are recorded (the wrapper keeps its cache style). */
function recorded(options: SimClientOptions) {
  const sim = new SimClient(options);
  const calls: { request: ModelRequest; usage: Usage | undefined }[] = [];
  const model: ModelClient = {
    id: sim.id,
    cacheStyle: sim.cacheStyle,
    async *stream(request, opts) {
      const call: { request: ModelRequest; usage: Usage | undefined } = { request, usage: undefined };
      calls.push(call);
      for await (const ev of sim.stream(request, opts) as AsyncIterable<ModelEvent>) {
        if (ev.type === "usage") call.usage = ev.usage;
        yield ev;
      }
    },
  };
  return { model, calls };
}

/** shape(), with the planner's decisions spelled out. */
const lines = (events: readonly Event[]) =>
  events.map((e, i) =>
    e.msg.type === "compaction_planned"
      ? `compaction_planned ${e.msg.action} ${e.msg.reason}`
      : shape(events)[i],
  );

/** The expected event lines of `n` model calls that each read one file, then the answer. */
function readSteps(from: number, to: number): string[] {
  const out: string[] = [];
  for (let i = from; i <= to; i++) {
    out.push(
      `model_call_started ${i}`,
      `tool_call_started read_big call_${i}_1`,
      `tool_call_completed read_big call_${i}_1 ok`,
      `model_call_completed ${i} tool_calls`,
    );
  }
  return out;
}

describe("compaction planned by the price of a cache miss", () => {
  it("batches a trim until the reads it saves pay for the rewrite, then reads through the kept prefix", async () => {
    const events: Event[] = [];
    const store = new MemoryThreadStore();
    const { model, calls } = recorded({
      name: "claude-sonnet-4-5",
      script: [...Array.from({ length: 12 }, (_, i) => read(i + 1)), { text: "done" }],
      cache: { style: "anthropic", minTokens: 256 },
    });
    const engine = await AgentEngine.open({
      model,
      store,
      tools: [readBig],
      context: {
        contextWindow: 100_000,
        reserveOutputTokens: 0,
        cache: cacheProfile("anthropic", { minTokens: 256 }),
        trim: microcompact({ keepRecent: 2, minTokens: 200 }),
      },
      listeners: [(e) => events.push(e)],
    });
    await engine.submitAndWait("read twelve files");
    // Outputs become trimmable one per step from the third; the planner waits until the
    // reads paid for them pass what rewriting the cached tail costs, then trims them all at once
    // (where that falls depends on the token counter's estimates of the outputs).
    expect(lines(events)).toEqual([
      "thread_opened",
      "turn_started",
      'user_message input "read twelve files"',
      ...readSteps(1, 11),
      "compaction_planned trim break_even",
      "compaction_started",
      "compaction_completed",
      ...readSteps(12, 12),
      "model_call_started 13",
      'assistant_text "done"',
      'assistant_message "done"',
      "model_call_completed 13 stop",
      "turn_completed",
    ]);
    const planned = events.find((e) => e.msg.type === "compaction_planned")?.msg;
    if (planned?.type !== "compaction_planned") throw new Error("no plan");
    expect(planned).toMatchObject({
      action: "trim",
      trigger: "mid_turn",
      cacheStyle: "anthropic",
      horizonCalls: 10,
    });
    expect(planned.saving).toBeGreaterThanOrEqual(planned.cost);
    // Prices from the catalog entry of the simulated model (claude-sonnet-4-5: $3 per million input).
    expect(planned.costUsd).toBeCloseTo((planned.cost * 3) / 1e6, 6);
    // The request after the trim places a breakpoint where the trim cut (after items[0..2))
    // and the provider serves exactly that prefix from cache.
    const after = calls[11];
    expect(after?.request.cacheBreakpoints?.[0]).toBe(2);
    const served = after?.usage?.cachedInputTokens ?? 0;
    expect(served).toBeGreaterThan(0);
    // The planner's figure is the engine's calibrated estimate of those tokens, not a count.
    expect(Math.abs(served - planned.cachedTokensKept)).toBeLessThan(served * 0.1);
    // ... and the next requests read the whole rewritten prompt again.
    expect(calls[12]?.usage?.cachedInputTokens).toBe(after?.usage?.inputTokens);
    // The decision is in the transcript, before the checkpoint it explains.
    const kinds = (await store.read(engine.threadId)).map((l) =>
      l.type === "event" ? `event ${l.payload.msg.type}` : l.type,
    );
    const at = kinds.indexOf("event compaction_planned");
    expect(at).toBeGreaterThan(0);
    expect(kinds.slice(at, at + 3)).toEqual([
      "event compaction_planned",
      "compacted",
      "event compaction_completed",
    ]);
  });

  it("trims at once when the provider's cache has expired: a rewrite then costs nothing", async () => {
    let now = 0;
    const events: Event[] = [];
    const { model, calls } = recorded({
      script: [read(1), read(2), read(3), { text: "a" }, read(4), { text: "b" }],
      cache: { style: "anthropic", minTokens: 256, now: () => now },
    });
    const engine = await AgentEngine.open({
      model,
      tools: [readBig],
      context: {
        contextWindow: 100_000,
        reserveOutputTokens: 0,
        cache: cacheProfile("anthropic", { minTokens: 256 }),
        trim: microcompact({ keepRecent: 1, minTokens: 200 }),
        now: () => now,
      },
      listeners: [(e) => events.push(e)],
    });
    await engine.submitAndWait("first");
    expect(events.some((e) => e.msg.type === "compaction_planned")).toBe(false);
    now += 6 * 60_000; // past the 5-minute lifetime
    const second = await engine.submitAndWait("second");
    expect(lines(second).slice(0, 6)).toEqual([
      "turn_started",
      'user_message input "second"',
      "compaction_planned trim cold_cache",
      "compaction_started",
      "compaction_completed",
      "model_call_started 1",
    ]);
    expect(second.find((e) => e.msg.type === "compaction_planned")?.msg).toMatchObject({ cost: 0 });
    expect(calls[4]?.usage?.cachedInputTokens).toBe(0);
  });

  it("at the next request, stubs the last turn's outputs too: the rewrite resends only the calls and stubs after the cut", async () => {
    const events: Event[] = [];
    const { model, calls } = recorded({
      name: "claude-sonnet-4-5",
      script: [read(1), read(2), read(3), read(4), { text: "a" }, read(5), { text: "b" }],
      cache: { style: "anthropic", minTokens: 256 },
    });
    const engine = await AgentEngine.open({
      model,
      tools: [readBig],
      context: {
        contextWindow: 100_000,
        boundaryTrims: true,
        reserveOutputTokens: 0,
        cache: cacheProfile("anthropic", { minTokens: 256 }),
        trim: microcompact({ keepRecent: 2, minTokens: 200 }),
      },
      listeners: [(e) => events.push(e)],
    });
    await engine.submitAndWait("first");
    // Four outputs in one turn: the reads of the two outside the working set never pay for a
    // mid-turn rewrite (it would resend the two kept whole).
    expect(events.some((e) => e.msg.type === "compaction_planned")).toBe(false);
    const second = await engine.submitAndWait("second");
    expect(lines(second)).toEqual([
      "turn_started",
      'user_message input "second"',
      "compaction_planned trim boundary",
      "compaction_started",
      "compaction_completed",
      "model_call_started 1",
      "tool_call_started read_big call_6_1",
      "tool_call_completed read_big call_6_1 ok",
      "model_call_completed 1 tool_calls",
      "model_call_started 2",
      'assistant_text "b"',
      'assistant_message "b"',
      "model_call_completed 2 stop",
      "turn_completed",
    ]);
    const planned = second.find((e) => e.msg.type === "compaction_planned")?.msg;
    const completed = second.find((e) => e.msg.type === "compaction_completed")?.msg;
    if (planned?.type !== "compaction_planned" || completed?.type !== "compaction_completed")
      throw new Error("no plan");
    // All four outputs became stubs; the prefix before the first one is byte-identical.
    const before = calls[4]?.request.items ?? [];
    const after = calls[5]?.request.items ?? [];
    const stubbed = after.filter(
      (i) => i.type === "function_call_output" && String(i.output).startsWith("[output trimmed"),
    );
    expect(stubbed).toHaveLength(4);
    expect(JSON.stringify(after.slice(0, 2))).toBe(JSON.stringify(before.slice(0, 2)));
    expect(after[2]).not.toEqual(before[2]);
    // The next turn's reads pay for the rewrite, which resends only the calls and stubs after
    // the cut (a fraction of the tokens removed).
    expect(planned.cost).toBeLessThan(planned.saving);
    expect(planned.cost).toBeLessThan(planned.tokensRemoved * 0.25);
    expect(completed.cachedTokensInvalidated).toBeGreaterThan(planned.tokensRemoved / 2);
    // The provider still serves the kept prefix from cache.
    expect(calls[5]?.usage?.cachedInputTokens).toBeGreaterThan(0);
  });

  it("without a cache, trims each output as soon as it leaves the working set", async () => {
    const events: Event[] = [];
    const { model } = recorded({ script: [read(1), read(2), read(3), read(4), { text: "done" }] });
    const engine = await AgentEngine.open({
      model,
      tools: [readBig],
      context: {
        contextWindow: 100_000,
        reserveOutputTokens: 0,
        trim: microcompact({ keepRecent: 2, minTokens: 200 }),
      },
      listeners: [(e) => events.push(e)],
    });
    await engine.submitAndWait("read");
    const plans = events.flatMap((e) => (e.msg.type === "compaction_planned" ? [e.msg] : []));
    expect(plans.map((p) => [p.action, p.reason, p.cacheStyle, p.cost])).toEqual([
      ["trim", "break_even", "none", 0],
      ["trim", "break_even", "none", 0],
    ]);
    const stubs = engine.items.filter(
      (i) => i.type === "function_call_output" && String(i.output).startsWith("[output trimmed"),
    );
    expect(stubs).toHaveLength(2);
  });
});
