import { describe, expect, it } from "vitest";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import { createProgressDetector, type ProgressAction } from "../../src/reliability/progress.ts";
import { echoTool } from "../helpers/engine.ts";
import { recorder, shape } from "../helpers/events.ts";

// The model asks for the same lookup over and over: a doom loop.
const loop = (n: number) => [
  ...Array.from({ length: n }, () => ({ toolCalls: [{ name: "echo", arguments: { v: "same" } }] })),
  { text: ["gave up"] },
];

async function run(action: ProgressAction, script: object[]) {
  const detector = createProgressDetector({ repeatLimit: 3, stallSteps: 2, action });
  const rec = recorder();
  const engine = await AgentEngine.open(
    detector.instrument({
      model: new SimClient({ script }),
      tools: [echoTool()],
      cwd: "/tmp",
      listeners: [rec.listener],
    }),
  );
  await engine.submitAndWait("go");
  const items = engine.items;
  await engine.close();
  return {
    lines: shape(rec.events.slice(1)).filter((l) => !l.startsWith("tool_call")),
    items,
    events: rec.events,
  };
}

describe("progress detector", () => {
  it("stop: ends a looping turn with turn_failed no_progress at a step boundary", async () => {
    const { lines, items, events } = await run("stop", loop(6));
    // Step 2 repeats step 1's output (stall 1), step 3 makes the same call a third time.
    expect(lines).toEqual([
      "turn_started",
      'user_message input "go"',
      "model_call_started 1",
      "model_call_completed 1 tool_calls",
      "model_call_started 2",
      "model_call_completed 2 tool_calls",
      "model_call_started 3",
      "model_call_completed 3 tool_calls",
      "warning repeated_tool_call",
      "warning no_progress",
      "turn_failed no_progress",
      "shutdown_complete",
    ]);
    expect(events.at(-2)?.msg).toMatchObject({ error: { code: "no_progress", source: "engine" } });
    expect(items.filter((i) => i.type === "function_call_output")).toHaveLength(3);
  });

  it("nudge: tells the model once and lets the turn go on", async () => {
    const { lines, items } = await run("nudge", loop(3));
    expect(lines).toEqual([
      "turn_started",
      'user_message input "go"',
      "model_call_started 1",
      "model_call_completed 1 tool_calls",
      "model_call_started 2",
      "model_call_completed 2 tool_calls",
      "model_call_started 3",
      "model_call_completed 3 tool_calls",
      "warning repeated_tool_call",
      "warning no_progress",
      "model_call_started 4",
      'assistant_text "gave up"',
      'assistant_message "gave up"',
      "model_call_completed 4 stop",
      "turn_completed",
      "shutdown_complete",
    ]);
    const nudges = items.filter((i) => i.type === "message" && i.role === "system");
    expect(nudges).toHaveLength(1);
  });

  it("warn: reports and changes nothing; a turn that makes progress is never flagged", async () => {
    const warned = await run("warn", loop(3));
    expect(warned.lines.filter((l) => l.startsWith("warning"))).toEqual([
      "warning repeated_tool_call",
      "warning no_progress",
    ]);
    expect(warned.lines.at(-2)).toBe("turn_completed");
    const varied = [1, 2, 3, 4, 5].map((i) => ({
      toolCalls: [{ name: "echo", arguments: { v: String(i) } }],
    }));
    const healthy = await run("stop", [...varied, { text: ["done"] }]);
    expect(healthy.lines.filter((l) => l.startsWith("warning"))).toEqual([]);
    expect(healthy.lines.at(-2)).toBe("turn_completed");
  });
});
