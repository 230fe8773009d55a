import { describe, expect, it } from "vitest";
import { z } from "zod";
import { MemoryThreadStore } from "../src/conversation/memory-store.ts";
import { danglingCalls } from "../src/conversation/replay.ts";
import { isTaifengError } from "../src/errors.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import type { Event } from "../src/protocol/index.ts";
import { defineTool } from "../src/tool/define.ts";
import { echoTool, hangingTool, nextEvent, ofSubmission, simEngine } from "./helpers/engine.ts";
import { shape } from "./helpers/events.ts";

async function drain(it: AsyncIterable<Event>): Promise<Event[]> {
  const out: Event[] = [];
  for await (const ev of it) out.push(ev);
  return out;
}

describe("engine: interrupt", () => {
  it("interrupts mid-stream: keeps the partial text, ends with turn_aborted, acknowledges the interrupt", async () => {
    const { engine, events } = await simEngine([{ text: ["a", "b", "c", "d"], chunkDelayMs: 30 }]);
    const id = engine.submit("talk");
    await nextEvent(engine, (e) => e.msg.type === "assistant_text");
    const intr = engine.submit({ type: "interrupt" });
    await drain(engine.subscribe(id));
    expect(shape(ofSubmission(events, id))).toEqual([
      "turn_started",
      'user_message input "talk"',
      "model_call_started 1",
      'assistant_text "a"',
      "model_call_completed 1 aborted",
      "turn_aborted interrupt",
    ]);
    expect(shape(ofSubmission(events, intr))).toEqual(["op_applied interrupt"]);
    expect(engine.items.at(-1)).toEqual({
      type: "message",
      role: "assistant",
      content: [{ type: "text", text: "a" }],
    });
  });

  it("interrupts mid-tool even when the tool ignores its signal; every open call gets an output", async () => {
    const { engine, events } = await simEngine(
      [
        {
          toolCalls: [
            { name: "hang", arguments: {} },
            { name: "echo", arguments: { v: "later" } },
          ],
        },
      ],
      { tools: [hangingTool(), echoTool("echo", { readOnly: false })] },
    );
    const id = engine.submit("work");
    await nextEvent(engine, (e) => e.msg.type === "model_call_completed");
    await new Promise((r) => setTimeout(r, 10));
    engine.submit({ type: "interrupt" });
    await drain(engine.subscribe(id));
    expect(shape(ofSubmission(events, id)).slice(3)).toEqual([
      "tool_call_started hang call_1_1",
      "tool_call_started echo call_1_2",
      "model_call_completed 1 tool_calls",
      "tool_call_completed hang call_1_1 aborted",
      "tool_call_completed echo call_1_2 aborted",
      "turn_aborted interrupt",
    ]);
    expect(danglingCalls(engine.items)).toEqual([]);
    const outputs = engine.items.filter((i) => i.type === "function_call_output");
    expect(outputs.map((o) => o.output)).toEqual([
      expect.stringMatching(/^Tool call aborted after \d+ ms: the turn was interrupted\.$/),
      "Tool call not run: the turn was interrupted.",
    ]);
  });

  it("rejects an interrupt when no turn runs", async () => {
    const { engine } = await simEngine([]);
    const events = await engine.submitAndWait({ type: "interrupt" });
    expect(shape(events)).toEqual(["op_rejected interrupt no_active_turn"]);
  });

  it("interrupts a turn waiting before its first chunk", async () => {
    const { engine } = await simEngine([{ text: "late", delayMs: 60_000 }]);
    const id = engine.submit("x");
    await nextEvent(engine, (e) => e.msg.type === "model_call_started");
    engine.submit({ type: "interrupt" });
    const events = await drain(engine.subscribe(id));
    expect(events.at(-1)?.msg).toMatchObject({ type: "turn_aborted", reason: "interrupt", steps: 1 });
  });
});

describe("engine: steering", () => {
  it("delivers a steer message at the next model call of the running turn", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = defineTool({
      name: "slow",
      description: "waits",
      schema: z.object({}),
      execute: async () => {
        await gate;
        return "slow done";
      },
    });
    const seen: string[] = [];
    const { engine, events } = await simEngine(
      [
        { toolCalls: [{ name: "slow", arguments: {} }] },
        (req) => {
          seen.push(JSON.stringify(req.items.slice(-2)));
          return { text: "Switching to tests." };
        },
      ],
      { tools: [slow] },
    );
    const id = engine.submit("refactor");
    await nextEvent(engine, (e) => e.msg.type === "tool_call_started");
    const steer = engine.submit({ type: "steer", text: "actually, write tests first" });
    release();
    await drain(engine.subscribe(id));
    expect(shape(ofSubmission(events, steer))).toEqual(["op_applied steer"]);
    const turn = shape(ofSubmission(events, id));
    const at = turn.indexOf('user_message steer "actually, write tests first"');
    expect(turn.slice(at - 1, at + 2)).toEqual([
      "tool_call_completed slow call_1_1 ok",
      'user_message steer "actually, write tests first"',
      "model_call_started 2",
    ]);
    expect(JSON.parse(seen[0] as string)).toEqual([
      { type: "function_call_output", callId: "call_1_1", output: "slow done" },
      { type: "message", role: "user", content: [{ type: "text", text: "actually, write tests first" }] },
    ]);
  });

  it("starts a turn when a steer arrives with no turn running", async () => {
    const { engine } = await simEngine([{ text: "ok" }]);
    const events = await engine.submitAndWait({ type: "steer", text: "hello" });
    expect(shape(events).slice(0, 2)).toEqual(["turn_started", 'user_message input "hello"']);
    expect(events.at(-1)?.msg.type).toBe("turn_completed");
  });
});

describe("engine: subscribers", () => {
  it("gives late and concurrent subscribers the same complete sequence", async () => {
    const { engine } = await simEngine([{ text: ["x", "y"], chunkDelayMs: 2 }]);
    const id = engine.submit("go");
    const early = drain(engine.subscribe(id));
    const alsoEarly = drain(engine.subscribe(id));
    const whole = engine.events();
    const live = await early;
    const late = await drain(engine.subscribe(id));
    expect(late).toEqual(live);
    expect(await alsoEarly).toEqual(live);
    expect(shape(live)[0]).toBe("turn_started");
    expect(live.at(-1)?.msg.type).toBe("turn_completed");
    await engine.close();
    const all = await drain(whole);
    expect(all.slice(0, live.length)).toEqual(live);
    expect(all.at(-1)?.msg.type).toBe("shutdown_complete");
  });

  it("drops the logs of old submissions beyond the retention limit", async () => {
    const { engine } = await simEngine(
      { steps: [{ text: "ok" }], onExhausted: "repeat_last" },
      { retainSubmissions: 2 },
    );
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(engine.submit(`m${i}`));
      await drain(engine.subscribe(ids[i] as string));
    }
    expect(() => engine.subscribe(ids[0] as string)).toThrow(/unknown or expired submission/);
    expect((await drain(engine.subscribe(ids[2] as string))).length).toBeGreaterThan(0);
  });

  it("keeps running when a listener throws", async () => {
    const errors: unknown[] = [];
    const { engine, events } = await simEngine([{ text: "fine" }], {
      listeners: [
        () => {
          throw new Error("bad sink");
        },
      ],
      onListenerError: (e) => errors.push(e),
    });
    await engine.submitAndWait("x");
    expect(events.at(-1)?.msg.type).toBe("turn_completed");
    expect(errors.length).toBe(events.length);
  });
});

describe("engine: ops and lifecycle", () => {
  it("rewinds turns and refuses to rewind further than the history", async () => {
    const { engine, events } = await simEngine({ steps: [{ text: "a" }, { text: "b" }] });
    await engine.submitAndWait("one");
    const afterOne = engine.items.slice();
    await engine.submitAndWait("two");
    const tooFar = await engine.submitAndWait({ type: "rewind", turns: 3 });
    expect(shape(tooFar)).toEqual(["op_rejected rewind rewind_too_far"]);
    const ok = await engine.submitAndWait({ type: "rewind", turns: 1 });
    expect(ok.map((e) => e.msg)).toEqual([{ type: "thread_rewound", turns: 1, remainingTurns: 1 }]);
    expect(engine.items).toEqual(afterOne);
    expect(events.filter((e) => e.msg.type === "thread_rewound")).toHaveLength(1);
  });

  it("rejects malformed ops and submissions after shutdown with typed errors", async () => {
    const { engine } = await simEngine([]);
    expect(() => engine.submit({ type: "rewind", turns: 0 })).toThrow(
      expect.objectContaining({ code: "invalid_op" }),
    );
    expect(() => engine.submit({ type: "nope" } as never)).toThrow(/invalid op/);
    const unknown = await engine.submitAndWait({ type: "approval", requestId: "r1", decision: "allow_once" });
    expect(shape(unknown)).toEqual(["op_rejected approval unknown_request"]);
    await engine.close();
    await engine.close();
    try {
      engine.submit("late");
      expect.unreachable();
    } catch (err) {
      expect(isTaifengError(err, "engine_closed")).toBe(true);
    }
  });

  it("shutdown interrupts the running turn and rejects queued work", async () => {
    const { engine, events } = await simEngine([{ text: "slow", delayMs: 60_000 }]);
    const running = engine.submit("first");
    const queued = engine.submit("second");
    await nextEvent(engine, (e) => e.msg.type === "model_call_started");
    await engine.close();
    expect(ofSubmission(events, running).at(-1)?.msg).toMatchObject({
      type: "turn_aborted",
      reason: "shutdown",
    });
    expect(shape(ofSubmission(events, queued))).toEqual(["op_rejected user_input engine_closed"]);
    expect(events.at(-1)?.msg.type).toBe("shutdown_complete");
    expect(engine.status).toBe("closed");
  });

  it("switches model for later turns through override_context", async () => {
    const other = new SimClient({ script: [{ text: "from other" }], name: "other" });
    const { engine, events } = await simEngine([], { resolveModel: async () => other });
    const ack = await engine.submitAndWait({ type: "override_context", model: "sim:other", cwd: "/srv" });
    expect(ack.map((e) => e.msg)).toEqual([{ type: "context_overridden", model: "sim:other", cwd: "/srv" }]);
    await engine.submitAndWait("hi");
    expect(events.find((e) => e.msg.type === "turn_started")?.msg).toEqual({
      type: "turn_started",
      model: "sim:other",
    });
    const { engine: noResolver } = await simEngine([]);
    const rejected = await noResolver.submitAndWait({ type: "override_context", model: "x:y" });
    expect(shape(rejected)).toEqual(["op_rejected override_context unknown_model"]);
  });

  it("resumes a thread from its store with the same history", async () => {
    const store = new MemoryThreadStore();
    const { engine } = await simEngine([{ text: "first answer" }], { store });
    await engine.submitAndWait("q1");
    const before = engine.items.slice();
    await engine.close();
    const sim = new SimClient({ script: [{ text: "second answer" }] });
    const events: Event[] = [];
    const resumed = await AgentEngine.open({
      model: sim,
      store,
      threadId: engine.threadId,
      listeners: [(e) => events.push(e)],
    });
    expect(resumed.items).toEqual(before);
    expect(events[0]?.msg).toEqual({ type: "thread_opened", resumed: true, turns: 1 });
    await resumed.submitAndWait("q2");
    expect(resumed.items.length).toBe(before.length + 2);
  });

  it("releases its thread from the model client when it closes or switches model", async () => {
    // One SimClient for every open of the thread: its place in the script lasts while an
    // engine has the thread open, and a closed thread leaves nothing behind in the client.
    const store = new MemoryThreadStore();
    const sim = new SimClient({ script: [{ text: "one" }, { text: "two" }] });
    const first = await AgentEngine.open({ model: sim, store });
    await first.submitAndWait("a");
    await first.submitAndWait("b");
    expect(sim.callsMade(first.threadId)).toBe(2);
    await first.close();
    expect(sim.callsMade(first.threadId)).toBe(0);
    const again = await AgentEngine.open({ model: sim, store, threadId: first.threadId });
    const answer = await again.submitAndWait("c");
    expect(answer.find((e) => e.msg.type === "turn_completed")?.msg).toMatchObject({ text: "one" });
    // Switching model releases the thread from the previous client at once.
    const other = new SimClient({ script: [{ text: "other" }], name: "other" });
    const switching = await AgentEngine.open({ model: sim, resolveModel: async () => other });
    await switching.submitAndWait("x");
    expect(sim.callsMade(switching.threadId)).toBe(1);
    await switching.submitAndWait({ type: "override_context", model: "sim:other" });
    expect(sim.callsMade(switching.threadId)).toBe(0);
    await switching.submitAndWait("y");
    await switching.close();
    expect(other.callsMade(switching.threadId)).toBe(0);
    await again.close();
  });

  it("reports a model client that fails to release as a warning, and still shuts down", async () => {
    const sim = new SimClient({ script: [{ text: "hi" }] });
    const model = {
      id: sim.id,
      stream: sim.stream.bind(sim),
      release: () => {
        throw new Error("boom");
      },
    };
    const events: Event[] = [];
    const engine = await AgentEngine.open({ model, listeners: [(e) => events.push(e)] });
    await engine.submitAndWait("q");
    await engine.close();
    expect(shape(events.slice(-2))).toEqual(["warning model_release_failed", "shutdown_complete"]);
    expect(events.at(-2)?.msg).toMatchObject({
      message: `sim:script failed to release thread ${engine.threadId}: boom`,
    });
  });

  it("closes a turn a crash left open: synthetic outputs, then turn_aborted", async () => {
    const store = new MemoryThreadStore();
    const writer = await store.create({ schemaVersion: 1, threadId: "thr_crash", createdAt: 1 });
    writer.append({
      ts: 2,
      type: "turn_context",
      payload: { turnId: "turn_1", submissionId: "sub_1", model: "sim:x" },
    });
    writer.append({
      ts: 3,
      type: "response_item",
      payload: { type: "message", role: "user", content: [{ type: "text", text: "do it" }] },
    });
    writer.append({
      ts: 4,
      type: "response_item",
      payload: { type: "function_call", callId: "c1", name: "bash", arguments: "{}" },
    });
    await writer.close();
    const events: Event[] = [];
    const engine = await AgentEngine.open({
      model: new SimClient({ script: [{ text: "ok" }] }),
      store,
      threadId: "thr_crash",
      listeners: [(e) => events.push(e)],
    });
    expect(shape(events)).toEqual([
      "thread_opened",
      "tool_call_completed bash c1 aborted",
      "turn_aborted crash",
    ]);
    expect(events[2]).toMatchObject({ submissionId: "sub_1", turnId: "turn_1" });
    expect(danglingCalls(engine.items)).toEqual([]);
    const lines = await store.read("thr_crash");
    expect(lines.at(-1)).toMatchObject({
      type: "event",
      payload: { msg: { type: "turn_aborted", reason: "crash" } },
    });
  });
});
