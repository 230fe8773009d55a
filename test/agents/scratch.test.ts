import { expect, it } from "vitest";
import { AgentTree } from "../../src/agents/index.ts";
import { agentShape, lastOutput, lastUserText, recordTree, treeModel } from "../helpers/agents.ts";

it("scratch", async () => {
  const spawn = (task: string) => ({ name: "spawn_agent", arguments: { instructions: "Answer briefly.", task } });
  const model = treeModel({
    root: [
      { toolCalls: [spawn("a"), spawn("b"), spawn("c"), { name: "wait_agents", arguments: {} }] },
      (r) => ({ text: `joined: ${lastOutput(r)}` }),
    ],
    "*": [(r) => ({ text: `did ${lastUserText(r)}`, delayMs: 5 })],
  });
  const tree = await AgentTree.open({ model });
  const rec = recordTree(tree);
  const events = await tree.root.submitAndWait("go");
  console.log(agentShape(events));
  for (const a of ["root/inline#1", "root/inline#2", "root/inline#3"]) console.log(a, rec.of(a));
  console.log(tree.list().map(a => `${a.id} ${a.status}`));
  await tree.close();
  expect(1).toBe(1);
});
