import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../conversation/jsonl-store.ts";
import type { SimStepFn } from "../llm/sim/script.ts";
import { SimClient } from "../llm/sim/sim-client.ts";
import { AgentEngine } from "../loop/engine.ts";
import { type LongTaskEvent, runLongTask } from "./long-task.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tf-horizon-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const worker = () =>
  new SimClient({ name: "worker", script: [{ text: "sub-goal done" }], onExhausted: "repeat_last" });

/** A planner answering plan requests and evaluations from queues (a scripted run). */
function planner(plans: string[][], evaluations: object[]): SimClient {
  const step: SimStepFn = (request) => {
    if (request.system.startsWith("Split the goal")) {
      const next = plans.shift();
      if (!next) throw new Error("unexpected plan request");
      return { text: JSON.stringify({ subGoals: next }) };
    }
    const next = evaluations.shift();
    if (!next) throw new Error("unexpected evaluation");
    return { text: JSON.stringify(next) };
  };
  return new SimClient({ name: "planner", script: [step], onExhausted: "repeat_last" });
}

const kinds = (events: readonly LongTaskEvent[]) => events.map(kind);

function kind(e: LongTaskEvent): string {
  switch (e.type) {
    case "subgoal_started":
      return `start ${e.id}#${e.attempt}`;
    case "subgoal_finished":
      return `finish ${e.id} ${e.status}`;
    case "checkpoint":
      return `checkpoint ${e.done}/${e.total}`;
    case "progress":
      return `progress ${e.fraction} eta=${e.etaMs}`;
    case "evaluated":
      return `evaluated ${e.evaluation.progress}`;
    case "strategy_switched":
      return `switch ${e.strategy} ${e.detail}`;
    case "finished":
      return `finished ${e.status} ${e.done}/${e.total}`;
    case "planned":
      return `planned ${e.subGoals.length}${e.replan ? " (replan)" : ""}`;
    case "resumed":
      return `resumed ${e.done}/${e.total}`;
    case "stalled":
      return `stalled ${e.reason}`;
  }
}

describe("runLongTask", () => {
  it("plans, works sub-goal by sub-goal with checkpoints, evaluates and reports ETA", async () => {
    let clock = 0;
    const engine = await AgentEngine.open({ model: worker(), context: false });
    engine.on((e) => {
      if (e.msg.type === "turn_completed") clock += 1_000;
    });
    const events: LongTaskEvent[] = [];
    const record = await runLongTask({
      goal: "Ship the feature",
      engine,
      planner: planner(
        [["design", "build", "test"]],
        [{ progress: 0.66, quality: 0.9, onTrack: true, notes: "fine" }],
      ),
      recordPath: join(dir, "task.json"),
      onEvent: (e) => events.push(e),
      now: () => clock,
    });
    await engine.close();
    expect(kinds(events)).toEqual([
      "planned 3",
      "start 1#1",
      "finish 1 done",
      "checkpoint 1/3",
      "progress 0.3333333333333333 eta=2000",
      "start 2#1",
      "finish 2 done",
      "checkpoint 2/3",
      "progress 0.6666666666666666 eta=1000",
      "evaluated 0.66",
      "start 3#1",
      "finish 3 done",
      "checkpoint 3/3",
      "progress 1 eta=0",
      "finished done 3/3",
    ]);
    expect(record.subGoals.map((g) => g.status)).toEqual(["done", "done", "done"]);
    expect(JSON.parse(readFileSync(join(dir, "task.json"), "utf8"))).toEqual(record);
  });

  it("a stall switches strategy: re-plan, then another model, then gives up", async () => {
    const sim = new SimClient({
      name: "worker",
      script: [{ text: "a" }, { text: "b" }, { text: "c" }, { text: "d" }, { text: "e" }, { text: "f" }],
      onExhausted: "repeat_last",
    });
    const resolved: string[] = [];
    const engine = await AgentEngine.open({
      model: sim,
      resolveModel: async (spec) => {
        resolved.push(spec);
        return sim;
      },
      context: false,
    });
    const flat = { progress: 0.2, quality: 0.5, onTrack: false, notes: "going in circles" };
    const events: LongTaskEvent[] = [];
    const record = await runLongTask({
      goal: "Fix the flaky test",
      engine,
      planner: planner(
        [
          ["look", "guess", "guess again", "more"],
          ["bisect", "fix", "verify", "more"],
        ],
        [flat, flat, flat],
      ),
      recordPath: join(dir, "t.json"),
      evaluateEvery: 1,
      stallAfter: 1,
      strategies: ["replan", "switch_model"],
      switchTo: "sim:deep",
      onEvent: (e) => events.push(e),
    });
    await engine.close();
    const k = kinds(events).filter((s) => !s.startsWith("progress") && !s.startsWith("checkpoint"));
    expect(k).toEqual([
      "planned 4",
      "start 1#1",
      "finish 1 done",
      "evaluated 0.2",
      "stalled no progress in 1 evaluations (going in circles)",
      "planned 4 (replan)",
      "switch replan 4 new sub-goals",
      "start 2#1",
      "finish 2 done",
      "evaluated 0.2",
      "stalled no progress in 1 evaluations (going in circles)",
      "switch switch_model sim:deep",
      "start 3#1",
      "finish 3 done",
      "evaluated 0.2",
      "stalled no progress in 1 evaluations (going in circles)",
      "finished gave_up 3/5",
    ]);
    expect(resolved).toEqual(["sim:deep"]);
    expect(record.subGoals.map((g) => g.text)).toEqual(["look", "bisect", "fix", "verify", "more"]);
    expect(record.strategies.map((s) => s.strategy)).toEqual(["replan", "switch_model"]);
  });

  it("resumes after a restart from the last checkpoint, on the same thread", async () => {
    const store = new JsonlThreadStore({ dir: join(dir, "threads") });
    const recordPath = join(dir, "task.json");
    const first = await AgentEngine.open({ model: worker(), store, context: false });
    const threadId = first.threadId;
    const abort = new AbortController();
    const before: LongTaskEvent[] = [];
    await expect(
      runLongTask({
        goal: "Migrate",
        engine: first,
        planner: planner(
          [["one", "two", "three", "four"]],
          [{ progress: 0.5, quality: 1, onTrack: true, notes: "" }],
        ),
        recordPath,
        onEvent: (e) => {
          before.push(e);
          if (e.type === "checkpoint" && e.done === 2) abort.abort(); // the process "dies" here
        },
        signal: abort.signal,
      }),
    ).rejects.toThrow(/long task aborted/);
    await first.close();

    const second = await AgentEngine.open({ model: worker(), store, threadId, context: false });
    const after: LongTaskEvent[] = [];
    const record = await runLongTask({
      goal: "Migrate",
      engine: second,
      planner: planner([], [{ progress: 1, quality: 1, onTrack: true, notes: "" }]), // never asked to plan
      recordPath,
      onEvent: (e) => after.push(e),
    });
    const history = await store.read(threadId);
    await second.close();
    await store.close();
    expect(kinds(after).filter((s) => !s.startsWith("progress") && !s.startsWith("checkpoint"))).toEqual([
      "resumed 2/4",
      "start 3#1",
      "finish 3 done",
      "start 4#1",
      "finish 4 done",
      "finished done 4/4",
    ]);
    expect(record.subGoals.every((g) => g.status === "done")).toBe(true);
    const userTexts = JSON.stringify(history).match(/Sub-goal \d of 4/g);
    expect(userTexts).toEqual(["Sub-goal 1 of 4", "Sub-goal 2 of 4", "Sub-goal 3 of 4", "Sub-goal 4 of 4"]);
    await expect(
      runLongTask({ goal: "Other goal", engine: second, planner: planner([], []), recordPath }),
    ).rejects.toThrow(/belongs to another goal/);
  });
});
