import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import type { Event, FunctionCallOutputItem, ToolOutput } from "../src/protocol/index.ts";
import { toolOutputText } from "../src/protocol/index.ts";
import { builtinTools } from "../src/tool/builtin/index.ts";
import { defineTool, type Tool } from "../src/tool/define.ts";
import { shape } from "./helpers/events.ts";

// The output cap holds for every output shape and every way a tool reaches the engine, and a
// stopped call keeps the write lock until it has really ended. Whole event sequences.

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "taifeng-tool-limits-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const MB_TEXT = Array.from({ length: 20_000 }, (_, i) => `row ${i + 1}: ${"x".repeat(50)}`).join("\n");
/** Where the text is split into two parts (a line end: the parts join back with a newline). */
const SPLIT = MB_TEXT.indexOf("\n", 600_000);
const PNG = { type: "image" as const, mediaType: "image/png", data: "iVBORw0KGgo=" };

function lastOutput(request: ModelRequest): ToolOutput {
  const outputs = request.items.filter((i): i is FunctionCallOutputItem => i.type === "function_call_output");
  return outputs.at(-1)?.output ?? "";
}

/** Runs one turn: the model calls `name` once, then reads the artifact its note names, then answers. */
async function capTurn(tools: Tool[], name: string, engineOptions: object = {}, offset = 10_000) {
  const seen: ToolOutput[] = [];
  const model = new SimClient({
    script: [
      { toolCalls: [{ id: "c1", name, arguments: {} }] },
      (req: ModelRequest) => {
        seen.push(lastOutput(req));
        const id = /artifact (art_\w+)/.exec(toolOutputText(lastOutput(req)))?.[1] ?? "none";
        return {
          toolCalls: [{ id: "c2", name: "read_artifact", arguments: { id, offset, limit: 2 } }],
        };
      },
      (req: ModelRequest) => {
        seen.push(lastOutput(req));
        return { text: "done" };
      },
    ],
  });
  // Tools start after the stream ends, so the event order is fixed.
  const engine = await AgentEngine.open({ model, tools, startToolsDuringStream: false, ...engineOptions });
  const events = await engine.submitAndWait("go");
  await engine.close();
  return { events, seen };
}

function expectCapped(output: ToolOutput): void {
  expect(toolOutputText(output).length).toBeLessThanOrEqual(10_000);
  expect(toolOutputText(output)).toMatch(/^row 1: /);
  expect(toolOutputText(output)).toMatch(/omitted\. The full output \(20000 lines\) is artifact art_\w+/);
}

const CAP_SEQUENCE = (name: string) => [
  "turn_started",
  'user_message input "go"',
  "model_call_started 1",
  `tool_call_started ${name} c1`,
  "model_call_completed 1 tool_calls",
  `tool_call_completed ${name} c1 ok`,
  "model_call_started 2",
  "tool_call_started read_artifact c2",
  "model_call_completed 2 tool_calls",
  "tool_call_completed read_artifact c2 ok",
  "model_call_started 3",
  'assistant_text "done"',
  'assistant_message "done"',
  "model_call_completed 3 stop",
  "turn_completed",
];

describe("the output cap covers every shape", () => {
  it("cuts content parts (1.1 MB of text around an image) and keeps the full text as an artifact", async () => {
    const parts = defineTool({
      name: "parts",
      description: "Returns content parts.",
      schema: z.object({}),
      execute: async () => ({
        output: [
          { type: "text" as const, text: MB_TEXT.slice(0, SPLIT) },
          PNG,
          { type: "text" as const, text: MB_TEXT.slice(SPLIT + 1) },
        ],
        isError: false,
      }),
    });
    const { events, seen } = await capTurn([parts], "parts");
    expect(shape(events)).toEqual(CAP_SEQUENCE("parts"));
    const [cut, readBack] = seen as [ToolOutput, ToolOutput];
    // The image part is kept; the text parts became one cut text part.
    expect(Array.isArray(cut) && cut.map((p) => p.type)).toEqual(["text", "image"]);
    expectCapped(cut);
    expect(toolOutputText(readBack)).toContain("row 10000: ");
    // The event (and so the transcript) carries the cut output too.
    const completed = events.find((e) => e.msg.type === "tool_call_completed" && e.msg.callId === "c1");
    expect(
      completed?.msg.type === "tool_call_completed" && toolOutputText(completed.msg.output).length,
    ).toBeLessThanOrEqual(10_000);
  });

  it("cuts a structured value, sent as JSON text", async () => {
    const rows = defineTool({
      name: "rows",
      description: "Returns rows.",
      schema: z.object({}),
      execute: () => MB_TEXT.split("\n"),
    });
    const { events, seen } = await capTurn([rows], "rows", {}, 1);
    expect(shape(events)).toEqual(CAP_SEQUENCE("rows"));
    expect(toolOutputText(seen[0] as ToolOutput).length).toBeLessThanOrEqual(10_000);
    expect(toolOutputText(seen[0] as ToolOutput)).toMatch(/^\["row 1: x+","row 2: /);
  });

  it("cuts the output of a tool a prepareTurn adds, which never went through the engine's tool list", async () => {
    const late = defineTool({
      name: "late",
      description: "Added per turn.",
      schema: z.object({}),
      execute: async () => MB_TEXT,
    });
    const { events, seen } = await capTurn([], "late", {
      prepareTurn: ({ system, tools }: { system: string; tools: Iterable<Tool> }) => {
        const all = [...tools, late];
        return { system, tools: new (tools.constructor as new (t: Tool[]) => Iterable<Tool>)(all) };
      },
      tools: builtinTools({ only: ["read_artifact"] }).tools,
    });
    expect(shape(events)).toEqual(CAP_SEQUENCE("late"));
    expectCapped(seen[0] as ToolOutput);
  });

  it("cuts the message of a tool that throws a huge error", async () => {
    const thrower = defineTool({
      name: "thrower",
      description: "Fails loudly.",
      schema: z.object({}),
      execute: async () => {
        throw new Error(MB_TEXT);
      },
    });
    const { events, seen } = await capTurn([thrower], "thrower");
    expect(shape(events)).toEqual(
      CAP_SEQUENCE("thrower").map((l) => l.replace("thrower c1 ok", "thrower c1 error")),
    );
    const text = toolOutputText(seen[0] as ToolOutput);
    expect(text.length).toBeLessThanOrEqual(10_000);
    expect(text).toMatch(/^Tool thrower failed: row 1: /);
  });
});

describe("a stopped exclusive call keeps the write lock until it has ended", () => {
  it("holds the next step's exclusive call until a timed-out call that ignores its signal settles", async () => {
    const order: string[] = [];
    const stubborn = defineTool({
      name: "stubborn",
      description: "Ignores cancellation.",
      schema: z.object({}),
      timeoutMs: 50,
      execute: () =>
        new Promise<string>((resolve) =>
          setTimeout(() => {
            order.push("stubborn ended");
            resolve("late");
          }, 400),
        ),
    });
    const next = defineTool({
      name: "next",
      description: "Writes.",
      schema: z.object({}),
      execute: () => {
        order.push("next started");
        return "ok";
      },
    });
    const model = new SimClient({
      script: [
        { toolCalls: [{ id: "s", name: "stubborn", arguments: {} }] },
        { toolCalls: [{ id: "n", name: "next", arguments: {} }] },
        { text: "done" },
      ],
    });
    const engine = await AgentEngine.open({ model, tools: [stubborn, next] });
    const events = await engine.submitAndWait("go");
    await engine.close();
    expect(shape(events)).toEqual([
      "turn_started",
      'user_message input "go"',
      "model_call_started 1",
      "tool_call_started stubborn s",
      "model_call_completed 1 tool_calls",
      "tool_call_completed stubborn s timeout",
      "model_call_started 2",
      "tool_call_started next n",
      "model_call_completed 2 tool_calls",
      "tool_call_completed next n ok",
      "model_call_started 3",
      'assistant_text "done"',
      'assistant_message "done"',
      "model_call_completed 3 stop",
      "turn_completed",
    ]);
    expect(order).toEqual(["stubborn ended", "next started"]);
  });

  it("holds the next turn's bash command until an interrupted one's process group is dead", async () => {
    const workspace = await mkdtemp(join(dir, "ws-"));
    const tools = builtinTools({});
    const model = new SimClient({
      script: [
        // Ignores SIGTERM (the interrupt's first signal) and writes after a second.
        {
          toolCalls: [
            {
              id: "b1",
              name: "bash",
              arguments: { command: "trap '' TERM; touch started; sleep 1; echo first >> order.txt" },
            },
          ],
        },
        { toolCalls: [{ id: "b2", name: "bash", arguments: { command: "echo second >> order.txt" } }] },
        { text: "done" },
      ],
    });
    const engine = await AgentEngine.open({ model, tools: tools.tools, cwd: workspace });
    const events: Event[] = [];
    engine.on((e) => {
      events.push(e);
      // Interrupt once the command runs (command defense may still be loading its parser).
      if (e.msg.type === "tool_call_started" && e.msg.callId === "b1") {
        const poll = setInterval(() => {
          if (!existsSync(join(workspace, "started"))) return;
          clearInterval(poll);
          engine.submit({ type: "interrupt", reason: "test" });
        }, 10);
      }
    });
    await engine.submitAndWait("first");
    await engine.submitAndWait("second");
    await engine.close();
    await tools.close();
    expect(shape(events).filter((l) => l.startsWith("tool_call_completed") || l.startsWith("turn_"))).toEqual(
      [
        "turn_started",
        "tool_call_completed bash b1 aborted",
        "turn_aborted interrupt",
        "turn_started",
        "tool_call_completed bash b2 ok",
        "turn_completed",
      ],
    );
    expect(await readFile(join(workspace, "order.txt"), "utf8")).toBe("first\nsecond\n");
  });
});
