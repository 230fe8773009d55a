import { describe, expect, it } from "vitest";
import { MemoryThreadStore } from "../../src/conversation/memory-store.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import { createBudget } from "../../src/reliability/budget.ts";
import { SpendTracker } from "../../src/reliability/spend.ts";
import { echoTool } from "../helpers/engine.ts";
import { recorder, shape } from "../helpers/events.ts";
import { priced, toolSteps } from "./helpers.ts";

describe("budgets", () => {
  it("warns at 70 % and 90 % of a turn's token budget and stops the turn at a step boundary", async () => {
    const rec = recorder();
    const budget = createBudget({ perTurn: { tokens: 150 } });
    const sim = new SimClient({ script: toolSteps(5) });
    const engine = await AgentEngine.open(
      budget.instrument({ model: sim, tools: [echoTool()], cwd: "/tmp", listeners: [rec.listener] }),
    );
    await engine.submitAndWait("go");
    // 60 tokens per call: 60, 120 (>= 105: 70 %), 180 (>= 135: 90 %), then the limit stops call 4.
    expect(shape(rec.events.slice(1))).toEqual([
      "turn_started",
      'user_message input "go"',
      "model_call_started 1",
      "tool_call_started echo call_1_1",
      "tool_call_completed echo call_1_1 ok",
      "model_call_completed 1 tool_calls",
      "model_call_started 2",
      "tool_call_started echo call_2_1",
      "tool_call_completed echo call_2_1 ok",
      "model_call_completed 2 tool_calls",
      "budget_warning turn tokens 0.7",
      "model_call_started 3",
      "tool_call_started echo call_3_1",
      "tool_call_completed echo call_3_1 ok",
      "model_call_completed 3 tool_calls",
      "budget_warning turn tokens 0.9",
      "turn_failed budget_exceeded",
    ]);
    const end = rec.events.at(-1)?.msg;
    expect(end).toMatchObject({
      type: "turn_failed",
      steps: 3,
      usage: { inputTokens: 150, outputTokens: 30 },
      error: { code: "budget_exceeded", source: "engine" },
    });
    // Nothing lost: every call the model made has its output in the history.
    const items = engine.items;
    expect(items.filter((i) => i.type === "function_call")).toHaveLength(3);
    expect(items.filter((i) => i.type === "function_call_output")).toHaveLength(3);
    expect(items.at(-1)?.type).toBe("function_call_output");
    const warning = rec.events.find((e) => e.msg.type === "budget_warning");
    expect(warning?.msg).toEqual({
      type: "budget_warning",
      scope: "turn",
      unit: "tokens",
      threshold: 0.7,
      used: 120,
      limit: 150,
    });
    expect(warning?.turnId).toBe(rec.events.at(-1)?.turnId);
    await engine.close();
  });

  it("keeps a thread's USD budget across turns and refuses the next turn's first call once spent", async () => {
    const rec = recorder();
    const budget = createBudget({ perThread: { usd: 0.05 } });
    const sim = new SimClient({ script: [{ text: ["one"] }, { text: ["two"] }, { text: ["three"] }] });
    const engine = await AgentEngine.open(
      budget.instrument({ model: priced(sim, 0.02), cwd: "/tmp", listeners: [rec.listener] }),
    );
    for (const prompt of ["a", "b", "c"]) await engine.submitAndWait(prompt);
    expect(shape(rec.events.slice(1))).toEqual([
      "turn_started",
      'user_message input "a"',
      "model_call_started 1",
      'assistant_text "one"',
      'assistant_message "one"',
      "model_call_completed 1 stop",
      "turn_completed",
      "turn_started",
      'user_message input "b"',
      "model_call_started 1",
      'assistant_text "two"',
      'assistant_message "two"',
      "model_call_completed 1 stop",
      "budget_warning thread usd 0.7",
      "turn_completed",
      "turn_started",
      'user_message input "c"',
      "model_call_started 1",
      'assistant_text "three"',
      'assistant_message "three"',
      "model_call_completed 1 stop",
      "budget_warning thread usd 0.9",
      "turn_completed",
    ]);
    // The third call crossed the limit (0.06 >= 0.05): the next turn stops before calling.
    await engine.submitAndWait("d");
    expect(shape(rec.events.slice(-3))).toEqual([
      "turn_started",
      'user_message input "d"',
      "turn_failed budget_exceeded",
    ]);
    expect(budget.tracker.thread(engine.threadId).costUsd).toBeCloseTo(0.06, 10);
    await engine.close();
  });

  it("totals per turn, thread, session and pool across engines, counting each event once", async () => {
    const tracker = new SpendTracker({ sessionOf: (t) => (t.endsWith("a") ? "s1" : "s2") });
    const budget = createBudget({ perTurn: { tokens: 1_000_000 }, tracker });
    const store = new MemoryThreadStore();
    const open = (threadId: string) =>
      AgentEngine.open(
        budget.instrument({
          model: new SimClient({ script: [{ text: ["x"], usage: { inputTokens: 10, outputTokens: 5 } }] }),
          store,
          threadId,
          cwd: "/tmp",
          listeners: [tracker.listener],
        }),
      );
    const a = await open("thr_a");
    const b = await open("thr_b");
    await a.submitAndWait("1");
    await b.submitAndWait("2");
    expect(tracker.thread("thr_a").usage.inputTokens).toBe(10);
    expect(tracker.session("s2").usage.outputTokens).toBe(5);
    expect(tracker.pool()).toMatchObject({ usage: { inputTokens: 20, outputTokens: 10 }, modelCalls: 2 });
    await a.close();
    await b.close();
  });

  it("rejects a limit that is not positive", () => {
    expect(() => createBudget({ perTurn: { usd: 0 } })).toThrow(/positive/);
    expect(() => createBudget({ perTurn: { usd: 1 }, warnAt: [1.2] })).toThrow(/warnAt/);
  });
});
