// A process that starts a turn whose tool call needs approval, reports once the pending
// request is durable on disk, and then waits to be killed (test/hitl-restart-process.test.ts).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import { deployTool, HITL_THREAD } from "./hitl-shared.ts";

const dir = process.argv[2] as string;
const store = new JsonlThreadStore({ dir });
const model = new SimClient({
  script: [
    {
      text: "Deploying now.",
      toolCalls: [{ id: "call_deploy", name: "deploy", arguments: { env: "prod" } }],
    },
  ],
});
const engine = await AgentEngine.open({
  model,
  store,
  threadId: HITL_THREAD,
  cwd: dir,
  tools: [deployTool(() => process.stdout.write('{"deployed":"child"}\n'))],
  permissions: { rules: { ask: ["deploy"] }, interactive: true },
  listeners: [
    (ev) => {
      if (ev.msg.type !== "permission_requested") return;
      const { requestId } = ev.msg;
      const submissionId = ev.submissionId;
      // Report only once the request is on disk: that is what a restart can resume.
      const poll = setInterval(() => {
        const text = readFileSync(join(dir, `${HITL_THREAD}.jsonl`), "utf8");
        if (!text.includes(requestId)) return;
        clearInterval(poll);
        process.stdout.write(`${JSON.stringify({ requestId, submissionId })}\n`);
      }, 5);
    },
  ],
});
engine.submit("Deploy the release to prod.");
setInterval(() => {}, 60_000); // stay alive until killed
