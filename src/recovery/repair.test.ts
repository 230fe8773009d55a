import { describe, expect, it } from "vitest";
import { z } from "zod";
import { SimClient } from "../llm/sim/sim-client.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { Event, EventMsgOf } from "../protocol/index.ts";
import { defineTool } from "../tool/define.ts";
import { withRepairPolicy } from "./repair.ts";

describe("withRepairPolicy", () => {
  it("numbers repair rounds, then tells the model to stop guessing; a valid call resets", async () => {
    const runs: number[] = [];
    const tools = withRepairPolicy(
      [
        defineTool({
          name: "square",
          description: "Squares n.",
          schema: z.object({ n: z.number() }),
          execute: ({ n }) => {
            runs.push(n);
            return String(n * n);
          },
        }),
      ],
      { maxRepairs: 1 },
    );
    const call = (id: string, args: Record<string, unknown>) => ({
      toolCalls: [{ id, name: "square", arguments: args }],
    });
    const sim = new SimClient({
      name: "r",
      script: [
        call("a", { n: "two" }),
        call("b", { n: 2 }),
        call("c", {}),
        call("d", { x: 1 }),
        { text: "I need n." },
      ],
    });
    const events: Event[] = [];
    const engine = await AgentEngine.open({
      model: sim,
      tools,
      listeners: [(e) => events.push(e)],
      context: false,
    });
    await engine.submitAndWait("square it");
    await engine.close();
    const done = events
      .filter((e) => e.msg.type === "tool_call_completed")
      .map((e) => e.msg as EventMsgOf<"tool_call_completed">);
    expect(done.map((m) => `${m.callId} ${m.status}`)).toEqual([
      "a invalid_input",
      "b ok",
      "c invalid_input",
      "d invalid_input",
    ]);
    expect(String(done[0]?.output)).toMatch(
      /\(Repair 1 of 1: correct the arguments and call square again\.\)$/,
    );
    expect(String(done[2]?.output)).toMatch(/Repair 1 of 1/);
    expect(String(done[3]?.output)).toMatch(
      /failed validation 2 times in a row; the repair budget \(1\) is spent\. Do not call square again/,
    );
    expect(runs).toEqual([2]);
    expect(tools.stats()).toEqual({ pending: { square: 2 }, repaired: 1, exhausted: 1 });
  });
});
