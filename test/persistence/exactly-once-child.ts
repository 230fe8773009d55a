// A process that kills itself (SIGKILL) at a chosen moment of an approval or a question, for
// test/persistence/exactly-once.test.ts. The store batches for a minute, so nothing reaches
// the disk unless the engine flushes on purpose: a line is on disk only because the engine
// made it durable before going on.
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { JsonlThreadStore } from "../../src/conversation/jsonl-store.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import { askUserTool } from "../../src/tool/builtin/ask_user/index.ts";
import { defineTool, type Tool } from "../../src/tool/define.ts";

/** The moment to die: after the effect ran, when a person is asked, when a question is put. */
export type KillPoint = "after_effect" | "at_request" | "at_question";

export const ONCE_THREAD = "thr_exactly_once";

/** Appends one line to `<dir>/effects.txt`: the side effect that must happen once. */
export function effectTool(dir: string, after?: () => void): Tool {
  return defineTool({
    name: "effect",
    description: "Appends a line to a file.",
    schema: z.object({ line: z.string() }),
    execute: ({ line }) => {
      appendFileSync(join(dir, "effects.txt"), `${line}\n`);
      after?.();
      return `appended ${line}`;
    },
  }) as Tool;
}

const die = () => process.kill(process.pid, "SIGKILL");

if (process.argv[1] === import.meta.filename) {
  const [dir, point] = process.argv.slice(2) as [string, KillPoint];
  const store = new JsonlThreadStore({ dir, batchDelayMs: 60_000, maxBatchBytes: 1 << 30 });
  const call =
    point === "at_question"
      ? { id: "call_ask", name: "ask_user", arguments: { question: "Which line?" } }
      : { id: "call_effect", name: "effect", arguments: { line: "once" } };
  const engine = await AgentEngine.open({
    model: new SimClient({ script: [{ toolCalls: [call] }, { text: "done" }] }),
    store,
    threadId: ONCE_THREAD,
    cwd: dir,
    tools: [effectTool(dir, point === "after_effect" ? die : undefined), askUserTool()],
    permissions: { rules: { ask: ["effect"] }, interactive: true },
    listeners: [
      (ev) => {
        const msg = ev.msg;
        if (msg.type === "permission_requested") {
          if (point === "at_request") die();
          queueMicrotask(() =>
            engine.submit({ type: "approval", requestId: msg.requestId, decision: "allow_once" }),
          );
        }
        if (msg.type === "user_input_requested" && point === "at_question") die();
      },
    ],
  });
  engine.submit("Append the line.");
  setInterval(() => {}, 60_000); // the kill ends it
}
