import { describe, expect, it } from "vitest";
import { AgentTree, defineAgent } from "../../src/agents/index.ts";
import type { ModelClient } from "../../src/llm/types.ts";
import { agentShape, finalText, lastOutput, lastUserText, recordTree, treeModel } from "../helpers/agents.ts";

const noDeltas = (s: string) => s !== "assistant_text";
const spawn = (args: Record<string, unknown>) => ({ name: "spawn_agent", arguments: args });
const def = (name: string) =>
  defineAgent({ name, description: `The ${name} agent.`, instructions: `You are ${name}.` });

describe("limits", () => {
  it("a cycle and the depth limit are refused with a model-readable output and a warning", async () => {
    const model = treeModel({
      root: [{ toolCalls: [spawn({ agent: "a", task: "t", wait: true })] }, (r) => ({ text: lastOutput(r) })],
      "root/a#1": [
        { toolCalls: [spawn({ agent: "b", task: "t", wait: true })] },
        (r) => ({ text: lastOutput(r) }),
      ],
      "root/a#1/b#1": [
        { toolCalls: [spawn({ agent: "a", task: "t" })] },
        (r) => ({ text: `b saw: ${lastOutput(r)}` }),
      ],
    });
    const tree = await AgentTree.open({
      model,
      agents: [def("a"), def("b")],
      engine: { startToolsDuringStream: false },
    });
    const rec = recordTree(tree);
    await tree.root.submitAndWait("go");
    expect(rec.of("root/a#1/b#1")).toEqual([
      "thread_opened",
      "turn_started",
      "user_message input",
      "model_call_started",
      "tool_call_started spawn_agent",
      "model_call_completed",
      "warning agent_limit: Agent not spawned: cycle root -> a -> b -> a. An agent may not spawn itself or an ancestor.",
      "tool_call_completed spawn_agent error",
      "model_call_started",
      "assistant_message",
      "model_call_completed",
      "turn_completed: b saw: Agent not spawned: cycle root -> a -> b -> a. An agent may not spawn itself or an ancestor.",
    ]);
    await tree.close();

    const shallow = await AgentTree.open({
      model: treeModel({
        root: [
          { toolCalls: [spawn({ agent: "a", task: "t", wait: true })] },
          (r) => ({ text: lastOutput(r) }),
        ],
        "root/a#1": [{ toolCalls: [spawn({ agent: "b", task: "t" })] }, (r) => ({ text: lastOutput(r) })],
      }),
      agents: [def("a"), def("b")],
      limits: { maxDepth: 1 },
    });
    const events = await shallow.root.submitAndWait("go");
    // At the depth limit an agent has no spawn tool at all: the call is an unknown tool.
    expect(events.at(-1)?.msg).toMatchObject({ type: "turn_completed" });
    expect(finalText(events)).toContain('Unknown tool "spawn_agent"');
    await shallow.close();
  });

  it("past maxLive, spawns queue (FIFO) instead of failing; maxChildren refuses", async () => {
    const order: string[] = [];
    const model = treeModel({
      root: [
        {
          toolCalls: [
            spawn({ instructions: "i", task: "one" }),
            spawn({ instructions: "i", task: "two" }),
            spawn({ instructions: "i", task: "three" }),
            { name: "wait_agents", arguments: {} },
          ],
        },
        (r) => ({ text: lastOutput(r) }),
      ],
      "*": [
        (r) => {
          order.push(`start ${lastUserText(r)}`);
          return { text: `did ${lastUserText(r)}`, delayMs: 20 };
        },
      ],
    });
    const tree = await AgentTree.open({
      model,
      limits: { maxLive: 1, maxChildren: 2 },
      engine: { startToolsDuringStream: false },
    });
    const events = await tree.root.submitAndWait("go");
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
      "child_spawned root/inline#2 queued",
      "warning agent_limit: Agent not spawned: root already spawned 2 agents (the limit is 2).",
      "parked: waiting for all of root/inline#1, root/inline#2",
      "tool_call_completed spawn_agent error",
      "tool_call_completed spawn_agent ok",
      "tool_call_completed spawn_agent ok",
      "child_completed root/inline#1 completed: did one",
      "child_completed root/inline#2 completed: did two",
      "tool_call_completed wait_agents ok",
      "model_call_started",
      "assistant_message",
      "model_call_completed",
      "turn_completed: 2 of 2 agents finished.\n- root/inline#1 [completed]\n  did one\n- root/inline#2 [completed]\n  did two",
    ]);
    expect(order).toEqual(["start one", "start two"]);
    await tree.close();
  });

  it("a child past its wall time is stopped and reported failed; the tree budget stops every agent", async () => {
    const model = treeModel({
      root: [
        { toolCalls: [spawn({ instructions: "i", task: "slow", wait: true })] },
        (r) => ({ text: lastOutput(r) }),
      ],
      "*": [{ text: "late", delayMs: 5_000 }],
    });
    const tree = await AgentTree.open({ model, limits: { childTimeoutMs: 40 } });
    const events = await tree.root.submitAndWait("go");
    expect(finalText(events)).toBe(
      "1 of 1 agents finished.\n- root/inline#1 [failed]\n  time limit of 40 ms reached",
    );
    await tree.close();

    const spent = await AgentTree.open({
      model: treeModel({
        root: [
          {
            toolCalls: [spawn({ instructions: "i", task: "t", wait: true })],
            usage: { inputTokens: 50, outputTokens: 10 },
          },
        ],
        "*": [{ text: "never" }],
      }),
      budget: { tokens: 40 },
      engine: { startToolsDuringStream: false },
    });
    const rec = recordTree(spent);
    const root = await spent.root.submitAndWait("go");
    expect(rec.of("root/inline#1")).toEqual([
      "thread_opened",
      "turn_started",
      "user_message input",
      "turn_failed budget_exceeded",
    ]);
    expect(agentShape(root).filter(noDeltas).slice(-3)).toEqual([
      "child_completed root/inline#1 failed (budget_exceeded: the agent tree's budget is spent (60 of 40 tokens); the turn stopped before its next model call)",
      "tool_call_completed spawn_agent error",
      "turn_failed budget_exceeded",
    ]);
    await spent.close();
  });
});

describe("the tree's USD budget", () => {
  it("charges every agent's model calls up the tree and stops the tree when the dollars are spent", async () => {
    // The simulator has no prices: each of its calls is priced at $0.03 here, as a provider
    // with a catalog entry would report it.
    const sim = treeModel({
      root: [
        {
          toolCalls: [spawn({ instructions: "i", task: "t", wait: true })],
          usage: { inputTokens: 5, outputTokens: 1 },
        },
      ],
      "*": [{ text: "never" }],
    });
    const priced: ModelClient = {
      id: sim.id,
      async *stream(request, opts) {
        for await (const ev of sim.stream(request, opts))
          yield ev.type === "usage" ? { ...ev, costUsd: 0.03 } : ev;
      },
    };
    const spent = await AgentTree.open({
      model: priced,
      budget: { usd: 0.02 },
      engine: { startToolsDuringStream: false },
    });
    const rec = recordTree(spent);
    const root = await spent.root.submitAndWait("go");
    expect(rec.of("root/inline#1")).toEqual([
      "thread_opened",
      "turn_started",
      "user_message input",
      "turn_failed budget_exceeded",
    ]);
    expect(agentShape(root).filter(noDeltas).slice(-3)).toEqual([
      "child_completed root/inline#1 failed (budget_exceeded: the agent tree's budget is spent ($0.0300 of $0.02); the turn stopped before its next model call)",
      "tool_call_completed spawn_agent error",
      "turn_failed budget_exceeded",
    ]);
    expect(spent.usage.usd).toBeCloseTo(0.03, 6);
    await spent.close();
  });
});

describe("mailboxes", () => {
  it("a message between siblings reaches the recipient's next model call", async () => {
    const model = treeModel({
      root: [
        {
          toolCalls: [
            { name: "spawn_agent", arguments: { instructions: "i", task: "listen" } },
            { name: "spawn_agent", arguments: { instructions: "i", task: "talk" } },
            { name: "wait_agents", arguments: {} },
          ],
        },
        (r) => ({ text: lastOutput(r) }),
      ],
      "root/inline#1": [{ text: "listening", delayMs: 60 }, (r) => ({ text: `heard: ${lastUserText(r)}` })],
      "root/inline#2": [
        { toolCalls: [{ name: "send_message", arguments: { to: "root/inline#1", text: "hello sibling" } }] },
        { text: "sent" },
      ],
    });
    const tree = await AgentTree.open({ model, engine: { startToolsDuringStream: false } });
    const rec = recordTree(tree);
    const events = await tree.root.submitAndWait("go");
    expect(rec.of("root/inline#1")).toEqual([
      "thread_opened",
      "turn_started",
      "user_message input",
      "model_call_started",
      "op_applied",
      "assistant_message",
      "model_call_completed",
      "user_message steer",
      "model_call_started",
      "assistant_message",
      "model_call_completed",
      expect.stringMatching(
        /^turn_completed: heard: \[message from root\/inline#2 \(msg_[0-9a-f]{16}\)\] hello sibling$/,
      ),
    ]);
    expect(rec.of("root/inline#2")).toContain("peer_message root/inline#2 -> root/inline#1: hello sibling");
    expect(finalText(events)).toMatch(
      /heard: \[message from root\/inline#2 \(msg_[0-9a-f]{16}\)\] hello sibling/,
    );
    await tree.close();
  });
});

describe("control", () => {
  it("list_agents, query_agent and stop_agent from the model; tree.steer from the host", async () => {
    const model = treeModel({
      root: [
        {
          toolCalls: [
            { name: "spawn_agent", arguments: { instructions: "i", task: "slow" } },
            { name: "spawn_agent", arguments: { instructions: "i", task: "chat" } },
          ],
        },
        { toolCalls: [{ name: "list_agents", arguments: {} }] },
        { toolCalls: [{ name: "query_agent", arguments: { id: "root/inline#1" } }] },
        { toolCalls: [{ name: "stop_agent", arguments: { id: "root/inline#1", reason: "not needed" } }] },
        (r) => ({ text: lastOutput(r) }),
      ],
      "root/inline#1": [{ text: "never", delayMs: 10_000 }],
      "root/inline#2": [{ text: "first", delayMs: 80 }, (r) => ({ text: `steered: ${lastUserText(r)}` })],
    });
    const tree = await AgentTree.open({ model, engine: { startToolsDuringStream: false } });
    const rec = recordTree(tree);
    const outputs: string[] = [];
    tree.on(
      (e) =>
        e.agent === "root" &&
        e.event.msg.type === "tool_call_completed" &&
        outputs.push(String(e.event.msg.output)),
    );
    const steered = new Promise<void>((r) =>
      tree.on((e) => e.agent === "root/inline#2" && e.event.msg.type === "model_call_started" && r()),
    );
    const events = await tree.root.submitAndWait("go");
    await steered;
    expect(tree.steer("root/inline#2", "also do y")).toBe(true);
    expect(outputs[2]).toBe("- root/inline#1 [running] slow\n- root/inline#2 [running] chat");
    expect(JSON.parse(outputs[3] as string)).toMatchObject({
      id: "root/inline#1",
      status: "running",
      task: "slow",
      parent: "root",
    });
    expect(finalText(events)).toBe("Stopping root/inline#1 and its subtree.");
    const done = new Promise<void>((r) =>
      tree.on((e) => e.agent === "root/inline#2" && e.event.msg.type === "turn_completed" && r()),
    );
    await done;
    expect(rec.of("root/inline#1").slice(-2)).toEqual(["model_call_completed", "turn_aborted interrupt"]);
    expect(tree.get("root/inline#1")).toMatchObject({
      status: "aborted",
      error: "stopped by root: not needed",
    });
    expect(tree.get("root/inline#2")).toMatchObject({ status: "completed", output: "steered: also do y" });
    await tree.close();
  });
});

describe("wake limit", () => {
  it("wait_agents past maxWakes is refused with an output and a warning", async () => {
    const model = treeModel({
      root: [
        { toolCalls: [{ name: "spawn_agent", arguments: { instructions: "i", task: "slow" } }] },
        { toolCalls: [{ name: "wait_agents", arguments: { timeoutMs: 5 } }] },
        { toolCalls: [{ name: "wait_agents", arguments: { timeoutMs: 5 } }] },
        (r) => ({ text: lastOutput(r) }),
      ],
      "*": [{ text: "late", delayMs: 2_000 }],
    });
    const tree = await AgentTree.open({ model, limits: { maxWakes: 1 } });
    const events = await tree.root.submitAndWait("go");
    expect(
      agentShape(events).filter((s) => s.startsWith("warning") || s.startsWith("tool_call_completed wait")),
    ).toEqual([
      "tool_call_completed wait_agents ok",
      "warning agent_limit: Wait refused: root has waited 1 times (the limit is 1). Finish with the results you have, or stop the agents you no longer need.",
      "tool_call_completed wait_agents error",
    ]);
    expect(finalText(events)).toContain("Wait refused: root has waited 1 times");
    tree.stop("root/inline#1");
    await tree.close();
  });
});
