import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineTool } from "../src/tool/define.ts";
import { echoTool, ofSubmission, simEngine } from "./helpers/engine.ts";
import { normalize, shape } from "./helpers/events.ts";

const usage = {
  inputTokens: 10,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 3,
  reasoningTokens: 0,
};

describe("engine: a turn", () => {
  it("emits the exact event sequence of a text-only turn", async () => {
    const { engine, events } = await simEngine([{ text: ["Hi", " there"], usage }]);
    const id = engine.submit("hello");
    const seen = [];
    for await (const ev of engine.subscribe(id)) seen.push(ev);
    expect(normalize(events)).toEqual([
      { sub: undefined, turn: undefined, msg: { type: "thread_opened", resumed: false, turns: 0 } },
      { sub: "S1", turn: "T1", msg: { type: "turn_started", model: "sim:script" } },
      { sub: "S1", turn: "T1", msg: { type: "user_message", kind: "input", text: "hello" } },
      { sub: "S1", turn: "T1", msg: { type: "model_call_started", step: 1, model: "sim:script" } },
      { sub: "S1", turn: "T1", msg: { type: "assistant_text", delta: "Hi" } },
      { sub: "S1", turn: "T1", msg: { type: "assistant_text", delta: " there" } },
      { sub: "S1", turn: "T1", msg: { type: "assistant_message", text: "Hi there" } },
      {
        sub: "S1",
        turn: "T1",
        msg: {
          type: "model_call_completed",
          step: 1,
          model: "sim:script",
          finishReason: "stop",
          usage,
          durationMs: 0,
        },
      },
      {
        sub: "S1",
        turn: "T1",
        msg: { type: "turn_completed", text: "Hi there", steps: 1, usage, durationMs: 0 },
      },
    ]);
    expect(seen).toEqual(events.slice(1));
    expect(events.every((e) => e.threadId === engine.threadId)).toBe(true);
    expect(engine.items).toEqual([
      { type: "message", role: "user", content: [{ type: "text", text: "hello" }] },
      { type: "message", role: "assistant", content: [{ type: "text", text: "Hi there" }] },
    ]);
  });

  it("runs tool calls and feeds their outputs to the next model call", async () => {
    const requests: unknown[] = [];
    const { engine, events } = await simEngine(
      [
        { text: "Checking.", toolCalls: [{ name: "echo", arguments: { v: "x" } }] },
        (req) => {
          requests.push(req.items.at(-1));
          return { text: "Done." };
        },
      ],
      { tools: [echoTool()] },
    );
    await engine.submitAndWait("go");
    expect(shape(events.slice(1))).toEqual([
      "turn_started",
      'user_message input "go"',
      "model_call_started 1",
      'assistant_text "Checking."',
      "tool_call_started echo call_1_1",
      "tool_call_completed echo call_1_1 ok",
      'assistant_message "Checking."',
      "model_call_completed 1 tool_calls",
      "model_call_started 2",
      'assistant_text "Done."',
      'assistant_message "Done."',
      "model_call_completed 2 stop",
      "turn_completed",
    ]);
    expect(requests).toEqual([{ type: "function_call_output", callId: "call_1_1", output: "echo:x" }]);
    const end = events.at(-1)?.msg;
    expect(end).toMatchObject({ type: "turn_completed", text: "Done.", steps: 2 });
  });

  it("runs concurrency-safe calls in parallel and others serially, appending outputs in call order", async () => {
    const log: string[] = [];
    let releaseA!: () => void;
    const bStarted = new Promise<void>((r) => (releaseA = r));
    const readA = defineTool({
      name: "read_a",
      description: "waits until read_b runs (deadlocks if run serially)",
      schema: z.object({}),
      readOnly: true,
      timeoutMs: 2000,
      execute: async () => {
        log.push("a start");
        await bStarted;
        log.push("a end");
        return "A";
      },
    });
    const readB = defineTool({
      name: "read_b",
      description: "b",
      schema: z.object({}),
      readOnly: true,
      execute: () => {
        log.push("b start");
        releaseA();
        return "B";
      },
    });
    const write = (name: string) =>
      defineTool({
        name,
        description: name,
        schema: z.object({}),
        execute: async () => {
          log.push(`${name} start`);
          await new Promise((r) => setTimeout(r, 5));
          log.push(`${name} end`);
          return name;
        },
      });
    const { engine } = await simEngine(
      [
        {
          toolCalls: [
            { name: "read_a", arguments: {} },
            { name: "read_b", arguments: {} },
            { name: "w1", arguments: {} },
            { name: "w2", arguments: {} },
          ],
        },
        { text: "ok" },
      ],
      { tools: [readA, readB, write("w1"), write("w2")] },
    );
    const events = await engine.submitAndWait("go");
    expect(log).toEqual(["a start", "b start", "a end", "w1 start", "w1 end", "w2 start", "w2 end"]);
    const outputs = engine.items.filter((i) => i.type === "function_call_output");
    expect(outputs.map((o) => o.output)).toEqual(["A", "B", "w1", "w2"]);
    expect(
      events
        .filter((e) => e.msg.type === "tool_call_completed")
        .every((e) => !("isError" in e.msg && e.msg.isError)),
    ).toBe(true);
  });

  it("fails the turn with a classified error and keeps no output of the failed call", async () => {
    const { engine, events } = await simEngine([
      {
        text: ["partial "],
        toolCalls: [{ name: "echo", arguments: { v: "1" } }],
        error: { code: "server", afterChunks: 2 },
      },
    ]);
    await engine.submitAndWait("go");
    expect(shape(events.slice(1))).toEqual([
      "turn_started",
      'user_message input "go"',
      "model_call_started 1",
      'assistant_text "partial "',
      "model_call_completed 1 error",
      "turn_failed server",
    ]);
    expect(events.at(-1)?.msg).toMatchObject({
      type: "turn_failed",
      error: { code: "server", source: "model", retryable: true },
    });
    expect(engine.items.map((i) => i.type)).toEqual(["message"]);
  });

  it("fails with max_steps when the model keeps calling tools", async () => {
    const { engine, events } = await simEngine(
      { steps: [{ toolCalls: [{ name: "echo", arguments: { v: "again" } }] }], onExhausted: "repeat_last" },
      { tools: [echoTool()], maxSteps: 3 },
    );
    await engine.submitAndWait("loop");
    const end = events.at(-1)?.msg;
    expect(end).toMatchObject({
      type: "turn_failed",
      steps: 3,
      error: { code: "max_steps", source: "engine" },
    });
    expect(shape(events).filter((s) => s.startsWith("warning"))).toEqual(["warning repeated_tool_call"]);
  });

  it("completes through task_finish and nudges a model that stops without it", async () => {
    const { engine, events } = await simEngine(
      [
        { text: "I think I'm done." },
        { toolCalls: [{ name: "task_finish", arguments: { result: "All files renamed." } }] },
      ],
      { completion: "task_finish" },
    );
    await engine.submitAndWait("rename files");
    expect(events.at(-1)?.msg).toMatchObject({
      type: "turn_completed",
      text: "All files renamed.",
      steps: 2,
    });
    expect(engine.items[2]).toEqual({
      type: "message",
      role: "system",
      content: [
        {
          type: "text",
          text: "Continue working. When the task is done, call task_finish with your final answer.",
        },
      ],
    });
  });

  it("validates structured output and lets the model correct a bad answer", async () => {
    const { engine, events } = await simEngine(
      [{ text: "{ not json" }, { text: '```json\n{"city":"Paris","pop":2}\n```' }],
      {
        output: { schema: z.object({ city: z.string(), pop: z.number() }) },
      },
    );
    await engine.submitAndWait("capital of France?");
    expect(events.at(-1)?.msg).toMatchObject({
      type: "turn_completed",
      output: { city: "Paris", pop: 2 },
      steps: 2,
    });
    const correction = engine.items[2];
    expect(correction).toMatchObject({ type: "message", role: "system" });
    expect(JSON.stringify(correction)).toContain("not valid JSON");
  });

  it("fails with invalid_output when the answer never matches the schema", async () => {
    const { engine, events } = await simEngine(
      { steps: [{ text: '{"city": 1}' }], onExhausted: "repeat_last" },
      { output: { schema: z.object({ city: z.string() }) }, outputRetries: 1 },
    );
    await engine.submitAndWait("?");
    expect(events.at(-1)?.msg).toMatchObject({
      type: "turn_failed",
      steps: 2,
      error: { code: "invalid_output" },
    });
  });

  it("queues user inputs and runs them one at a time, in order", async () => {
    const { engine, events } = await simEngine([{ text: "one", delayMs: 5 }, { text: "two" }]);
    const a = engine.submit("first");
    const b = engine.submit("second");
    const done = [];
    for await (const ev of engine.subscribe(b)) done.push(ev);
    const order = events.filter((e) => e.msg.type === "turn_started" || e.msg.type === "turn_completed");
    expect(order.map((e) => [e.submissionId, e.msg.type])).toEqual([
      [a, "turn_started"],
      [a, "turn_completed"],
      [b, "turn_started"],
      [b, "turn_completed"],
    ]);
    expect(ofSubmission(events, b).at(-1)?.msg).toMatchObject({ text: "two" });
  });

  it("fails the turn when the model client breaks its contract", async () => {
    const { engine, events } = await simEngine([]);
    const throwing = {
      id: "bad:throws",
      // biome-ignore lint/correctness/useYield: the point is a stream that throws before yielding
      async *stream() {
        throw new Error("socket exploded");
      },
    };
    const silent = {
      id: "bad:silent",
      async *stream() {
        yield { type: "text_delta" as const, delta: "cut" };
      },
    };
    const resolveModel = async (spec: string) => (spec === "bad:throws" ? throwing : silent);
    const { engine: e2, events: ev2 } = await simEngine([], { resolveModel });
    await e2.submitAndWait({ type: "override_context", model: "bad:throws" });
    await e2.submitAndWait("x");
    await e2.submitAndWait({ type: "override_context", model: "bad:silent" });
    await e2.submitAndWait("y");
    const ends = ev2.filter((e) => e.msg.type === "turn_failed").map((e) => e.msg);
    expect(ends).toMatchObject([
      { error: { code: "unknown", message: "the model client threw: socket exploded" } },
      { error: { code: "network", message: "the model stream ended without a finish event" } },
    ]);
    await engine.close();
    expect(events.at(-1)?.msg.type).toBe("shutdown_complete");
  });
});
