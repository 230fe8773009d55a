import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  agentRunner,
  agentTool,
  defineAgent,
  guardToolOutputs,
  handoffs,
  keepAlive,
  loadAgentDefinitions,
  loop,
  parallel,
  router,
  sequential,
  swarm,
  toolInputGate,
  withGuardrails,
} from "../../src/agents/index.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import { defineTool, type Tool } from "../../src/tool/define.ts";
import { agentShape, lastOutput, lastUserText } from "../helpers/agents.ts";

const noDeltas = (s: string) => s !== "assistant_text";
const agent = (name: string, instructions = `You are ${name}.`) =>
  defineAgent({ name, description: `The ${name} agent.`, instructions });
/** A model that answers from the request: `f(lastUserText)`. */
const echo = (f: (input: string, system: string) => string) =>
  new SimClient({
    script: Array.from({ length: 10 }, () => (r: Parameters<typeof lastUserText>[0]) => ({
      text: f(lastUserText(r), r.system),
    })),
  });

describe("agentTool", () => {
  it("runs an agent as a tool; nested agent events reach the caller tagged with their path; a cycle is refused", async () => {
    const model = new SimClient({
      script: Array.from(
        { length: 10 },
        () =>
          (r: Parameters<typeof lastUserText>[0], { index }: { index: number }) => {
            const who = /You are the agent (\S+),/.exec(r.system)?.[1] ?? "root";
            if (who === "root")
              return index === 0
                ? { toolCalls: [{ name: "researcher", arguments: { task: "find x" } }] }
                : { text: lastOutput(r) };
            if (who === "root/researcher")
              return index === 0
                ? { toolCalls: [{ name: "writer", arguments: { task: "write x" } }] }
                : { text: `research: ${lastOutput(r)}` };
            return index === 0
              ? { toolCalls: [{ name: "researcher", arguments: { task: "loop" } }] }
              : { text: `writer saw: ${lastOutput(r)}` };
          },
      ),
    });
    const researcher = agent("researcher");
    const writer = agent("writer");
    // Each tool list holds the other agent: researcher -> writer -> researcher is a cycle.
    const tools: Tool[] = [];
    const r = agentTool(researcher, { model, tools });
    const w = agentTool(writer, { model, tools });
    tools.push(r, w);
    const engine = await AgentEngine.open({ model, tools: [r], startToolsDuringStream: false });
    const events = await engine.submitAndWait("go");
    const progress = events.flatMap((e) =>
      e.msg.type === "tool_call_progress"
        ? [
            `${(e.msg.data as { agent: string }).agent} ${(e.msg.data as { event: { type: string } }).event.type}`,
          ]
        : [],
    );
    expect(progress).toEqual([
      "root/researcher tool_call_started",
      "root/researcher tool_call_progress",
      "root/researcher tool_call_progress",
      "root/researcher tool_call_progress",
      "root/researcher tool_call_completed",
      "root/researcher assistant_message",
    ]);
    const nested = events.flatMap((e) => {
      if (e.msg.type !== "tool_call_progress") return [];
      const inner = (
        e.msg.data as { event: { type: string; data?: { agent: string; event: { type: string } } } }
      ).event;
      return inner.type === "tool_call_progress" && inner.data
        ? [`${inner.data.agent} ${inner.data.event.type}`]
        : [];
    });
    // The writer's own events, one level deeper, tagged with the full path.
    expect(nested).toEqual([
      "root/researcher/writer tool_call_started",
      "root/researcher/writer tool_call_completed",
      "root/researcher/writer assistant_message",
    ]);
    expect(events.at(-1)?.msg).toMatchObject({
      type: "turn_completed",
      text: "research: writer saw: Agent cycle refused: root -> researcher -> writer -> researcher.",
    });
    await engine.close();
  });
});

describe("handoffs", () => {
  it("transfer_to_<agent> moves the thread to another agent at its next turn, with the input filter", async () => {
    const systems: string[] = [];
    const model = new SimClient({
      script: Array.from({ length: 10 }, () => (r: Parameters<typeof lastUserText>[0]) => {
        systems.push(r.system.split(".")[0] as string);
        if (r.system.startsWith("You are triage")) {
          return lastOutput(r).startsWith("Transferred")
            ? { text: "Passing you to billing." }
            : { toolCalls: [{ name: "transfer_to_billing", arguments: { note: "refund order 7" } }] };
        }
        return { text: `billing handles: ${lastUserText(r)}` };
      }),
    });
    const h = handoffs({
      agents: [agent("triage", "Route the user."), agent("billing", "Handle payments.")],
      start: "triage",
      inputFilter: ({ from, note }) => `(from ${from}) ${note}`,
    });
    const engine = await AgentEngine.open({ model, tools: h.tools, prepareTurn: h.prepareTurn });
    const result = await swarm(engine, h, "I want my money back");
    expect(result).toEqual({
      text: "billing handles: (from triage) refund order 7",
      agents: ["triage", "billing"],
      ok: true,
    });
    expect(systems).toEqual(["You are triage", "You are triage", "You are billing"]);
    // Reopening the thread restores the agent in control from the transcript.
    const again = handoffs({ agents: [agent("triage"), agent("billing")], start: "triage" });
    again.restore(engine.items);
    expect(again.active()).toBe("billing");
    await engine.close();
  });
});

describe("patterns", () => {
  const model = echo((input, system) => `${system.replace("You are ", "").replace(".", "")}(${input})`);
  const a = agentRunner(agent("a"), { model });
  const b = agentRunner(agent("b"), { model });
  const c = agentRunner(agent("c"), { model });

  it("sequential, parallel with a merge, router by function and by a classifier", async () => {
    expect(await sequential([a, b, c], "x")).toBe("c(b(a(x)))");
    expect(await parallel([a, b], "x")).toEqual(["a(x)", "b(x)"]);
    expect(await parallel([a, b], "x", { merge: c })).toEqual(["c([1] a(x)\n\n[2] b(x))"]);
    expect(await router({ a, b }, (input) => (input.includes("bill") ? "b" : "a"), "bill me")).toEqual({
      route: "b",
      text: "b(bill me)",
    });
    const classifier = agentRunner(agent("cls"), { model: echo(() => " a\n") });
    expect(await router({ a, b }, { classifier }, "hi")).toEqual({ route: "a", text: "a(hi)" });
    await expect(router({ a }, () => "zzz", "hi")).rejects.toThrow('router: no route "zzz" (routes: a)');
  });

  it("loop: generator and critic until the critic accepts", async () => {
    let drafts = 0;
    const generator = agentRunner(agent("gen"), { model: echo(() => `draft ${++drafts}`) });
    const critic = agentRunner(agent("critic"), {
      model: echo((draft) => (draft === "draft 3" ? "ACCEPT" : "more detail")),
    });
    expect(await loop({ generator, critic, input: "write", maxRounds: 5 })).toEqual({
      text: "draft 3",
      rounds: 3,
      accepted: true,
    });
    drafts = 0;
    expect(await loop({ generator, critic, input: "write", maxRounds: 2 })).toEqual({
      text: "draft 2",
      rounds: 2,
      accepted: false,
    });
  });
});

describe("guardrails", () => {
  const deletes: string[] = [];
  const del = defineTool({
    name: "delete",
    description: "Deletes.",
    schema: z.object({ path: z.string() }),
    execute: ({ path }) => {
      deletes.push(path);
      return `deleted ${path}`;
    },
  }) as Tool;
  const noSecrets = {
    name: "no-secrets",
    check: ({ text }: { text: string }) => (text.includes("password") ? "asks for a password" : undefined),
  };

  it("an input guardrail (before) fails the turn as guardrail_tripped without calling the model", async () => {
    const sim = new SimClient({ script: [{ text: "never" }] });
    const engine = await AgentEngine.open({ model: withGuardrails(sim, { input: [noSecrets] }) });
    const events = await engine.submitAndWait("what is the admin password?");
    expect(agentShape(events).filter(noDeltas)).toEqual([
      "turn_started",
      "user_message input",
      "model_call_started",
      "model_call_completed",
      "turn_failed guardrail_tripped",
    ]);
    expect(events.at(-1)?.msg).toMatchObject({
      error: { message: 'guardrail "no-secrets" tripped: asks for a password' },
    });
    expect(sim.callsMade(engine.threadId)).toBe(0);
    await engine.close();
  });

  it("in parallel mode the model runs, but its tool calls wait for the check: a trip runs nothing", async () => {
    const sim = new SimClient({
      script: [{ toolCalls: [{ name: "delete", arguments: { path: "/data" } }] }, { text: "done" }],
    });
    const slow = {
      name: "slow-judge",
      check: () => new Promise<string>((r) => setTimeout(() => r("destructive request"), 30)),
    };
    const engine = await AgentEngine.open({
      model: withGuardrails(sim, { input: [slow], mode: "parallel" }),
      tools: [del],
    });
    const events = await engine.submitAndWait("wipe /data");
    expect(agentShape(events).filter(noDeltas)).toEqual([
      "turn_started",
      "user_message input",
      "model_call_started",
      // The call streamed before the trip is recorded and closed unrun.
      "tool_call_started delete",
      "tool_call_completed delete aborted",
      "model_call_completed",
      "turn_failed guardrail_tripped",
    ]);
    expect(sim.callsMade(engine.threadId)).toBe(1);
    expect(deletes).toEqual([]);
    await engine.close();
  });

  it("an output guardrail withholds the answer; tool guardrails refuse an input and withhold an output", async () => {
    const sim = new SimClient({ script: [{ text: "the password is hunter2" }] });
    const engine = await AgentEngine.open({ model: withGuardrails(sim, { output: [noSecrets] }) });
    const events = await engine.submitAndWait("hi");
    expect(events.at(-1)?.msg).toMatchObject({
      type: "turn_failed",
      error: {
        code: "guardrail_tripped",
        message: 'guardrail "no-secrets" tripped: asks for a password (the answer was withheld)',
      },
    });
    await engine.close();

    const leaky = defineTool({
      name: "read",
      description: "Reads.",
      schema: z.object({}),
      readOnly: true,
      execute: () => "password=1",
    }) as Tool;
    const tools = guardToolOutputs([del, leaky], { output: [noSecrets], tools: ["read"] });
    const gate = toolInputGate({
      input: [
        { name: "no-root", check: ({ text }) => (text.includes('"/"') ? "deletes the root" : undefined) },
      ],
    });
    const model = new SimClient({
      script: [
        {
          toolCalls: [
            { name: "delete", arguments: { path: "/" } },
            { name: "read", arguments: {} },
          ],
        },
        (r) => ({
          text: r.items
            .filter((i) => i.type === "function_call_output")
            .map((i) => (i.type === "function_call_output" ? String(i.output) : ""))
            .join(" | "),
        }),
      ],
    });
    const guarded = await AgentEngine.open({ model, tools, gate });
    const out = await guarded.submitAndWait("go");
    expect(out.at(-1)?.msg).toMatchObject({
      type: "turn_completed",
      text: 'Call refused: guardrail "no-root" tripped: deletes the root. | Output withheld: guardrail "no-secrets" tripped: asks for a password.',
    });
    expect(deletes).toEqual([]);
    await guarded.close();
  });
});

describe("definitions and persistent roots", () => {
  it("loads .taifeng/agents/*.md (Claude Code's subagent shape) and reports a bad file with its path", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taifeng-agents-def-"));
    try {
      await writeFile(
        join(dir, "reviewer.md"),
        "---\nname: reviewer\ndescription: Reviews diffs.\ntools: Read, Grep\nmodel: inherit\n---\nReview the diff.\n",
      );
      expect(await loadAgentDefinitions([dir, join(dir, "missing")])).toEqual([
        {
          name: "reviewer",
          description: "Reviews diffs.",
          instructions: "Review the diff.",
          tools: ["Read", "Grep"],
          source: join(dir, "reviewer.md"),
        },
      ]);
      await writeFile(join(dir, "z.md"), "---\nname: z\ndescription: d\ncolour: red\n---\nx\n");
      await expect(loadAgentDefinitions([dir])).rejects.toThrow(
        `${join(dir, "z.md")}: unknown front matter key "colour"`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a persistent root takes tasks, wakes on a timer, and shuts down with a summary", async () => {
    const model = echo((input) =>
      input.startsWith("You are shutting down") ? "summary: 1 task, woken" : `ok ${input}`,
    );
    const engine = await AgentEngine.open({ model });
    const root = keepAlive(engine);
    const woken = new Promise<void>((r) =>
      engine.on(
        (e) =>
          e.msg.type === "turn_completed" &&
          /^ok \[wake wk_\S+\] wake: check the queue$/.test(e.msg.text) &&
          r(),
      ),
    );
    await engine.submitAndWait("first task");
    root.wakeAfter(10, "wake: check the queue");
    await woken;
    expect(root.wakes).toBe(1);
    expect(await root.shutdown()).toBe("summary: 1 task, woken");
    expect(engine.status).toBe("closed");
  });
});
