import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { SimStepFn, SimStepInput } from "../src/llm/sim/script.ts";
import type { ModelRequest } from "../src/llm/types.ts";
import { messageText } from "../src/protocol/index.ts";
import { echoTool, simEngine } from "./helpers/engine.ts";
import { shape } from "./helpers/events.ts";

/**
 * The output schema judges what the turn returns as its answer, in both completion modes:
 * task_finish's `result` under tool-driven completion, and the last response's own text
 * under natural completion (never an earlier step's text).
 */

const City = z.object({ city: z.string(), pop: z.number() });

/** A script that also keeps every request it answered. */
function recording(steps: SimStepInput[]): { script: SimStepFn[]; requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  const script = steps.map(
    (step): SimStepFn =>
      (request) => {
        requests.push(request);
        return step;
      },
  );
  return { script, requests };
}

const finish = (result: string): SimStepInput => ({
  toolCalls: [{ id: `f${result.length}`, name: "task_finish", arguments: { result } }],
});

describe("structured output under completion: task_finish", () => {
  it("validates task_finish's result and lets the model correct it", async () => {
    const { script, requests } = recording([
      finish("Paris, about 2 million"),
      finish('{"city":"Paris","pop":2}'),
    ]);
    const { engine, events } = await simEngine(script, {
      completion: "task_finish",
      output: { schema: City },
    });
    await engine.submitAndWait("capital of France?");
    await engine.close();
    expect(shape(events)).toEqual([
      "thread_opened",
      "turn_started",
      'user_message input "capital of France?"',
      "model_call_started 1",
      "tool_call_started task_finish f22",
      "model_call_completed 1 tool_calls",
      "tool_call_completed task_finish f22 ok",
      "model_call_started 2",
      "tool_call_started task_finish f24",
      "model_call_completed 2 tool_calls",
      "tool_call_completed task_finish f24 ok",
      "turn_completed",
      "shutdown_complete",
    ]);
    const end = events.find((e) => e.msg.type === "turn_completed")?.msg;
    expect(end).toMatchObject({
      text: '{"city":"Paris","pop":2}',
      output: { city: "Paris", pop: 2 },
      steps: 2,
    });
    const correction = requests[1]?.items.at(-1);
    expect(correction?.type === "message" && correction.role).toBe("system");
    expect(correction?.type === "message" && messageText(correction)).toContain(
      "Your task_finish result was rejected: the answer is not valid JSON",
    );
    // The answer travels in the tool's result: the schema is described there, and text
    // responses are not forced into JSON.
    const finisher = requests[0]?.tools.find((t) => t.name === "task_finish");
    expect(finisher?.description).toContain('"city"');
    expect(requests[0]?.responseFormat).toBeUndefined();
  });

  it("fails with invalid_output when the result never matches", async () => {
    const { engine, events } = await simEngine(
      { steps: [finish('{"city":1}')], onExhausted: "repeat_last" },
      { completion: "task_finish", output: { schema: City }, outputRetries: 1 },
    );
    await engine.submitAndWait("?");
    await engine.close();
    expect(events.find((e) => e.msg.type === "turn_failed")?.msg).toMatchObject({
      steps: 2,
      error: { code: "invalid_output", source: "engine" },
    });
  });
});

describe("structured output under natural completion", () => {
  it("judges the last response, not an earlier step's text, when the final answer is empty", async () => {
    const { script, requests } = recording([
      { text: '{"city":"Lyon","pop":1}', toolCalls: [{ id: "c1", name: "echo", arguments: { v: "x" } }] },
      { text: "" },
      { text: '{"city":"Paris","pop":2}' },
    ]);
    const { engine, events } = await simEngine(script, { tools: [echoTool()], output: { schema: City } });
    await engine.submitAndWait("capital of France?");
    await engine.close();
    const end = events.find((e) => e.msg.type === "turn_completed")?.msg;
    expect(end).toMatchObject({
      text: '{"city":"Paris","pop":2}',
      output: { city: "Paris", pop: 2 },
      steps: 3,
    });
    const correction = requests[2]?.items.at(-1);
    expect(correction?.type === "message" && messageText(correction)).toBe(
      "Your answer was rejected: the answer is empty. Reply with only the corrected JSON.",
    );
    expect(requests[0]?.responseFormat?.name).toBe("output");
  });
});
