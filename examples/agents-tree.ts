// Agents: a supervised, durable tree (no API key). The root fans out to a researcher and a
// deployer; the deployer's call needs an approval; the process "stops" while it waits; a new
// tree opened on the same transcripts asks again, gets the approval at the root, and finishes.
// Run: node examples/agents-tree.ts
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { AgentTree, type AgentTreeOptions, defineAgent, type TreeEvent } from "../src/agents/index.ts";
import { defineTool, JsonlThreadStore, type ModelRequest, SimClient } from "../src/index.ts";

const dir = await mkdtemp(join(tmpdir(), "taifeng-agents-example-"));
const deploy = defineTool({
  name: "deploy",
  description: "Deploys the site.",
  schema: z.object({ env: z.string() }),
  execute: ({ env }) => `deployed to ${env}`,
});
const agents = [
  defineAgent({
    name: "researcher",
    description: "Finds facts.",
    instructions: "Answer from what you know.",
  }),
  defineAgent({
    name: "deployer",
    description: "Deploys releases.",
    instructions: "Deploy as asked.",
    tools: ["deploy"],
  }),
];
// One scripted model for the whole tree; each agent's script is chosen by its path.
const agentOf = (r: ModelRequest) => /^You are the agent (\S+),/.exec(r.system)?.[1] ?? "root";
const lastOutput = (r: ModelRequest) => {
  const out = r.items.findLast((i) => i.type === "function_call_output");
  return out?.type === "function_call_output" ? String(out.output) : "";
};
const model = new SimClient({
  name: "tree",
  script: Array.from({ length: 4 }, () => (r: ModelRequest, { index }: { index: number }) => {
    switch (agentOf(r)) {
      case "root":
        return index === 0
          ? {
              toolCalls: [
                { name: "spawn_agent", arguments: { agent: "researcher", task: "What changed in 2.0?" } },
                { name: "spawn_agent", arguments: { agent: "deployer", task: "Deploy 2.0 to prod." } },
                { name: "wait_agents", arguments: {} },
              ],
            }
          : { text: `All done.\n${lastOutput(r)}` };
      case "root/researcher#1":
        return { text: "2.0 adds agent trees." };
      default:
        // Answers from the transcript, so a restarted deployer does not ask twice.
        return lastOutput(r) === ""
          ? { toolCalls: [{ name: "deploy", arguments: { env: "prod" } }] }
          : { text: lastOutput(r) };
    }
  }),
});
const options = (listener: (e: TreeEvent) => void): AgentTreeOptions => ({
  model,
  agents,
  tools: [deploy],
  store: new JsonlThreadStore({ dir }),
  threadId: "thr_agents_example",
  engine: { cwd: dir, permissions: { rules: { ask: ["deploy"] }, interactive: true } },
  listener,
});
const show = (e: TreeEvent) => {
  const m = e.event.msg;
  if (m.type === "child_spawned") console.log(`[${e.agent}] spawned ${m.path}`);
  if (m.type === "child_completed") console.log(`[${e.agent}] ${m.path} ${m.status}`);
  if (m.type === "permission_requested")
    console.log(`[${e.agent}] asks to run ${m.tool} ${JSON.stringify(m.input)}`);
};

// 1. First process: runs until the deployer waits for approval, then shuts down.
let asked!: () => void;
const waiting = new Promise<void>((r) => (asked = r));
const first = await AgentTree.open(
  options((e) => {
    show(e);
    if (e.event.msg.type === "permission_requested") asked();
  }),
);
first.root.submit("Research 2.0 and deploy it.");
await waiting;
await first.close();
console.log("-- process stopped; reopening from the transcripts --");

// 2. Second process: the tree is rebuilt; the pending approval is asked again and answered here.
let reasked!: () => void;
const again = new Promise<void>((r) => (reasked = r));
let resumed = "";
const second = await AgentTree.open(
  options((e) => {
    show(e);
    const m = e.event.msg;
    if (m.type === "thread_opened" && e.agent === "root" && m.resumedTurn)
      resumed = m.resumedTurn.submissionId;
    if (m.type === "permission_requested") reasked();
  }),
);
await again;
for (const p of second.pendingRequests()) second.answer(p.requestId, { decision: "allow_once" });
for await (const ev of second.root.subscribe(resumed))
  if (ev.msg.type === "turn_completed") console.log(`[root] ${ev.msg.text.split("\n").join("\n       ")}`);
for (const a of second.list()) console.log(`${"  ".repeat(a.depth)}${a.id} [${a.status}]`);
await second.close();
await rm(dir, { recursive: true, force: true });
