import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SimStepFn, SimStepInput } from "../src/llm/sim/script.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { McpManager } from "../src/mcp/manager.ts";
import { type FunctionCallOutputItem, toolOutputText } from "../src/protocol/index.ts";
import { shape } from "./helpers/events.ts";
import { driveTurn } from "./helpers/hitl.ts";
import { entries, nodeServer, serverScript } from "./helpers/mcp.ts";

// The official filesystem and memory reference servers (stdio), called through the engine on
// SimClient turns: the transcript holds what the real servers answered.

let dir: string;
let mcp: McpManager;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-mcp-ref-"));
  await writeFile(join(dir, "notes.txt"), "the tide turns at six\n");
  mcp = await McpManager.open({
    servers: entries({
      files: nodeServer(serverScript("server-filesystem"), [dir]),
      memory: nodeServer(serverScript("server-memory"), [], {
        env: { MEMORY_FILE_PATH: join(dir, "memory.jsonl") },
      }),
    }),
  });
}, 60_000);

afterAll(async () => {
  await mcp?.close();
  await rm(dir, { recursive: true, force: true });
});

/** A turn that makes `calls` (one step each) and ends; returns the outputs the model saw. */
async function turn(calls: { name: string; arguments: Record<string, unknown> }[]) {
  const seen: string[] = [];
  const script: (SimStepInput | SimStepFn)[] = [
    ...calls.map((c, i): SimStepInput | SimStepFn => (req) => {
      if (i > 0) seen.push(lastOutput(req.items));
      return { toolCalls: [{ id: `c${i + 1}`, ...c }] };
    }),
    (req) => {
      seen.push(lastOutput(req.items));
      return { text: "done" };
    },
  ];
  const engine = await AgentEngine.open({
    model: new SimClient({ script }),
    cwd: dir,
    ...mcp.engineOptions(),
    permissions: { rules: { allow: ["mcp__files", "mcp__memory"] } },
  });
  try {
    const events = await driveTurn(engine, "go", () => undefined);
    return { seen, lines: shape(events).filter((l) => l.startsWith("tool_call_completed")) };
  } finally {
    await engine.close();
  }
}

function lastOutput(items: readonly { type: string }[]): string {
  const last = items.at(-1) as FunctionCallOutputItem | undefined;
  return last?.type === "function_call_output" ? toolOutputText(last.output) : "";
}

describe("reference servers through the engine", () => {
  it("server-filesystem: reads a file, writes one, lists the folder (real effects on disk)", async () => {
    const { seen, lines } = await turn([
      { name: "mcp__files__read_text_file", arguments: { path: join(dir, "notes.txt") } },
      {
        name: "mcp__files__write_file",
        arguments: { path: join(dir, "out.txt"), content: "written over MCP" },
      },
      { name: "mcp__files__list_directory", arguments: { path: dir } },
    ]);
    expect(lines).toEqual([
      "tool_call_completed mcp__files__read_text_file c1 ok",
      "tool_call_completed mcp__files__write_file c2 ok",
      "tool_call_completed mcp__files__list_directory c3 ok",
    ]);
    expect(seen[0]).toContain("the tide turns at six");
    expect(await readFile(join(dir, "out.txt"), "utf8")).toBe("written over MCP");
    expect(seen[2]).toContain("[FILE] out.txt");
    expect(seen[2]).toContain("[FILE] notes.txt");
  }, 60_000);

  it("server-filesystem refuses a path outside its allowed folder; the model reads the refusal", async () => {
    const { seen, lines } = await turn([
      { name: "mcp__files__read_text_file", arguments: { path: "/etc/hostname" } },
    ]);
    expect(lines).toEqual(["tool_call_completed mcp__files__read_text_file c1 error"]);
    expect(seen[0]).toMatch(/Access denied|outside allowed directories/i);
  }, 60_000);

  it("server-memory: entities created in one turn are read back in the next", async () => {
    await turn([
      {
        name: "mcp__memory__create_entities",
        arguments: {
          entities: [{ name: "Grace", entityType: "person", observations: ["wrote a compiler"] }],
        },
      },
    ]);
    const { seen, lines } = await turn([{ name: "mcp__memory__read_graph", arguments: {} }]);
    expect(lines).toEqual(["tool_call_completed mcp__memory__read_graph c1 ok"]);
    expect(seen[0]).toContain("Grace");
    expect(seen[0]).toContain("wrote a compiler");
    expect(await readFile(join(dir, "memory.jsonl"), "utf8")).toContain('"name":"Grace"');
  }, 60_000);
});
