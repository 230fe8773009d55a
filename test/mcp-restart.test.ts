import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../src/conversation/jsonl-store.ts";
import type { SimStepFn, SimStepInput } from "../src/llm/sim/script.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { McpManager } from "../src/mcp/manager.ts";
import { toolOutputText } from "../src/protocol/index.ts";
import { recorder, shape } from "./helpers/events.ts";
import { waitFor } from "./helpers/hitl.ts";
import { entries, nodeServer, serverScript } from "./helpers/mcp.ts";

// An MCP server's question (elicitation) is the kernel's persisted user-input request: a
// turn waiting on it survives a restart of the whole process, its MCP server included.

const servers = (startup: string) =>
  entries({ everything: nodeServer(serverScript("server-everything"), ["stdio"], { startup }) });

function script(seen: string[]): (SimStepInput | SimStepFn)[] {
  return [
    { toolCalls: [{ id: "e1", name: "mcp__everything__trigger-elicitation-request", arguments: {} }] },
    (req) => {
      const last = req.items.at(-1);
      seen.push(last?.type === "function_call_output" ? toolOutputText(last.output) : "");
      return { text: "thanks" };
    },
  ];
}

describe("an MCP elicitation survives a restart", () => {
  it.each(["eager", "lazy"])(
    "re-asks under the same request id after the process (and its %s server) stopped, then completes",
    async (startup) => {
      const dir = await mkdtemp(join(tmpdir(), "taifeng-mcp-restart-"));
      const threadId = "thr_mcp_restart";
      const seen: string[] = [];

      // First process: the server asks; the process "dies" before anyone answers. What it
      // leaves on disk at that moment is copied and opened by the second process.
      const store = new JsonlThreadStore({ dir: join(dir, "a"), index: false });
      const first = await McpManager.open({ servers: servers(startup) });
      const rec1 = recorder();
      const engine1 = await AgentEngine.open({
        store,
        threadId,
        cwd: "/tmp",
        model: new SimClient({ script: script(seen) }),
        listeners: [rec1.listener],
        ...first.engineOptions(),
      });
      const submissionId = engine1.submit("go");
      const asked = (await waitFor(rec1.events, "user_input_requested")).msg as {
        requestId: string;
        question: string;
      };
      await cp(join(dir, "a"), join(dir, "b"), { recursive: true, filter: (f) => !f.endsWith(".lock") });

      // Second process: a new manager, a new server process, the same thread. A lazy server
      // has no tools yet when the engine opens: they arrive when the resumed turn starts.
      const store2 = new JsonlThreadStore({ dir: join(dir, "b"), index: false });
      const second = await McpManager.open({ servers: servers(startup) });
      if (startup === "lazy") expect(second.tools()).toEqual([]);
      const rec2 = recorder();
      const engine2 = await AgentEngine.open({
        store: store2,
        threadId,
        cwd: "/tmp",
        // The model already made its first step before the restart.
        model: new SimClient({ script: script(seen).slice(1) }),
        listeners: [rec2.listener],
        ...second.engineOptions(),
      });
      try {
        const again = (await waitFor(rec2.events, "user_input_requested")).msg as {
          requestId: string;
          question: string;
        };
        expect(again.requestId).toBe(asked.requestId);
        expect(again.question).toBe(asked.question);
        engine2.submit({
          type: "user_input_answer",
          requestId: again.requestId,
          answer: JSON.stringify({ name: "Grace Hopper" }),
        });
        await waitFor(rec2.events, "turn_completed");
        const resumed = rec2.events.filter((e) => e.submissionId === submissionId);
        expect(
          shape(resumed).filter((l) => !l.startsWith("assistant_text") && !l.startsWith("model_call")),
        ).toEqual([
          "turn_started",
          "tool_call_started mcp__everything__trigger-elicitation-request e1",
          "user_input_requested",
          "tool_call_completed mcp__everything__trigger-elicitation-request e1 ok",
          'assistant_message "thanks"',
          "turn_completed",
        ]);
        expect(seen.at(-1)).toContain("Grace Hopper");
      } finally {
        await engine2.close();
        await second.close();
        await store2.close();
        engine1.submit({ type: "interrupt" });
        await engine1.close();
        await first.close();
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
