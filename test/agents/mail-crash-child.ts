// A process that runs an agent tree until root/inline#1 has sent a message to its sibling
// root/inline#2, which is suspended on an approval and has not read it; a third child is still
// queued (maxLive 2) with a message waiting for it; it then reports and waits to be killed
// (test/agents/mail-crash.test.ts).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AgentTree } from "../../src/agents/index.ts";
import { lastUserText, treeModel } from "../helpers/agents.ts";
import { crashTreeOptions } from "./crash-shared.ts";

const dir = process.argv[2] as string;
const spawn = (task: string) => ({ name: "spawn_agent", arguments: { instructions: "Do the task.", task } });
const model = treeModel({
  root: [
    { toolCalls: [spawn("talk"), spawn("deploy"), spawn("later"), { name: "wait_agents", arguments: {} }] },
  ],
  "root/inline#1": [
    {
      toolCalls: [
        { name: "send_message", arguments: { to: "root/inline#2", text: "the deploy label is blue" } },
        { name: "send_message", arguments: { to: "root/inline#3", text: "start with the docs" } },
      ],
    },
    { text: "told them", delayMs: 600_000 },
  ],
  "root/inline#2": [
    (r) => ({ toolCalls: [{ name: "deploy", arguments: { label: lastUserText(r) } }] }),
    { text: "never sent", delayMs: 600_000 },
  ],
});
const tree = await AgentTree.open({ model, ...crashTreeOptions(dir), limits: { maxLive: 2 } });
tree.root.submit("Talk, deploy, later.");
const poll = setInterval(() => {
  const text = readdirSync(dir)
    .filter((f) => f.endsWith(".jsonl"))
    .map((f) => readFileSync(join(dir, f), "utf8"))
    .join("\n");
  const count = (s: string) => text.split(s).length - 1;
  // Durable on disk: both sends acknowledged, inline#2's approval request.
  if (
    count('"output":"Delivered to ') === 2 &&
    count('"type":"permission_requested"') === 1 &&
    tree.pendingRequests().length === 1
  ) {
    clearInterval(poll);
    process.stdout.write(
      `${JSON.stringify({ ready: true, agents: tree.list().map((a) => `${a.id} ${a.status}`) })}\n`,
    );
  }
}, 10);
setInterval(() => {}, 60_000);
