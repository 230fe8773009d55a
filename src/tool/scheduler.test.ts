import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { EventMsg, FunctionCallItem } from "../protocol/index.ts";
import { defineTool, type Tool, ToolSet } from "./define.ts";
import { ToolBatch, type ToolBatchEnv } from "./scheduler.ts";
import { Stragglers } from "./stragglers.ts";

interface Deferred {
  promise: Promise<string>;
  resolve: (v: string) => void;
}
function deferred(): Deferred {
  let resolve!: (v: string) => void;
  const promise = new Promise<string>((r) => (resolve = r));
  return { promise, resolve };
}

/** A tool whose calls block until the test releases them; records start order. */
function gatedTool(
  name: string,
  opts: { readOnly?: boolean; concurrencySafe?: boolean; timeoutMs?: number },
) {
  const started: string[] = [];
  const pending = new Map<string, Deferred>();
  const tool = defineTool({
    name,
    description: name,
    schema: z.object({ id: z.string() }),
    ...opts,
    execute: ({ id }) => {
      started.push(id);
      const d = deferred();
      pending.set(id, d);
      return d.promise;
    },
  });
  return { tool, started, release: (id: string) => pending.get(id)?.resolve(`done ${id}`) };
}

const call = (name: string, id: string, args?: string): FunctionCallItem => ({
  type: "function_call",
  callId: id,
  name,
  arguments: args ?? JSON.stringify({ id }),
});

function batchWith(tools: Tool[], overrides: Partial<ToolBatchEnv> = {}) {
  const events: EventMsg[] = [];
  const controller = new AbortController();
  const batch = new ToolBatch({
    tools: new ToolSet(tools),
    signal: controller.signal,
    threadId: "t",
    turnId: "u",
    cwd: "/",
    emit: (m) => events.push(m),
    maxParallel: 8,
    defaultTimeoutMs: 0,
    startDuringStream: true,
    ...overrides,
  });
  return { batch, events, controller };
}

const tick = () => new Promise((r) => setImmediate(r));
const completions = (events: EventMsg[]) =>
  events.flatMap((e) => (e.type === "tool_call_completed" ? [`${e.callId}:${e.status}`] : []));

describe("ToolBatch", () => {
  it("runs concurrency-safe calls in parallel and returns outputs in emission order", async () => {
    const r = gatedTool("read", { readOnly: true });
    const { batch, events } = batchWith([r.tool]);
    batch.add(call("read", "a"));
    batch.add(call("read", "b"));
    const done = batch.close();
    await tick();
    expect(r.started).toEqual(["a", "b"]); // both running at once
    r.release("b");
    await tick();
    r.release("a");
    const outputs = await done;
    expect(outputs.map((o) => o.output)).toEqual(["done a", "done b"]);
    expect(completions(events)).toEqual(["b:ok", "a:ok"]);
  });

  it("runs other calls alone, in order, and never lets a later call overtake an exclusive one", async () => {
    const w = gatedTool("write", {});
    const r = gatedTool("read", { readOnly: true });
    const { batch } = batchWith([w.tool, r.tool]);
    batch.add(call("write", "w1"));
    batch.add(call("read", "r1"));
    batch.add(call("write", "w2"));
    const done = batch.close();
    await tick();
    expect([...w.started, ...r.started]).toEqual(["w1"]);
    w.release("w1");
    await tick();
    expect(r.started).toEqual(["r1"]);
    expect(w.started).toEqual(["w1"]);
    r.release("r1");
    await tick();
    expect(w.started).toEqual(["w1", "w2"]);
    w.release("w2");
    expect((await done).map((o) => o.callId)).toEqual(["w1", "r1", "w2"]);
  });

  it("starts read-only safe calls while the stream runs and holds the others until close", async () => {
    const w = gatedTool("write", {});
    const r = gatedTool("read", { readOnly: true });
    const { batch } = batchWith([w.tool, r.tool]);
    batch.add(call("read", "r1"));
    await tick();
    expect(r.started).toEqual(["r1"]);
    batch.add(call("write", "w1"));
    batch.add(call("read", "r2"));
    await tick();
    expect(w.started).toEqual([]); // stream still open
    expect(r.started).toEqual(["r1"]); // r2 queued behind w1
    const done = batch.close();
    r.release("r1");
    await tick();
    expect(w.started).toEqual(["w1"]);
    w.release("w1");
    await tick();
    r.release("r2");
    expect((await done).map((o) => o.output)).toEqual(["done r1", "done w1", "done r2"]);
  });

  it("does not start early when startDuringStream is off", async () => {
    const r = gatedTool("read", { readOnly: true });
    const { batch } = batchWith([r.tool], { startDuringStream: false });
    batch.add(call("read", "r1"));
    await tick();
    expect(r.started).toEqual([]);
    const done = batch.close();
    await tick();
    r.release("r1");
    await done;
    expect(r.started).toEqual(["r1"]);
  });

  it("bounds parallelism with maxParallel", async () => {
    const r = gatedTool("read", { readOnly: true });
    const { batch } = batchWith([r.tool], { maxParallel: 2 });
    for (const id of ["a", "b", "c"]) batch.add(call("read", id));
    const done = batch.close();
    await tick();
    expect(r.started).toEqual(["a", "b"]);
    r.release("a");
    await tick();
    expect(r.started).toEqual(["a", "b", "c"]);
    r.release("b");
    r.release("c");
    await done;
  });

  it("turns unknown tools, bad JSON, invalid input and thrown errors into readable outputs", async () => {
    const boom = defineTool({
      name: "boom",
      description: "d",
      schema: z.object({ n: z.number() }),
      execute: () => {
        throw new Error("disk on fire");
      },
    });
    const { batch, events } = batchWith([boom]);
    batch.add(call("nope", "c1", "{}"));
    batch.add(call("boom", "c2", "{oops"));
    batch.add(call("boom", "c3", '{"n":"x"}'));
    batch.add(call("boom", "c4", '{"n":1}'));
    const outputs = await batch.close();
    expect(outputs.map((o) => [o.callId, o.isError])).toEqual([
      ["c1", true],
      ["c2", true],
      ["c3", true],
      ["c4", true],
    ]);
    expect(outputs[0]?.output).toBe('Unknown tool "nope". Available tools: boom.');
    expect(outputs[1]?.output).toContain("not valid JSON");
    expect(outputs[2]?.output).toContain("Invalid input for tool boom");
    expect(outputs[3]?.output).toBe("Tool boom failed: disk on fire");
    expect(completions(events)).toEqual([
      "c1:unknown_tool",
      "c2:invalid_input",
      "c3:invalid_input",
      "c4:error",
    ]);
    const started = events.filter((e) => e.type === "tool_call_started");
    expect(started).toHaveLength(4);
    expect(started[1]).toMatchObject({ input: "{oops" });
  });

  it("answers close() at once, without a promise, when every call has already settled", async () => {
    const now = defineTool({ name: "now", description: "d", schema: z.object({}), execute: () => "sync" });
    const { batch, events } = batchWith([now]);
    batch.add(call("now", "a", "{}"));
    batch.add(call("missing", "b", "{}"));
    const recorded: string[] = [];
    const outputs = batch.close((out) => recorded.push(out.callId));
    expect(Array.isArray(outputs)).toBe(true);
    expect((outputs as { callId: string }[]).map((o) => o.callId)).toEqual(["a", "b"]);
    expect(recorded).toEqual(["a", "b"]);
    // The unknown tool fails on arrival; the write-capable call runs once the stream closes.
    expect(completions(events)).toEqual(["b:unknown_tool", "a:ok"]);
    // With a call still running, the answer is a promise of the same shape.
    const slow = gatedTool("slow", { readOnly: true });
    const second = batchWith([slow.tool]);
    second.batch.add(call("slow", "s"));
    const pending = second.batch.close();
    expect(pending).toBeInstanceOf(Promise);
    await tick();
    slow.release("s");
    expect((await pending).map((o) => o.output)).toEqual(["done s"]);
  });

  it("keeps a timed-out exclusive call's lock until its execute settles", async () => {
    const order: string[] = [];
    const stubborn = defineTool({
      name: "stubborn",
      description: "d",
      schema: z.object({}),
      timeoutMs: 20,
      // Ignores its signal and ends 150 ms after the timeout.
      execute: () =>
        new Promise<string>((resolve) =>
          setTimeout(() => {
            order.push("stubborn ended");
            resolve("late");
          }, 170),
        ),
    });
    const next = defineTool({
      name: "next",
      description: "d",
      schema: z.object({}),
      execute: () => {
        order.push("next started");
        return "fine";
      },
    });
    const { batch, events } = batchWith([stubborn, next]);
    batch.add(call("stubborn", "s", "{}"));
    batch.add(call("next", "n", "{}"));
    const outputs = await batch.close();
    expect(outputs.map((o) => o.output)).toEqual(["Tool stubborn timed out after 20 ms.", "fine"]);
    expect(completions(events)).toEqual(["s:timeout", "n:ok"]);
    expect(order).toEqual(["stubborn ended", "next started"]);
  });

  it("refuses a conflicting call, after the wait, while a timed-out call never settles", async () => {
    const hang = defineTool({
      name: "hang",
      description: "d",
      schema: z.object({}),
      timeoutMs: 20,
      execute: () => new Promise(() => {}),
    });
    let ran = false;
    const write = defineTool({
      name: "write",
      description: "d",
      schema: z.object({}),
      execute: () => {
        ran = true;
        return "wrote";
      },
    });
    const read = defineTool({
      name: "read",
      description: "d",
      schema: z.object({}),
      readOnly: true,
      execute: () => "read",
    });
    const stragglers = new Stragglers({ waitMs: 60 });
    const first = batchWith([hang, write, read], { stragglers });
    first.batch.add(call("hang", "h", "{}"));
    first.batch.add(call("write", "w", "{}"));
    const outputs = await first.batch.close();
    expect(outputs[1]?.output).toBe(
      "Tool call not run: hang (call h) was stopped but is still running after 60 ms, and this call could conflict with it. Try again once it has ended.",
    );
    expect(completions(first.events)).toEqual(["h:timeout", "w:error"]);
    expect(ran).toBe(false);
    // A later batch of the same engine: still refused; the hung call was exclusive, so reads wait too.
    const later = batchWith([hang, write, read], { stragglers });
    later.batch.add(call("read", "r", "{}"));
    later.batch.add(call("write", "w2", "{}"));
    expect(completions(later.events)).toEqual([]);
    await later.batch.close();
    expect(completions(later.events)).toEqual(["r:error", "w2:error"]);
    expect(ran).toBe(false);
  });

  it("on abort settles running and waiting calls with synthetic outputs, even if a tool ignores its signal", async () => {
    let sawAbort = false;
    const stubborn = defineTool({
      name: "stubborn",
      description: "d",
      schema: z.object({}),
      execute: (_input, ctx) => {
        ctx.signal.addEventListener("abort", () => (sawAbort = true));
        return new Promise(() => {});
      },
    });
    const w = gatedTool("write", {});
    const { batch, events, controller } = batchWith([stubborn, w.tool]);
    batch.add(call("stubborn", "s", "{}"));
    batch.add(call("write", "w1"));
    const done = batch.close();
    await tick();
    controller.abort();
    const outputs = await done;
    expect(sawAbort).toBe(true);
    expect(outputs[0]?.output).toMatch(/^Tool call aborted after \d+ ms: the turn was interrupted\.$/);
    expect(outputs[1]?.output).toBe("Tool call not run: the turn was interrupted.");
    expect(outputs.every((o) => o.isError)).toBe(true);
    expect(completions(events)).toEqual(["s:aborted", "w1:aborted"]);
  });

  it("cancel() closes every open call when the model stream fails", async () => {
    const r = gatedTool("read", { readOnly: true });
    const { batch } = batchWith([r.tool]);
    batch.add(call("read", "a"));
    await tick();
    const outputs = await batch.cancel("the model call failed");
    expect(outputs[0]?.output).toMatch(/aborted after .* the model call failed\./);
  });

  it("applies the gate in emission order: deny, edited input, and a throwing gate", async () => {
    const seen: unknown[] = [];
    const echo = defineTool({
      name: "echo",
      description: "d",
      schema: z.object({ v: z.string() }),
      execute: ({ v }) => {
        seen.push(v);
        return v;
      },
    });
    const order: string[] = [];
    const { batch, events } = batchWith([echo], {
      gate: async ({ callId, input }) => {
        order.push(callId);
        if (callId === "d") return { allow: false, message: "Denied by policy." };
        if (callId === "e") return { allow: true, input: { v: "edited" } };
        if (callId === "x") throw new Error("gate crashed");
        if (callId === "bad") return { allow: true, input: { v: 7 } };
        return { allow: true, input: undefined as unknown as typeof input };
      },
    });
    for (const id of ["a", "d", "e", "x", "bad"]) batch.add(call("echo", id, JSON.stringify({ v: id })));
    const outputs = await batch.close();
    expect(order).toEqual(["a", "d", "e", "x", "bad"]);
    expect(outputs.map((o) => o.output)).toEqual([
      "a",
      "Denied by policy.",
      "edited",
      "Permission check failed: gate crashed",
      expect.stringContaining("Invalid input for tool echo"),
    ]);
    expect(seen).toEqual(["a", "edited"]);
    expect(completions(events)).toEqual(["a:ok", "d:denied", "e:ok", "x:denied", "bad:invalid_input"]);
  });

  it("forwards progress only while the call runs", async () => {
    let late: (() => void) | undefined;
    const p = defineTool({
      name: "p",
      description: "d",
      schema: z.object({}),
      execute: (_i, ctx) => {
        ctx.progress({ pct: 50 });
        late = () => ctx.progress({ pct: 100 });
        return "ok";
      },
    });
    const { batch, events } = batchWith([p]);
    batch.add(call("p", "c", "{}"));
    await batch.close();
    late?.();
    expect(events.filter((e) => e.type === "tool_call_progress")).toEqual([
      { type: "tool_call_progress", callId: "c", name: "p", data: { pct: 50 } },
    ]);
  });
});
