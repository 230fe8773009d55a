import { describe, expect, it } from "vitest";
import { SimClient } from "../llm/sim/sim-client.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { Event, EventMsgOf } from "../protocol/index.ts";
import { SpendTracker } from "../reliability/spend.ts";
import { budgetLeftFrom } from "./budget.ts";
import { createRouter } from "./router.ts";

describe("budgetLeftFrom", () => {
  it("downgrades to the cheapest model once the thread has spent most of its budget", async () => {
    const tracker = new SpendTracker();
    const deep = new SimClient({
      name: "deep",
      script: [{ text: "deep", usage: { inputTokens: 900, outputTokens: 0 } }],
    });
    const cheap = new SimClient({ name: "cheap", script: [{ text: "cheap" }] });
    const router = createRouter({
      models: [
        { client: deep, cost: 10 },
        { client: cheap, cost: 0.1 },
      ],
      budgetLeft: budgetLeftFrom(tracker, { perThread: { tokens: 1_000 } }),
    });
    const events: Event[] = [];
    const engine = await AgentEngine.open({
      model: router.client(),
      listeners: [tracker.listener, (e) => events.push(e)],
      context: false,
    });
    await engine.submitAndWait("first");
    await engine.submitAndWait("second");
    await engine.close();
    const routed = events
      .filter((e) => e.msg.type === "model_routed")
      .map((e) => e.msg as EventMsgOf<"model_routed">);
    expect(routed.map((r) => r.chosen)).toEqual(["sim:deep", "sim:cheap"]);
    expect(routed[1]?.reasons.at(-1)).toMatch(/^budget: \d+% left < 20%: cheapest$/);
    expect(budgetLeftFrom(tracker, {})("t")).toBeUndefined();
  });
});
