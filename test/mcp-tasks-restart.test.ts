import { cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, specTypeSchemas } from "@modelcontextprotocol/client";
import { describe, expect, it } from "vitest";
import { JsonlThreadStore } from "../src/conversation/jsonl-store.ts";
import type { SimStepFn, SimStepInput } from "../src/llm/sim/script.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelClient } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { McpManager } from "../src/mcp/manager.ts";
import { serveMcpHttp } from "../src/mcp/serve-http.ts";
import { McpTaskStore } from "../src/mcp/serve-tasks.ts";
import { fileTaskLedger } from "../src/mcp/task-ledger.ts";
import { toolOutputText } from "../src/protocol/index.ts";
import { SkillRuntime } from "../src/skill/runtime.ts";
import { ROOT } from "./helpers/cli.ts";
import { recorder, shape } from "./helpers/events.ts";
import { waitFor } from "./helpers/hitl.ts";
import { entries, nodeServer, serverScript } from "./helpers/mcp.ts";

// A call that runs as an MCP task parks on it (durably) and records the task in the ledger
// first. After the process stops, the resumed turn runs the call again, which follows the
// same task: it fetches the result, or says the task is gone, and never calls the tool twice.

function script(tool: string, args: Record<string, unknown>, seen: string[]): (SimStepInput | SimStepFn)[] {
  return [
    { toolCalls: [{ id: "t1", name: tool, arguments: args }] },
    (req) => {
      const last = req.items.at(-1);
      seen.push(last?.type === "function_call_output" ? toolOutputText(last.output) : "");
      return { text: "noted" };
    },
  ];
}

/** Runs the first process until the call parks on its task, copies its disk, stops it. */
async function crashWhileParked(
  dir: string,
  threadId: string,
  open: () => Promise<McpManager>,
  tool: string,
  args: Record<string, unknown>,
): Promise<{ submissionId: string; question: string; taskId: string }> {
  const store = new JsonlThreadStore({ dir: join(dir, "a"), index: false });
  const mcp = await open();
  const rec = recorder();
  const engine = await AgentEngine.open({
    store,
    threadId,
    cwd: "/tmp",
    model: new SimClient({ script: script(tool, args, []) }),
    listeners: [rec.listener],
    ...mcp.engineOptions(),
  });
  const submissionId = engine.submit("go");
  const parked = (await waitFor(rec.events, "user_input_requested")).msg as { question: string };
  const created = (await waitFor(rec.events, "tool_call_progress")).msg as { data: { task: { id: string } } };
  await cp(join(dir, "a"), join(dir, "b"), { recursive: true, filter: (f) => !f.endsWith(".lock") });
  // The "crash": the connection goes away without an interrupt (no tasks/cancel is sent).
  await mcp.close();
  await engine.close();
  await store.close();
  return { submissionId, question: parked.question, taskId: created.data.task.id };
}

async function resume(
  dir: string,
  threadId: string,
  mcp: McpManager,
  tool: string,
  seen: string[],
): Promise<string[]> {
  const store = new JsonlThreadStore({ dir: join(dir, "b"), index: false });
  const rec = recorder();
  const engine = await AgentEngine.open({
    store,
    threadId,
    cwd: "/tmp",
    model: new SimClient({ script: script(tool, {}, seen).slice(1) }),
    listeners: [rec.listener],
    ...mcp.engineOptions(),
  });
  try {
    await waitFor(rec.events, "turn_completed");
    return shape(rec.events).filter(
      (l) => !l.startsWith("assistant_text") && !l.startsWith("model_call") && l !== "thread_opened",
    );
  } finally {
    await engine.close();
    await store.close();
  }
}

/** A model whose answers wait until `gate` resolves. */
function gated(inner: ModelClient, gate: Promise<void>): ModelClient {
  return {
    id: inner.id,
    async *stream(request, options) {
      await gate;
      yield* inner.stream(request, options);
    },
  };
}

/** Progress lines folded: a resumed call reports its task's status as it follows it. */
function folded(lines: string[]): string[] {
  return lines.filter((l, i) => l !== "tool_call_progress" || lines[i - 1] !== "tool_call_progress");
}

describe("a task-backed MCP call survives a restart", () => {
  it("fetches the task's result after the restart; the skill ran once (taifeng mcp serve over HTTP)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taifeng-mcp-task-restart-"));
    const skills = await SkillRuntime.open({ dirs: [join(ROOT, "examples/skills")] });
    const tasks = new McpTaskStore();
    let open_ = () => {};
    const gate = new Promise<void>((resolve) => {
      open_ = resolve;
    });
    const served = await serveMcpHttp({
      port: 0,
      skills,
      tasks,
      engine: {
        // The skill answers only once the test lets it (after the restart), whatever the load.
        model: gated(
          new SimClient({ script: [{ text: "Moon Pulls The Tides" }], onExhausted: "repeat_last" }),
          gate,
        ),
        cwd: ROOT,
      },
    });
    const ledger = fileTaskLedger(join(dir, "ledger"));
    // `legacy`: the 2025-11-25 handshake, where tasks live (2026-07-28 moved them to an extension).
    const open = () =>
      McpManager.open({
        servers: entries({ tf: { type: "http", url: served.url, protocol: "legacy" } }),
        taskLedger: ledger,
      });
    const seen: string[] = [];
    try {
      const first = await crashWhileParked(dir, "thr_task", open, "mcp__tf__headline", { input: "tides" });
      expect(first.question).toBe(`Waiting on MCP task ${first.taskId} (tool headline of server "tf")`);
      expect(tasks.list().map((t) => t.status)).toEqual(["working"]);
      const second = await open();
      try {
        open_();
        const lines = await resume(dir, "thr_task", second, "mcp__tf__headline", seen);
        expect(folded(lines)).toEqual([
          "turn_started",
          "tool_call_started mcp__tf__headline t1",
          // Parked again under the same request id, then following the task it recorded.
          "user_input_requested",
          "tool_call_progress",
          "tool_call_completed mcp__tf__headline t1 ok",
          'assistant_message "noted"',
          "turn_completed",
        ]);
      } finally {
        await second.close();
      }
      expect(seen).toEqual(["Moon Pulls The Tides"]);
      // One task: the resumed call followed it instead of calling the tool again.
      expect(tasks.list().map((t) => [t.taskId, t.status])).toEqual([[first.taskId, "completed"]]);
      // The finished call removed its ledger entry.
      expect(await readdir(join(dir, "ledger"))).toEqual([]);
    } finally {
      await served.close();
      skills.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it("says the task is gone when its server died with the process, and does not call again (server-everything, stdio)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taifeng-mcp-task-lost-"));
    const ledger = fileTaskLedger(join(dir, "ledger"));
    const open = () =>
      McpManager.open({
        servers: entries({ everything: nodeServer(serverScript("server-everything"), ["stdio"]) }),
        taskLedger: ledger,
      });
    const tool = "mcp__everything__simulate-research-query";
    const seen: string[] = [];
    try {
      const first = await crashWhileParked(dir, "thr_lost", open, tool, { topic: "tides" });
      const second = await open();
      try {
        const lines = await resume(dir, "thr_lost", second, tool, seen);
        expect(lines).toEqual([
          "turn_started",
          `tool_call_started ${tool} t1`,
          "user_input_requested",
          `tool_call_completed ${tool} t1 error`,
          'assistant_message "noted"',
          "turn_completed",
        ]);
        expect(seen[0]).toContain(`task ${first.taskId} is no longer known to the server`);
        expect(seen[0]).toContain("the tool was not called again");
        // The new server process has no task at all: nothing was called.
        const client = (await second.servers.get("everything")?.ensure()) as Client;
        const listed = await client.request(
          { method: "tasks/list", params: {} },
          specTypeSchemas.ListTasksResult,
        );
        expect(listed.tasks).toEqual([]);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
