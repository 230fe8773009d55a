import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { SimStepFn, SimStepInput } from "../src/llm/sim/script.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { McpManager } from "../src/mcp/manager.ts";
import type { Event, FunctionCallOutputItem } from "../src/protocol/index.ts";
import { shape } from "./helpers/events.ts";
import { driveTurn } from "./helpers/hitl.ts";
import { alive, entries, nodeServer } from "./helpers/mcp.ts";

// Servers that crash, hang, print garbage, leave children behind, change their tools or
// never start: calls fail as data, the turn goes on, nothing is left running.

const FAULT = join(import.meta.dirname, "fixtures", "mcp", "fault-server.ts");
let dir: string;
let mcp: McpManager | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-mcp-faults-"));
});
afterEach(async () => {
  await mcp?.close();
  mcp = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function open(extra: Record<string, unknown> = {}, env: Record<string, string> = {}) {
  mcp = await McpManager.open({
    servers: entries({
      fault: nodeServer(FAULT, [], { env: { FAULT_LOG: join(dir, "log"), ...env }, ...extra }),
    }),
  });
  return mcp;
}

function outputs(req: ModelRequest): string[] {
  return req.items
    .filter((i): i is FunctionCallOutputItem => i.type === "function_call_output")
    .map((o) => String(o.output));
}

async function engineOn(m: McpManager, script: (SimStepInput | SimStepFn)[]) {
  const requests: ModelRequest[] = [];
  const model = new SimClient({
    script: script.map((step) =>
      typeof step === "function"
        ? (req: ModelRequest, call: { index: number }) => {
            requests.push(req);
            return step(req, call);
          }
        : (req: ModelRequest) => {
            requests.push(req);
            return step;
          },
    ),
  });
  const engine = await AgentEngine.open({ model, cwd: dir, ...m.engineOptions() });
  return { engine, requests };
}

const toolTypes = (events: Event[]) => shape(events).filter((l) => /^(tool_call|mcp_|warning|turn_)/.test(l));

describe("MCP faults", () => {
  it("a server that crashes mid-call fails that call as data, reports mcp_server_failed, and comes back later", async () => {
    const m = await open();
    const { engine, requests } = await engineOn(m, [
      { toolCalls: [{ id: "c1", name: "mcp__fault__crash", arguments: {} }] },
      { text: "noted" },
      { toolCalls: [{ id: "c2", name: "mcp__fault__ok", arguments: { text: "again" } }] },
      { text: "done" },
    ]);
    const first = await driveTurn(engine, "crash it", () => undefined);
    expect(toolTypes(first)).toEqual([
      "turn_started",
      "tool_call_started mcp__fault__crash c1",
      "mcp_server_failed",
      "tool_call_completed mcp__fault__crash c1 error",
      "turn_completed",
    ]);
    const failed = first.find((e) => e.msg.type === "mcp_server_failed")?.msg as {
      error: string;
      server: string;
    };
    expect(failed.server).toBe("fault");
    expect(failed.error).toMatch(/connection closed \(exit 3\)/);
    expect(outputs(requests[1] as ModelRequest)[0]).toMatch(
      /^MCP server "fault" could not run crash: .*closed/i,
    );
    // The backoff after one failure is one second; then the next call restarts the server.
    await new Promise((r) => setTimeout(r, 1_100));
    const second = await driveTurn(engine, "again", () => undefined);
    expect(toolTypes(second)).toContain("tool_call_completed mcp__fault__ok c2 ok");
    expect(outputs(requests[3] as ModelRequest)).toContain("ok: again");
    expect(m.status()[0]?.state.status).toBe("ready");
    await engine.close();
  });

  it("a hanging call times out with a model-readable output and the server is told to cancel", async () => {
    const m = await open({ timeoutMs: 300 });
    const { engine, requests } = await engineOn(m, [
      { toolCalls: [{ id: "h1", name: "mcp__fault__hang", arguments: {} }] },
      { text: "done" },
    ]);
    const events = await driveTurn(engine, "hang", () => undefined);
    expect(toolTypes(events)).toEqual([
      "turn_started",
      "tool_call_started mcp__fault__hang h1",
      "tool_call_completed mcp__fault__hang h1 error",
      "turn_completed",
    ]);
    expect(outputs(requests[1] as ModelRequest)[0]).toBe(
      'MCP server "fault" could not run hang: no answer within 300 ms; the call was cancelled',
    );
    await expect.poll(() => readFile(join(dir, "log"), "utf8")).toContain("hang cancelled");
    await engine.close();
  });

  it("an interrupt cancels a running call on the server (notifications/cancelled)", async () => {
    const m = await open();
    const { engine } = await engineOn(m, [
      { toolCalls: [{ id: "h2", name: "mcp__fault__hang", arguments: {} }] },
      { text: "x" },
    ]);
    const id = engine.submit("hang");
    await expect.poll(() => readFile(join(dir, "log"), "utf8").catch(() => "")).toContain("hang started");
    engine.submit({ type: "interrupt" });
    const events: Event[] = [];
    for await (const ev of engine.subscribe(id)) events.push(ev);
    expect(toolTypes(events)).toEqual([
      "turn_started",
      "tool_call_started mcp__fault__hang h2",
      "tool_call_completed mcp__fault__hang h2 aborted",
      "turn_aborted interrupt",
    ]);
    await expect.poll(() => readFile(join(dir, "log"), "utf8")).toContain("hang cancelled");
    await engine.close();
  });

  it("garbage on stdout is dropped and logged; the call still answers", async () => {
    const m = await open();
    const result = await m.call("fault", "garbage", { text: "x" });
    expect(result.content).toEqual([{ type: "text", text: "survived: x" }]);
    expect(m.status()[0]?.stderr).toContain("[stdout, not JSON-RPC] this is not json");
  });

  it("closing kills the server's whole process group, grandchildren included", async () => {
    const m = await open();
    const result = await m.call("fault", "spawn_child", {});
    const grandchild = Number((result.content[0] as { text: string }).text);
    const server = m.servers.get("fault")?.processId as number;
    expect(alive(grandchild)).toBe(true);
    expect(alive(server)).toBe(true);
    await m.close();
    mcp = undefined;
    await expect.poll(() => alive(grandchild)).toBe(false);
    expect(alive(server)).toBe(false);
  });

  it("a tool list that changes during a turn applies at the next turn boundary, with a warning naming the change", async () => {
    const m = await open();
    const { engine, requests } = await engineOn(m, [
      { toolCalls: [{ id: "a1", name: "mcp__fault__add_tool", arguments: {} }] },
      { text: "added" },
      { toolCalls: [{ id: "a2", name: "mcp__fault__added", arguments: {} }] },
      { text: "done" },
      { text: "third" },
    ]);
    const first = await driveTurn(engine, "add", () => undefined);
    expect(toolTypes(first).filter((l) => l.startsWith("warning"))).toEqual([]);
    const second = await driveTurn(engine, "use it", () => undefined);
    expect(toolTypes(second)).toEqual([
      "turn_started",
      "warning mcp_tools_changed",
      "tool_call_started mcp__fault__added a2",
      "tool_call_completed mcp__fault__added a2 ok",
      "turn_completed",
    ]);
    const warning = second.find((e) => e.msg.type === "warning")?.msg as { message: string };
    expect(warning.message).toBe(
      'MCP server "fault" changed its tools: added added. The new list applies from this turn.',
    );
    await driveTurn(engine, "third", () => undefined);
    const names = (r: ModelRequest | undefined) => (r?.tools ?? []).map((t) => t.name);
    // Never mid-turn: both model calls of the first turn saw the same tools.
    expect(names(requests[0])).toEqual(names(requests[1]));
    expect(names(requests[0])).not.toContain("mcp__fault__added");
    expect(names(requests[2])).toContain("mcp__fault__added");
    // Nothing changed between the second and third turns: the very same spec objects.
    expect(requests[4]?.tools).toEqual(requests[3]?.tools);
    expect(requests[4]?.tools.every((t, i) => t === requests[3]?.tools[i])).toBe(true);
    await engine.close();
  });

  it("a lazy server first used by a direct call still gives the next turn its tools", async () => {
    const m = await open({ startup: "lazy" });
    expect(m.tools()).toEqual([]);
    const direct = await m.call("fault", "ok", { text: "direct" });
    expect(direct.content).toEqual([{ type: "text", text: "ok: direct" }]);
    const { engine, requests } = await engineOn(m, [
      { toolCalls: [{ id: "c1", name: "mcp__fault__ok", arguments: { text: "turn" } }] },
      { text: "done" },
    ]);
    const events = await driveTurn(engine, "use it", () => undefined);
    expect(toolTypes(events)).toEqual([
      "turn_started",
      "tool_call_started mcp__fault__ok c1",
      "tool_call_completed mcp__fault__ok c1 ok",
      "turn_completed",
    ]);
    expect(outputs(requests[1] as ModelRequest)).toEqual(["ok: turn"]);
    await engine.close();
  });

  it("a server that never starts is data: status failed with its stderr, the turn runs without it", async () => {
    const m = await open({}, { FAULT_STARTUP: "exit" });
    const state = m.status()[0];
    expect(state?.state.status).toBe("failed");
    expect((state?.state as { error?: string } | undefined)?.error).toContain("refusing to start");
    expect(m.tools()).toEqual([]);
    const { engine } = await engineOn(m, [{ text: "fine without it" }]);
    const events = await driveTurn(engine, "hi", () => undefined);
    expect(toolTypes(events)).toEqual(["turn_started", "mcp_server_failed", "turn_completed"]);
    await engine.close();
  });
});
