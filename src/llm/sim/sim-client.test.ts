import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isTaifengError } from "../../errors.ts";
import type { ModelEvent, ModelRequest } from "../types.ts";
import { loadSimScript, parseSimScript } from "./script.ts";
import { SimClient, wordChunks } from "./sim-client.ts";

const request = (threadId = "t1"): ModelRequest => ({ system: "sys", items: [], tools: [], threadId });

async function collect(stream: AsyncIterable<ModelEvent>): Promise<ModelEvent[]> {
  const out: ModelEvent[] = [];
  for await (const ev of stream) out.push(ev);
  return out;
}

describe("SimClient", () => {
  it("streams reasoning, text chunks, tool calls in pieces, usage and finish in order", async () => {
    const sim = new SimClient({
      script: [
        {
          reasoning: "think",
          text: ["Hel", "lo"],
          toolCalls: [{ name: "add", arguments: { a: 1, b: 22 }, chunks: 3 }],
          usage: { inputTokens: 10, outputTokens: 5 },
        },
      ],
    });
    const events = await collect(sim.stream(request()));
    expect(events).toEqual([
      { type: "reasoning_delta", delta: "think" },
      { type: "reasoning_end" },
      { type: "text_delta", delta: "Hel" },
      { type: "text_delta", delta: "lo" },
      { type: "tool_call_start", callId: "call_1_1", name: "add" },
      { type: "tool_call_delta", callId: "call_1_1", delta: '{"a":' },
      { type: "tool_call_delta", callId: "call_1_1", delta: '1,"b"' },
      { type: "tool_call_delta", callId: "call_1_1", delta: ":22}" },
      { type: "tool_call_end", callId: "call_1_1" },
      {
        type: "usage",
        usage: {
          inputTokens: 10,
          cachedInputTokens: 0,
          cacheWriteTokens: 0,
          outputTokens: 5,
          reasoningTokens: 2,
        },
      },
      { type: "finish", reason: "tool_calls", responseId: "sim:script#1", responseModel: "script" },
    ]);
    const args = events.flatMap((e) => (e.type === "tool_call_delta" ? [e.delta] : [])).join("");
    expect(JSON.parse(args)).toEqual({ a: 1, b: 22 });
  });

  it("splits string text into word chunks that reassemble exactly", () => {
    const text = "  Hello,  world!\nNext line ";
    expect(wordChunks(text).join("")).toBe(text);
    expect(wordChunks("a b")).toEqual(["a ", "b"]);
  });

  it("consumes one step per model call and keeps a separate cursor per thread", async () => {
    const sim = new SimClient({ script: [{ text: "one" }, { text: "two" }] });
    const textOf = async (threadId: string) =>
      (await collect(sim.stream(request(threadId))))
        .flatMap((e) => (e.type === "text_delta" ? [e.delta] : []))
        .join("");
    expect(await textOf("a")).toBe("one");
    expect(await textOf("b")).toBe("one");
    expect(await textOf("a")).toBe("two");
    expect(sim.callsMade("a")).toBe(2);
  });

  it("ends with an invalid_request error when the script is exhausted, or repeats the last step", async () => {
    const strict = new SimClient({ script: [{ text: "x" }] });
    await collect(strict.stream(request()));
    const last = (await collect(strict.stream(request()))).at(-1);
    expect(last).toMatchObject({
      type: "error",
      error: { code: "invalid_request", source: "model", retryable: false },
    });

    const loop = new SimClient({ script: { steps: [{ text: "x" }], onExhausted: "repeat_last" } });
    await collect(loop.stream(request()));
    expect((await collect(loop.stream(request()))).at(-1)).toEqual({
      type: "finish",
      reason: "stop",
      responseId: "sim:script#2",
      responseModel: "script",
    });
  });

  it("emits a classified error after the given number of chunks", async () => {
    const sim = new SimClient({
      script: [
        {
          text: ["a", "b", "c"],
          error: { code: "rate_limit", afterChunks: 2, retryAfterMs: 1500, status: 429 },
        },
      ],
    });
    const events = await collect(sim.stream(request()));
    expect(events).toEqual([
      { type: "text_delta", delta: "a" },
      { type: "text_delta", delta: "b" },
      {
        type: "error",
        error: {
          code: "rate_limit",
          message: "simulated failure",
          source: "model",
          retryable: true,
          retryAfterMs: 1500,
          status: 429,
        },
      },
    ]);
  });

  it("stops with an aborted error when the signal fires during a delay, without throwing", async () => {
    const sim = new SimClient({ script: [{ text: ["a", "b"], delayMs: 10_000 }] });
    const controller = new AbortController();
    const pending = collect(sim.stream(request(), { signal: controller.signal }));
    setTimeout(() => controller.abort(), 5);
    const events = await pending;
    expect(events).toEqual([
      {
        type: "error",
        error: { code: "aborted", message: "model call aborted", source: "model", retryable: false },
      },
    ]);
  });

  it("replays a scripted step identically for every thread, with usage estimated per request", async () => {
    // Steps are planned once and shared between calls: a second thread, a bigger prompt and
    // a step repeated past the script's end must each still get their own correct stream.
    const sim = new SimClient({
      script: {
        steps: [{ text: "done" }, { toolCalls: [{ name: "f", arguments: { q: 1 } }] }],
        onExhausted: "repeat_last",
      },
    });
    const first = await collect(sim.stream(request("a")));
    const bigger: ModelRequest = { ...request("b"), system: "s".repeat(400) };
    const second = await collect(sim.stream(bigger));
    const withoutUsage = (events: ModelEvent[]) => events.filter((e) => e.type !== "usage");
    expect(withoutUsage(first)).toEqual([
      { type: "text_delta", delta: "done" },
      { type: "finish", reason: "stop", responseId: "sim:script#1", responseModel: "script" },
    ]);
    expect(withoutUsage(second)).toEqual(withoutUsage(first));
    const usage = (events: ModelEvent[]) => events.find((e) => e.type === "usage");
    expect(usage(first)).toMatchObject({ usage: { inputTokens: 1, outputTokens: 1 } }); // "sys", "done"
    expect(usage(second)).toMatchObject({ usage: { inputTokens: 100, outputTokens: 1 } });

    const call = await collect(sim.stream(request("a")));
    const repeated = await collect(sim.stream(request("a")));
    expect(call[0]).toEqual({ type: "tool_call_start", callId: "call_2_1", name: "f" });
    expect(usage(call)).toMatchObject({ usage: { outputTokens: 2 } }); // '{"q":1}': 7 chars
    expect(repeated[0]).toEqual({ type: "tool_call_start", callId: "call_3_1", name: "f" });
    expect(repeated.filter((e) => e.type === "tool_call_delta").map((e) => e.callId)).toEqual([
      "call_3_1",
      "call_3_1",
    ]);
  });

  it("computes steps from the request with step functions", async () => {
    const sim = new SimClient({
      script: [(req, call) => ({ text: `${req.system}#${call.index}` })],
      onExhausted: "repeat_last",
    });
    const events = await collect(sim.stream(request()));
    expect(events[0]).toEqual({ type: "text_delta", delta: "sys#0" });
  });

  it("reports a step function that returns an invalid step as an error event", async () => {
    const sim = new SimClient({ script: [() => ({ text: 42 }) as never] });
    const events = await collect(sim.stream(request()));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: "error", error: { code: "invalid_request" } });
    expect((events[0] as { error: { message: string } }).error.message).toContain(
      "steps[0] (function result)",
    );
  });
});

describe("SimClient scripts", () => {
  it("rejects malformed scripts naming the source and the path", () => {
    expect(() =>
      parseSimScript({ steps: [{ text: "ok" }, { toolCalls: [{ arguments: {} }] }] }, "demo.json"),
    ).toThrow(/invalid SimClient script demo\.json: steps\[1\]\.toolCalls\[0\]\.name/);
    expect(() => parseSimScript({ steps: [{ txt: "typo" }] })).toThrow(/steps\[0\].*txt/);
    expect(() => parseSimScript({ steps: [] })).toThrow(/steps/);
  });

  it("loads a bare array from a file and reports unreadable or invalid JSON files", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taifeng-sim-"));
    const good = join(dir, "good.json");
    await writeFile(good, JSON.stringify([{ text: "hi" }]));
    const script = await loadSimScript(good);
    expect(script.steps[0]).toMatchObject({ text: "hi", delayMs: 0 });
    expect(script.onExhausted).toBe("error");

    const bad = join(dir, "bad.json");
    await writeFile(bad, "{ not json");
    await expect(loadSimScript(bad)).rejects.toSatisfy(
      (e: unknown) => isTaifengError(e, "invalid_script") && (e as Error).message.includes(bad),
    );
    await expect(loadSimScript(join(dir, "missing.json"))).rejects.toThrow(/cannot read SimClient script/);
  });
});
