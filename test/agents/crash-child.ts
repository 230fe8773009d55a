// A process that runs an agent tree until two children are inside a (long) model call after
// recording their work, a third waits for approval and the root is parked on wait_agents; it
// then reports and waits to be killed (test/agents/tree-crash.test.ts).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AgentTree } from "../../src/agents/index.ts";
import { lastUserText, treeModel } from "../helpers/agents.ts";
import { crashTreeOptions } from "./crash-shared.ts";

const dir = process.argv[2] as string;
const spawn = (task: string) => ({
  name: "spawn_agent",
  arguments: { instructions: "Do the task with your tools.", task },
});
const child = (r: Parameters<typeof lastUserText>[0]) => lastUserText(r);
const model = treeModel({
  root: [{ toolCalls: [spawn("A"), spawn("B"), spawn("C"), { name: "wait_agents", arguments: {} }] }],
  "*": [
    (r) =>
      child(r) === "C"
        ? { toolCalls: [{ name: "deploy", arguments: { label: "C" } }] }
        : { toolCalls: [{ name: "work", arguments: { label: `${child(r)}1` } }] },
    { text: "never sent", delayMs: 600_000 },
  ],
});
const tree = await AgentTree.open({ model, ...crashTreeOptions(dir) });
tree.root.submit("Run A, B and C.");
const poll = setInterval(() => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".jsonl"));
  const text = files.map((f) => readFileSync(join(dir, f), "utf8")).join("\n");
  const count = (s: string) => text.split(s).length - 1;
  // Durable on disk: both work outputs, C's approval request, the root's parked wait.
  if (
    count('"output":"done:A1"') === 1 &&
    count('"output":"done:B1"') === 1 &&
    count('"type":"permission_requested"') === 1 &&
    count('"awaiting":"agents"') === 1 &&
    tree.pendingRequests().length === 1
  ) {
    clearInterval(poll);
    process.stdout.write(
      `${JSON.stringify({ ready: true, agents: tree.list().map((a) => `${a.id} ${a.status}`) })}\n`,
    );
  }
}, 10);
setInterval(() => {}, 60_000);
