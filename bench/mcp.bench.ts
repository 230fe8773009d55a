// MCP client overhead: the same tool call on the bare SDK client and through Taifeng's MCP
// layer, against the same stdio server script; listing 100 tools; prefix stability.
// Run: npm run bench -- mcp
import { loadavg } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { z } from "zod";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { parseMcpServers } from "../src/mcp/config.ts";
import { McpManager } from "../src/mcp/manager.ts";
import { defineTool, type Tool, type ToolContext } from "../src/tool/define.ts";
import { percentile, round, writeResult } from "./lib.ts";

const SERVER = join(import.meta.dirname, "..", "test", "fixtures", "mcp", "fault-server.ts");
const ROUNDS = Number(process.env.MCP_BENCH_ROUNDS ?? 1500);
const WARMUP = 200;

const bare = new Client({ name: "bench", version: "1" });
await bare.connect(new StdioClientTransport({ command: process.execPath, args: [SERVER], stderr: "ignore" }));
const mcp = await McpManager.open({
  servers: parseMcpServers(
    { b: { command: process.execPath, args: [SERVER], env: { FAULT_TOOLS: "100" } } },
    "bench",
  ),
});
const tool = mcp.tools().find((t) => t.name === "mcp__b__ok") as Tool;
const ctx: ToolContext = {
  signal: new AbortController().signal,
  threadId: "t",
  turnId: "u",
  callId: "c",
  cwd: "/tmp",
  progress: () => {},
};

// 1. The same call, bare SDK client vs Taifeng's tool, interleaved so drift hits both alike.
const bareMs: number[] = [];
const taifengMs: number[] = [];
// CPU time of this process (the client side; the server is a child) per kind of call: less
// sensitive than wall time to other processes on a loaded machine.
let bareCpu = 0;
let taifengCpu = 0;
const loadBefore = loadavg()[0] as number;
for (let i = 0; i < WARMUP + ROUNDS; i++) {
  const cpuA = process.cpuUsage();
  const a = performance.now();
  const r1 = await bare.callTool({ name: "ok", arguments: { text: "x" } });
  const b = performance.now();
  const cpuB = process.cpuUsage();
  const r2 = (await tool.execute({ text: "x" }, ctx)) as { output: string };
  const c = performance.now();
  const cpuC = process.cpuUsage();
  if (i >= WARMUP) {
    bareCpu += cpuB.user + cpuB.system - cpuA.user - cpuA.system;
    taifengCpu += cpuC.user + cpuC.system - cpuB.user - cpuB.system;
  }
  if ((r1.content[0] as { text: string }).text !== "ok: x" || r2.output !== "ok: x")
    throw new Error("bad answer");
  if (i >= WARMUP) {
    bareMs.push(b - a);
    taifengMs.push(c - b);
  }
}

// 2. Whole engine turns (model step, call, model step) with the MCP tool vs an in-process tool.
const local = defineTool({
  name: "mcp__b__ok",
  description: "local twin",
  schema: z.object({ text: z.string() }),
  execute: ({ text }) => `ok: ${text}`,
});
async function turns(tools: Tool[], n: number): Promise<number[]> {
  const model = new SimClient({
    script: {
      steps: [{ toolCalls: [{ name: "mcp__b__ok", arguments: { text: "x" } }] }, { text: "done" }],
      onExhausted: "repeat_last",
    },
  });
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const engine = await AgentEngine.open({ model, tools, context: false });
    const start = performance.now();
    const id = engine.submit("go");
    for await (const ev of engine.subscribe(id))
      if (ev.msg.type === "turn_failed") throw new Error("turn failed");
    out.push(performance.now() - start);
    await engine.close();
    model.release(engine.threadId);
  }
  return out;
}
await turns([tool], 50);
await turns([local], 50);
const turnMcp: number[] = [];
const turnLocal: number[] = [];
for (let i = 0; i < 10; i++) {
  turnMcp.push(...(await turns([tool], 30)));
  turnLocal.push(...(await turns([local], 30)));
}

// 3. Listing 100 tools (one tools/list walk, definitions mapped to Taifeng tools).
const conn = mcp.servers.get("b");
if (!conn) throw new Error("no connection");
const listMs: number[] = [];
for (let i = 0; i < 50; i++) {
  const start = performance.now();
  const listing = await conn.listTools();
  listMs.push(performance.now() - start);
  if (listing.tools.length < 100) throw new Error("expected 100+ tools");
}

// 4. A forced re-list that finds nothing new keeps the very same tool specs (prefix bytes).
const prepare = mcp.engineOptions().prepareTurn;
const base = {
  system: "",
  model: new SimClient({ script: [{ text: "x" }] }),
  cwd: "/tmp",
  gate: undefined,
  resolveModel: undefined,
  signal: new AbortController().signal,
  emit: () => {},
};
const { ToolSet } = await import("../src/tool/define.ts");
const empty = new ToolSet([]);
const first = await prepare({ ...base, threadId: "t", turnId: "t1", tools: empty });
conn.markToolsStale();
const second = await prepare({ ...base, threadId: "t", turnId: "t2", tools: empty });
const identical =
  first.tools.specs.length === second.tools.specs.length &&
  first.tools.specs.every((s, i) => s === second.tools.specs[i]) &&
  JSON.stringify(first.tools.specs) === JSON.stringify(second.tools.specs);

await bare.close();
await mcp.close();

const p50 = (s: number[]) => round(percentile(s, 50), 3);
const added = round(p50(taifengMs) - p50(bareMs), 3);
writeResult(
  "mcp",
  {
    stdio_call_p50_ms: p50(bareMs),
    stdio_call_p99_ms: round(percentile(bareMs, 99), 3),
    taifeng_call_p50_ms: p50(taifengMs),
    taifeng_call_p99_ms: round(percentile(taifengMs, 99), 3),
    taifeng_added_ms_p50: added,
    engine_turn_mcp_p50_ms: p50(turnMcp),
    engine_turn_local_p50_ms: p50(turnLocal),
    list_100_tools_ms: p50(listMs),
    prefix_identical_after_relist: identical,
    target_added_ms_p50: 0.3,
    target_met: added <= 0.3,
    stdio_call_cpu_us: round(bareCpu / ROUNDS, 1),
    taifeng_call_cpu_us: round(taifengCpu / ROUNDS, 1),
    taifeng_added_cpu_us: round((taifengCpu - bareCpu) / ROUNDS, 1),
    load_average_1m_start: round(loadBefore, 2),
    load_average_1m_end: round(loadavg()[0] as number, 2),
  },
  {
    workload: `${ROUNDS} calls of the fault server's \`ok\` tool over stdio, interleaved: bare @modelcontextprotocol/client (StdioClientTransport) vs Taifeng's MCP tool (its stdio transport, connection, timeout, result mapping); 300 whole engine turns each with the MCP tool and with an in-process twin; 50 tools/list walks of 101+ tools; one forced re-list with no change`,
    note: "taifeng_added_ms_p50 = p50(Taifeng call) - p50(bare SDK call); *_cpu_us = this process's CPU time per call (user + system), taifeng_added_cpu_us their difference; load_average_1m at the start and end of the call loop. engine_turn_* time whole turns (open engine, two model steps, the call); their difference is the server round trip plus Taifeng's MCP layer.",
  },
);
