import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, specTypeSchemas } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimStepFn, SimStepInput } from "../src/llm/sim/script.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { McpManager } from "../src/mcp/manager.ts";
import { type Event, toolOutputText } from "../src/protocol/index.ts";
import { runCli } from "./helpers/cli-inprocess.ts";
import { recorder, shape } from "./helpers/events.ts";
import { driveTurn, waitFor } from "./helpers/hitl.ts";
import { entries, nodeServer, serverScript, startEverythingHttp } from "./helpers/mcp.ts";

// MCP tasks (2025-11-25) against the official reference server: server-everything's
// `simulate-research-query` can only run as a task (four stages of about a second each).

const TOOL = "mcp__everything__simulate-research-query";

function research(args: Record<string, unknown>, seen: string[]): (SimStepInput | SimStepFn)[] {
  return [
    { toolCalls: [{ id: "r1", name: TOOL, arguments: args }] },
    (req) => {
      const last = req.items.at(-1);
      seen.push(last?.type === "function_call_output" ? toolOutputText(last.output) : "");
      return { text: "done" };
    },
  ];
}

/** The event lines, runs of progress events folded into one `tool_call_progress*` line. */
function folded(events: readonly Event[]): string[] {
  const out: string[] = [];
  for (const line of shape(events).filter(
    (l) => !l.startsWith("assistant_text") && !l.startsWith("model_call"),
  )) {
    const l = line === "tool_call_progress" ? "tool_call_progress*" : line;
    if (l !== out.at(-1) || l !== "tool_call_progress*") out.push(l);
  }
  return out;
}

type TaskProgress = { server: string; task: { id: string; status: string; message?: string } };
function taskProgress(events: readonly Event[]): TaskProgress[] {
  return events.flatMap((e) => (e.msg.type === "tool_call_progress" ? [e.msg.data as TaskProgress] : []));
}

function progressAfterPark(events: readonly Event[]): boolean {
  const parked = events.findIndex((e) => e.msg.type === "user_input_requested");
  return events.some((e, i) => i > parked && e.msg.type === "tool_call_progress");
}

async function serverTask(mcp: McpManager, taskId: string): Promise<{ status: string } | string> {
  const client = (await mcp.servers.get("everything")?.ensure()) as Client;
  try {
    return await client.request({ method: "tasks/get", params: { taskId } }, specTypeSchemas.GetTaskResult);
  } catch (err) {
    return String(err);
  }
}

describe.each(["stdio", "http"])("MCP tasks against server-everything (%s)", (transport) => {
  let mcp: McpManager;
  let stop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    if (transport === "stdio") {
      mcp = await McpManager.open({
        servers: entries({ everything: nodeServer(serverScript("server-everything"), ["stdio"]) }),
      });
    } else {
      const http = await startEverythingHttp();
      stop = http.stop;
      mcp = await McpManager.open({ servers: entries({ everything: { type: "http", url: http.url } }) });
    }
  }, 60_000);

  afterAll(async () => {
    await mcp?.close();
    await stop?.();
  });

  it("offers the task-only tool and runs it as a task: created, followed, result fetched", async () => {
    expect(mcp.tools().map((t) => t.name)).toContain(TOOL);
    const seen: string[] = [];
    const rec = recorder();
    const engine = await AgentEngine.open({
      model: new SimClient({ script: research({ topic: "tides" }, seen) }),
      cwd: "/tmp",
      ...mcp.engineOptions(),
      listeners: [rec.listener],
    });
    try {
      const events = await driveTurn(engine, "research tides", () => undefined);
      expect(folded(events)).toEqual([
        "turn_started",
        'user_message input "research tides"',
        `tool_call_started ${TOOL} r1`,
        "tool_call_progress*",
        "user_input_requested",
        "tool_call_progress*",
        `tool_call_completed ${TOOL} r1 ok`,
        'assistant_message "done"',
        "turn_completed",
      ]);
      const asked = events.find((e) => e.msg.type === "user_input_requested")?.msg as {
        question: string;
        awaiting?: string;
      };
      const progress = taskProgress(events);
      const id = progress[0]?.task.id as string;
      // The call parks (durably) on its task: the transcript names the task.
      expect(asked.awaiting).toBe("agents");
      expect(asked.question).toBe(
        `Waiting on MCP task ${id} (tool simulate-research-query of server "everything")`,
      );
      expect(progress.every((p) => p.server === "everything" && p.task.id === id)).toBe(true);
      expect(progress[0]?.task.status).toBe("working");
      expect(progress.at(-1)?.task.status).toBe("completed");
      const messages = progress.map((p) => p.task.message);
      expect(messages).toContain("Analyzing content...");
      expect(messages).toContain("Generating report...");
      expect(seen[0]).toContain("# Research Report: tides");
      expect(await serverTask(mcp, id)).toMatchObject({ status: "completed" });
    } finally {
      await engine.close();
    }
  }, 60_000);

  it("asks the person the server's question (delivered through tasks/result) and finishes", async () => {
    const seen: string[] = [];
    const engine = await AgentEngine.open({
      model: new SimClient({ script: research({ topic: "python", ambiguous: true }, seen) }),
      cwd: "/tmp",
      ...mcp.engineOptions(),
    });
    try {
      const questions: string[] = [];
      const events = await driveTurn(engine, "research python", (msg) => {
        if (msg.type !== "user_input_requested" || msg.awaiting) return undefined;
        questions.push(msg.question);
        return { type: "user_input_answer", requestId: msg.requestId, answer: "snake" };
      });
      expect(questions).toHaveLength(1);
      expect(questions[0]).toContain("could have multiple interpretations");
      expect(taskProgress(events).map((p) => p.task.status)).toContain("input_required");
      expect(seen[0]).toContain("# Research Report: python (snake)");
    } finally {
      await engine.close();
    }
  }, 60_000);

  it("an interrupt cancels the task on the server (tasks/cancel)", async () => {
    const rec = recorder();
    const engine = await AgentEngine.open({
      model: new SimClient({ script: research({ topic: "stars" }, []) }),
      cwd: "/tmp",
      ...mcp.engineOptions(),
      listeners: [rec.listener],
    });
    try {
      const sub = engine.submit("research stars");
      const first = ((await waitFor(rec.events, "tool_call_progress")).msg as { data: TaskProgress }).data;
      await waitFor(rec.events, "user_input_requested");
      engine.submit({ type: "interrupt" });
      await waitFor(rec.events, "turn_aborted");
      expect(folded(rec.events.filter((e) => e.submissionId === sub))).toEqual([
        "turn_started",
        'user_message input "research stars"',
        `tool_call_started ${TOOL} r1`,
        "tool_call_progress*",
        "user_input_requested",
        // A stage may change between the park and the interrupt.
        ...(progressAfterPark(rec.events) ? ["tool_call_progress*"] : []),
        `tool_call_completed ${TOOL} r1 aborted`,
        "turn_aborted interrupt",
      ]);
      // The engine closes an interrupted call at once; tasks/cancel follows from the tool.
      let status: unknown;
      for (let i = 0; i < 100; i++) {
        status = await serverTask(mcp, first.task.id);
        if ((status as { status?: string }).status !== "working") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toMatchObject({ status: "cancelled" });
    } finally {
      await engine.close();
    }
  }, 60_000);
});

describe("taifeng mcp call with a task-only tool", () => {
  it("follows the task (status lines on stderr) and prints its result", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taifeng-mcp-call-task-"));
    try {
      const config = join(dir, "mcp.json");
      await writeFile(
        config,
        JSON.stringify({
          mcpServers: { everything: nodeServer(serverScript("server-everything"), ["stdio"]) },
        }),
      );
      const run = await runCli(
        ["mcp", "call", "everything", "simulate-research-query", '{"topic":"kelp"}', "--mcp-config", config],
        { cwd: dir, env: { HOME: dir, PATH: process.env.PATH } },
      );
      expect(run.code).toBe(0);
      expect(run.stdout).toContain("# Research Report: kelp");
      const lines = run.stderr.split("\n").filter((l) => l.startsWith("taifeng: task "));
      expect(lines[0]).toMatch(/^taifeng: task \w+ working: Gathering sources\.\.\.$/);
      expect(lines.at(-1)).toMatch(/^taifeng: task \w+ completed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
