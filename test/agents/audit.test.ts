import { describe, expect, it } from "vitest";
import { AgentTree, modelGuardrail, type TreeEvent, withGuardrails } from "../../src/agents/index.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import type { Event } from "../../src/protocol/index.ts";
import { agentShape, lastOutput, lastUserText, treeModel } from "../helpers/agents.ts";

const noDeltas = (s: string) => s !== "assistant_text";

describe("host subscriptions", () => {
  it("events() streams the whole tree tagged with paths; events(id) one child's (followed before it exists)", async () => {
    const model = treeModel({
      root: [
        {
          toolCalls: [
            { name: "spawn_agent", arguments: { instructions: "i", task: "a" } },
            { name: "spawn_agent", arguments: { instructions: "i", task: "b" } },
            { name: "wait_agents", arguments: {} },
          ],
        },
        (r) => ({ text: `joined ${lastOutput(r).split("\n")[0]}` }),
      ],
      "*": [(r) => ({ text: `did ${lastUserText(r)}` })],
    });
    const tree = await AgentTree.open({ model, engine: { startToolsDuringStream: false } });
    const whole: TreeEvent[] = [];
    const stream = tree.events();
    const reading = (async () => {
      for await (const e of stream) whole.push(e);
    })();
    // One child, followed before it is spawned: its whole sequence.
    const one: Event[] = [];
    const child = tree.events("root/inline#2");
    const readingOne = (async () => {
      for await (const e of child) one.push(e.event);
    })();
    const viaOn: string[] = [];
    tree.on((e) => viaOn.push(e.agent), "root/inline#1");
    await tree.root.submitAndWait("go");
    await tree.close();
    await Promise.all([reading, readingOne]);
    expect(new Set(viaOn)).toEqual(new Set(["root/inline#1"]));
    expect(new Set(whole.map((e) => e.agent))).toEqual(new Set(["root", "root/inline#1", "root/inline#2"]));
    // Every event in the stream is the agent's own (its thread).
    for (const e of whole) expect(e.event.threadId).toBe(tree.get(e.agent)?.threadId);
    expect(whole.filter((e) => e.agent === "root").at(-1)?.event.msg.type).toBe("shutdown_complete");
    expect(agentShape(one).filter(noDeltas)).toEqual([
      "thread_opened",
      "turn_started",
      "user_message input",
      "model_call_started",
      "assistant_message",
      "model_call_completed",
      "turn_completed: did b",
      "shutdown_complete",
    ]);
  });
});

describe("model guardrail", () => {
  it("a judge model's FAIL trips the turn with its reason; PASS lets it run", async () => {
    const judge = new SimClient({
      // One step per judged message (the judge's calls have no thread of their own).
      script: Array.from({ length: 2 }, () => (r: Parameters<typeof lastUserText>[0]) => ({
        text: lastUserText(r).includes("delete") ? "FAIL: destructive request" : "PASS",
      })),
    });
    const guard = modelGuardrail("judge", judge, "Refuse destructive requests.");
    const engine = await AgentEngine.open({
      model: withGuardrails(new SimClient({ script: [{ text: "hello" }] }), { input: [guard] }),
    });
    const tripped = await engine.submitAndWait("delete everything");
    expect(tripped.at(-1)?.msg).toMatchObject({
      type: "turn_failed",
      error: { code: "guardrail_tripped", message: 'guardrail "judge" tripped: destructive request' },
    });
    const passed = await engine.submitAndWait("say hello");
    expect(passed.at(-1)?.msg, JSON.stringify(passed.at(-1)?.msg)).toMatchObject({
      type: "turn_completed",
      text: "hello",
    });
    await engine.close();
  });
});
