import { describe, expect, it } from "vitest";
import { z } from "zod";
import { AgentTree, defineAgent } from "../../src/agents/index.ts";
import { defineTool, type Tool } from "../../src/tool/define.ts";
import { agentShape, lastOutput, lastUserText, recordTree, treeModel } from "../helpers/agents.ts";

const spawn = (task: string, extra: Record<string, unknown> = {}) => ({
  name: "spawn_agent",
  arguments: { instructions: "Answer briefly.", task, ...extra },
});
const noDeltas = (s: string) => s !== "assistant_text";

describe("spawn and join", () => {
  it("three spawns in one step run concurrently; wait_agents joins all (whole sequences)", async () => {
    const started: string[] = [];
    const model = treeModel({
      root: [
        { toolCalls: [spawn("a"), spawn("b"), spawn("c"), { name: "wait_agents", arguments: {} }] },
        (r) => ({ text: `joined: ${lastOutput(r)}` }),
      ],
      "*": [
        (r) => {
          started.push(lastUserText(r));
          return { text: `did ${lastUserText(r)}`, delayMs: { a: 300, b: 10, c: 150 }[lastUserText(r)] ?? 0 };
        },
      ],
    });
    // Tools start when the model's answer is complete: every spawn of the step at once.
    const tree = await AgentTree.open({ model, engine: { startToolsDuringStream: false } });
    const rec = recordTree(tree);
    const events = await tree.root.submitAndWait("go");
    // All three children were sampling before the first one answered.
    expect(started).toEqual(["a", "b", "c"]);
    expect(agentShape(events).filter(noDeltas)).toEqual([
      "turn_started",
      "user_message input",
      "model_call_started",
      "tool_call_started spawn_agent",
      "tool_call_started spawn_agent",
      "tool_call_started spawn_agent",
      "tool_call_started wait_agents",
      "model_call_completed",
      "child_spawned root/inline#1",
      "child_spawned root/inline#2",
      "child_spawned root/inline#3",
      "parked: waiting for all of root/inline#1, root/inline#2, root/inline#3",
      "tool_call_completed spawn_agent ok",
      "tool_call_completed spawn_agent ok",
      "tool_call_completed spawn_agent ok",
      "child_completed root/inline#2 completed: did b",
      "child_completed root/inline#3 completed: did c",
      "child_completed root/inline#1 completed: did a",
      "tool_call_completed wait_agents ok",
      "model_call_started",
      "assistant_message",
      "model_call_completed",
      "turn_completed: joined: 3 of 3 agents finished.\n- root/inline#1 [completed]\n  did a\n- root/inline#2 [completed]\n  did b\n- root/inline#3 [completed]\n  did c",
    ]);
    expect(rec.of("root/inline#2")).toEqual([
      "thread_opened",
      "turn_started",
      "user_message input",
      "model_call_started",
      "assistant_message",
      "model_call_completed",
      "turn_completed: did b",
    ]);
    expect(tree.list().map((a) => `${a.id} ${a.status}`)).toEqual([
      "root idle",
      "root/inline#1 completed",
      "root/inline#2 completed",
      "root/inline#3 completed",
    ]);
    await tree.close();
  });

  it("wait_agents mode any returns at the first end; the others keep running (detached)", async () => {
    const model = treeModel({
      root: [
        { toolCalls: [spawn("slow"), spawn("fast"), { name: "wait_agents", arguments: { mode: "any" } }] },
        (r) => ({ text: lastOutput(r) }),
      ],
      "*": [(r) => ({ text: `did ${lastUserText(r)}`, delayMs: lastUserText(r) === "slow" ? 150 : 5 })],
    });
    const tree = await AgentTree.open({ model });
    const events = await tree.root.submitAndWait("go");
    expect(events.at(-1)?.msg).toMatchObject({
      type: "turn_completed",
      text: "1 of 2 agents finished.\n- root/inline#1 [running]\n- root/inline#2 [completed]\n  did fast",
    });
    expect(tree.get("root/inline#1")?.status).toBe("running");
    // The slow child ends later on its own; its end reaches the root's engine between turns.
    const ended = new Promise((r) =>
      tree.on((e) => e.event.msg.type === "child_completed" && r(e.event.msg)),
    );
    expect(await ended).toMatchObject({ path: "root/inline#1", status: "completed", text: "did slow" });
    await tree.close();
  });

  it("spawn_agent with wait is agent-as-tool: the child's answer is the call's output", async () => {
    const reviewer = defineAgent({
      name: "reviewer",
      description: "Reviews text.",
      instructions: "Review it.",
    });
    const model = treeModel({
      root: [
        {
          toolCalls: [{ name: "spawn_agent", arguments: { agent: "reviewer", task: "check x", wait: true } }],
        },
        (r) => ({ text: lastOutput(r) }),
      ],
      "root/reviewer#1": [(r) => ({ text: `reviewed: ${lastUserText(r)}` })],
    });
    const tree = await AgentTree.open({
      model,
      agents: [reviewer],
      engine: { startToolsDuringStream: false },
    });
    const events = await tree.root.submitAndWait("go");
    expect(agentShape(events).filter(noDeltas)).toEqual([
      "turn_started",
      "user_message input",
      "model_call_started",
      "tool_call_started spawn_agent",
      "model_call_completed",
      "child_spawned root/reviewer#1",
      "parked: waiting for all of root/reviewer#1",
      "child_completed root/reviewer#1 completed: reviewed: check x",
      "tool_call_completed spawn_agent ok",
      "model_call_started",
      "assistant_message",
      "model_call_completed",
      "turn_completed: 1 of 1 agents finished.\n- root/reviewer#1 [completed]\n  reviewed: check x",
    ]);
    await tree.close();
  });
});

describe("supervision", () => {
  const deploy = (runs: string[]): Tool =>
    defineTool({
      name: "deploy",
      description: "Deploys.",
      schema: z.object({ env: z.string() }),
      execute: ({ env }) => {
        runs.push(env);
        return `deployed ${env}`;
      },
    }) as Tool;

  it("a grandchild's approval surfaces on the tree's stream with its path and is answered there", async () => {
    const runs: string[] = [];
    const model = treeModel({
      root: [{ toolCalls: [spawn("delegate", { wait: true })] }, (r) => ({ text: lastOutput(r) })],
      "root/inline#1": [
        { toolCalls: [spawn("deploy prod", { wait: true })] },
        (r) => ({ text: `child saw: ${lastOutput(r)}` }),
      ],
      "root/inline#1/inline#1": [
        { toolCalls: [{ name: "deploy", arguments: { env: "prod" } }] },
        (r) => ({ text: lastOutput(r) }),
      ],
    });
    const tree = await AgentTree.open({
      model,
      tools: [deploy(runs)],
      engine: { permissions: { rules: { ask: ["deploy"] }, interactive: true } },
      listener: (e) => {
        if (e.event.msg.type === "permission_requested") {
          expect(e.agent).toBe("root/inline#1/inline#1");
          queueMicrotask(() =>
            tree.answer((e.event.msg as { requestId: string }).requestId, { decision: "allow_once" }),
          );
        }
      },
    });
    const events = await tree.root.submitAndWait("go");
    expect(runs).toEqual(["prod"]);
    expect(events.at(-1)?.msg).toEqual(
      expect.objectContaining({
        type: "turn_completed",
        text: "1 of 1 agents finished.\n- root/inline#1 [completed]\n  child saw: 1 of 1 agents finished.\n  - root/inline#1/inline#1 [completed]\n    deployed prod",
      }),
    );
    await tree.close();
  });

  it("interrupting the root cancels the whole tree; every open call gets its output", async () => {
    const model = treeModel({
      root: [{ toolCalls: [spawn("a"), spawn("b"), { name: "wait_agents", arguments: {} }] }],
      "root/inline#1": [{ toolCalls: [spawn("deep", { wait: true })] }],
      "*": [{ text: "never", delayMs: 10_000 }],
    });
    const tree = await AgentTree.open({ model, engine: { startToolsDuringStream: false } });
    const rec = recordTree(tree);
    const id = tree.root.submit("go");
    await new Promise<void>((r) =>
      tree.on(
        (e) => e.agent === "root/inline#1/inline#1" && e.event.msg.type === "model_call_started" && r(),
      ),
    );
    expect(tree.stop("root")).toBe(true);
    const events = [];
    for await (const ev of tree.root.subscribe(id)) events.push(ev);
    expect(agentShape(events).filter(noDeltas)).toEqual([
      "turn_started",
      "user_message input",
      "model_call_started",
      "tool_call_started spawn_agent",
      "tool_call_started spawn_agent",
      "tool_call_started wait_agents",
      "model_call_completed",
      "child_spawned root/inline#1",
      "child_spawned root/inline#2",
      "parked: waiting for all of root/inline#1, root/inline#2",
      "tool_call_completed spawn_agent ok",
      "tool_call_completed spawn_agent ok",
      "tool_call_completed wait_agents aborted",
      "child_completed root/inline#1 aborted (its parent root was stopped)",
      "child_completed root/inline#2 aborted (its parent root was stopped)",
      "turn_aborted interrupt",
    ]);
    // The middle agent was itself waiting on its child (agent-as-tool): both calls got outputs.
    expect(rec.of("root/inline#1")).toEqual([
      "thread_opened",
      "turn_started",
      "user_message input",
      "model_call_started",
      "tool_call_started spawn_agent",
      "model_call_completed",
      "child_spawned root/inline#1/inline#1",
      "parked: waiting for all of root/inline#1/inline#1",
      "tool_call_completed spawn_agent aborted",
      "op_applied",
      "child_completed root/inline#1/inline#1 aborted (its parent root/inline#1 was stopped)",
      "turn_aborted interrupt",
    ]);
    expect(rec.of("root/inline#1/inline#1")).toEqual([
      "thread_opened",
      "turn_started",
      "user_message input",
      "model_call_started",
      "op_applied",
      "model_call_completed",
      "turn_aborted interrupt",
    ]);
    expect(tree.list().map((a) => `${a.id} ${a.status}`)).toEqual([
      "root idle",
      "root/inline#1 aborted",
      "root/inline#1/inline#1 aborted",
      "root/inline#2 aborted",
    ]);
    await tree.close();
  });
});
