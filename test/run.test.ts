import { describe, expect, it } from "vitest";
import { z } from "zod";
import { isTaifengError } from "../src/errors.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { run, stream } from "../src/loop/run.ts";
import { echoTool } from "./helpers/engine.ts";
import { shape } from "./helpers/events.ts";

const script = () =>
  new SimClient({
    script: [{ toolCalls: [{ name: "echo", arguments: { v: "hi" } }] }, { text: ["The ", "end."] }],
  });

describe("run() and stream()", () => {
  it("run() returns the answer, history and usage of one turn", async () => {
    const result = await run("go", { model: script(), tools: [echoTool()] });
    expect(result.text).toBe("The end.");
    expect(result.steps).toBe(2);
    expect(result.items.map((i) => i.type)).toEqual([
      "message",
      "function_call",
      "function_call_output",
      "message",
    ]);
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.events.at(-1)?.msg.type).toBe("turn_completed");
  });

  it("stream() yields the same events run() collects", async () => {
    const s = stream("go", { model: script(), tools: [echoTool()] });
    const seen = [];
    for await (const ev of s) seen.push(ev);
    const result = await s.result;
    expect(seen).toEqual(result.events);
    const viaRun = await run("go", { model: script(), tools: [echoTool()] });
    expect(shape(seen)).toEqual(shape(viaRun.events));
  });

  it("stream().result settles without iterating", async () => {
    const result = await stream("go", { model: script(), tools: [echoTool()] }).result;
    expect(result.text).toBe("The end.");
  });

  it("parses structured output", async () => {
    const result = await run("?", {
      model: new SimClient({ script: [{ text: '{"answer": 42}' }] }),
      output: { schema: z.object({ answer: z.number() }) },
    });
    expect(result.output).toEqual({ answer: 42 });
  });

  it("rejects with turn_failed, carrying the events and error", async () => {
    const failing = new SimClient({ script: [{ error: { code: "auth", message: "bad key" } }] });
    const err = await run("x", { model: failing }).catch((e) => e);
    expect(isTaifengError(err, "turn_failed")).toBe(true);
    expect(err.details.error).toMatchObject({ code: "auth", retryable: false });
    expect(err.message).toContain("bad key");
    const s = stream("x", { model: new SimClient({ script: [{ error: { code: "auth" } }] }) });
    const events = [];
    for await (const ev of s) events.push(ev);
    expect(events.at(-1)?.msg.type).toBe("turn_failed");
    await expect(s.result).rejects.toSatisfy((e) => isTaifengError(e, "turn_failed"));
  });

  it("an aborted signal interrupts the turn and rejects with turn_aborted", async () => {
    const controller = new AbortController();
    const slow = new SimClient({ script: [{ text: "slow", delayMs: 60_000 }] });
    const pending = run("x", { model: slow, signal: controller.signal });
    setTimeout(() => controller.abort(), 10);
    const err = await pending.catch((e) => e);
    expect(isTaifengError(err, "turn_aborted")).toBe(true);
  });
});
