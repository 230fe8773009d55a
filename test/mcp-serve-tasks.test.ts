import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
// The official SDK's v1 client: the one with a task runtime (experimental.tasks), so the
// server is checked by a client Taifeng did not write.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CallToolResultSchema,
  CancelTaskResultSchema,
  CreateTaskResultSchema,
  GetTaskResultSchema,
  ListTasksResultSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimStepFn } from "../src/llm/sim/script.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { serveMcpHttp } from "../src/mcp/serve-http.ts";
import { SkillRuntime } from "../src/skill/runtime.ts";
import { ROOT } from "./helpers/cli.ts";

// `taifeng mcp serve` / createMcpServer offer MCP tasks (2025-11-25) for skill runs.

/** The skill's model: a prompt containing "slow" takes a minute (until cancelled). */
const skillModel: SimStepFn = (req) => {
  const text = JSON.stringify(req.items);
  return { text: "Tides Explained In Six Words", delayMs: text.includes("slow") ? 60_000 : 200 };
};

describe("taifeng's MCP server runs skills as tasks (HTTP, the SDK's v1 client)", () => {
  let served: Awaited<ReturnType<typeof serveMcpHttp>>;
  let skills: SkillRuntime;
  let client: Client;

  beforeAll(async () => {
    skills = await SkillRuntime.open({ dirs: [join(ROOT, "examples/skills")] });
    served = await serveMcpHttp({
      port: 0,
      skills,
      engine: { model: new SimClient({ script: [skillModel], onExhausted: "repeat_last" }), cwd: ROOT },
    });
    client = new Client({ name: "sdk-v1", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(served.url)));
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await served?.close();
    skills?.close();
  });

  it("announces tasks for tools/call and marks skill tools as optionally task-run", async () => {
    expect(client.getServerCapabilities()?.tasks).toEqual({
      list: {},
      cancel: {},
      requests: { tools: { call: {} } },
    });
    const tools = (await client.listTools()).tools;
    expect(tools.find((t) => t.name === "headline")?.execution).toEqual({ taskSupport: "optional" });
  });

  it("creates a task, reports it through tasks/get and tasks/list, and gives its result", async () => {
    const created = await client.request(
      {
        method: "tools/call",
        params: { name: "headline", arguments: { input: "tides" }, task: { ttl: 120_000 } },
      },
      CreateTaskResultSchema,
    );
    const id = created.task.taskId;
    expect(created.task).toMatchObject({ status: "working", ttl: 120_000, pollInterval: 1000 });
    const result = await client.request(
      { method: "tasks/result", params: { taskId: id } },
      CallToolResultSchema,
    );
    expect(result.content).toEqual([{ type: "text", text: "Tides Explained In Six Words" }]);
    expect(result._meta?.["io.modelcontextprotocol/related-task"]).toEqual({ taskId: id });
    const task = await client.request({ method: "tasks/get", params: { taskId: id } }, GetTaskResultSchema);
    expect(task.status).toBe("completed");
    // The last step the run reported stays as the status message.
    expect(task.statusMessage).toMatch(/^(step \d+|skill headline|running \w+)$/);
    const listed = await client.request({ method: "tasks/list", params: {} }, ListTasksResultSchema);
    expect(listed.tasks.map((t) => t.taskId)).toContain(id);
  }, 60_000);

  it("the SDK's own task flow (callToolStream) sees the task created, then its result", async () => {
    const kinds: string[] = [];
    let text = "";
    for await (const message of client.experimental.tasks.callToolStream({
      name: "headline",
      arguments: { input: "moons" },
    })) {
      kinds.push(message.type);
      if (message.type === "result") text = JSON.stringify(message.result.content);
    }
    expect(kinds[0]).toBe("taskCreated");
    expect(kinds.at(-1)).toBe("result");
    expect(text).toContain("Tides Explained In Six Words");
  }, 60_000);

  it("tasks/cancel stops a running skill; its result is an error and a second cancel is refused", async () => {
    const created = await client.request(
      { method: "tools/call", params: { name: "headline", arguments: { input: "slow" }, task: {} } },
      CreateTaskResultSchema,
    );
    const id = created.task.taskId;
    const cancelled = await client.request(
      { method: "tasks/cancel", params: { taskId: id } },
      CancelTaskResultSchema,
    );
    expect(cancelled.status).toBe("cancelled");
    await expect(
      client.request({ method: "tasks/result", params: { taskId: id } }, CallToolResultSchema),
    ).rejects.toThrow(/was cancelled/);
    await expect(
      client.request({ method: "tasks/cancel", params: { taskId: id } }, CancelTaskResultSchema),
    ).rejects.toThrow(/already ended \(cancelled\)/);
    await expect(
      client.request({ method: "tasks/get", params: { taskId: "no-such-task" } }, GetTaskResultSchema),
    ).rejects.toThrow(/Task not found/);
  }, 60_000);

  it("a call without `task` runs as before (a plain result)", async () => {
    const result = await client.callTool({ name: "headline", arguments: { input: "plain" } });
    expect(result.content).toEqual([{ type: "text", text: "Tides Explained In Six Words" }]);
  }, 60_000);
});

describe("taifeng mcp serve (stdio) runs a skill as a task for the SDK's v1 client", () => {
  let home: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "taifeng-serve-tasks-"));
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill("SIGKILL");
    await rm(home, { recursive: true, force: true });
  });

  it("task created, status followed, result fetched over stdio", async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [join(ROOT, "src/cli/main.ts"), "mcp", "serve", "--skills", join(ROOT, "examples/skills")],
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: home, TAIFENG_STORAGE: join(home, "storage") },
      stderr: "pipe",
    });
    const client = new Client({ name: "sdk-v1", version: "1.0.0" });
    const statuses: string[] = [];
    client.fallbackNotificationHandler = async (n) => {
      if (n.method === "notifications/tasks/status") statuses.push(String(n.params?.status));
    };
    await client.connect(transport);
    try {
      const created = await client.request(
        { method: "tools/call", params: { name: "headline", arguments: { input: "tides" }, task: {} } },
        CreateTaskResultSchema,
      );
      const result = await client.request(
        { method: "tasks/result", params: { taskId: created.task.taskId } },
        CallToolResultSchema,
      );
      expect(result.isError).toBeFalsy();
      expect(JSON.stringify(result.content)).toMatch(/"text":"[^"]+"/);
      // Over stdio the connection stays open: status changes arrive as notifications.
      expect(statuses.at(-1)).toBe("completed");
    } finally {
      await client.close();
    }
  }, 90_000);
});
