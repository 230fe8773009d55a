import { tool as lcTool } from "@langchain/core/tools";
import { tool as aiTool, jsonSchema } from "ai";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { SimClient } from "../llm/sim/sim-client.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { Event, EventMsgOf } from "../protocol/index.ts";
import { defineTool } from "../tool/define.ts";
import { fromAiSdkTools, isLangChainTool, toTools } from "./foreign.ts";

const outputs = (events: readonly Event[]) =>
  events
    .filter((e) => e.msg.type === "tool_call_completed")
    .map((e) => e.msg as EventMsgOf<"tool_call_completed">)
    .map((m) => `${m.name} ${m.status} ${String(m.output)}`);

describe("Vercel AI SDK tools (the real `ai` package)", () => {
  it("runs zod and jsonSchema() tools in an engine, with the SDK's own validation", async () => {
    const seen: unknown[] = [];
    const weather = aiTool({
      description: "Weather for a city.",
      inputSchema: z.object({ city: z.string(), unit: z.enum(["C", "F"]).default("C") }),
      execute: async ({ city, unit }, { toolCallId, abortSignal }) => {
        seen.push([toolCallId, abortSignal instanceof AbortSignal]);
        return { city, temp: unit === "C" ? 21 : 70 };
      },
    });
    const add = aiTool({
      description: "Adds.",
      inputSchema: jsonSchema<{ a: number; b: number }>({
        type: "object",
        properties: { a: { type: "number" }, b: { type: "number" } },
        required: ["a", "b"],
      }),
      execute: async ({ a, b }) => a + b,
    });
    const tools = toTools({ weather, add });
    expect(tools.map((t) => [t.name, t.readOnly])).toEqual([
      ["weather", false],
      ["add", false],
    ]);
    expect(tools[0]?.parameters).toMatchObject({ type: "object", required: ["city"] });
    const sim = new SimClient({
      name: "ai",
      script: [
        {
          toolCalls: [
            { id: "w", name: "weather", arguments: { city: "Oslo" } },
            { id: "x", name: "add", arguments: { a: 1, b: 2 } },
            { id: "y", name: "add", arguments: { a: "one" } },
          ],
        },
        { text: "done" },
      ],
    });
    const events: Event[] = [];
    const engine = await AgentEngine.open({
      model: sim,
      tools,
      listeners: [(e) => events.push(e)],
      context: false,
    });
    await engine.submitAndWait("go");
    await engine.close();
    expect(outputs(events).sort()).toEqual([
      "add invalid_input Invalid input for tool add:\n- a: Invalid input: expected number, received string\n- b: Invalid input: expected number, received undefined\nFix the arguments and call the tool again.",
      "add ok 3",
      'weather ok {"city":"Oslo","temp":21}',
    ]);
    expect(seen).toEqual([["w", true]]);
  });

  it("refuses what cannot run here, with the tool's name", () => {
    const clientSide = aiTool({ description: "Asks the browser.", inputSchema: z.object({}) });
    expect(() => fromAiSdkTools({ confirm: clientSide })).toThrow(
      /AI SDK tool "confirm" has no execute function/,
    );
    expect(() => toTools([{ description: "x", inputSchema: z.object({}), execute: () => 1 }])).toThrow(
      /tools\[0\] is an AI SDK tool without a name: pass AI SDK tools as a record/,
    );
    expect(() => toTools([42])).toThrow(/tools\[0\] is not a tool/);
  });
});

describe("LangChain.js tools (the real @langchain/core package)", () => {
  it("accepts tool() objects directly in the engine's tools, next to Taifeng tools", async () => {
    const multiply = lcTool(async ({ a, b }: { a: number; b: number }) => String(a * b), {
      name: "multiply",
      description: "Multiplies two numbers.",
      schema: z.object({ a: z.number(), b: z.number() }),
    });
    expect(isLangChainTool(multiply)).toBe(true);
    const echo = defineTool({
      name: "echo",
      description: "Echo.",
      schema: z.object({ v: z.string() }),
      execute: ({ v }) => v,
    });
    const sim = new SimClient({
      name: "lc",
      script: [
        {
          toolCalls: [
            { id: "m", name: "multiply", arguments: { a: 6, b: 7 } },
            { id: "e", name: "echo", arguments: { v: "hi" } },
          ],
        },
        { text: "42" },
      ],
    });
    const events: Event[] = [];
    const engine = await AgentEngine.open({
      model: sim,
      tools: [multiply, echo],
      listeners: [(e) => events.push(e)],
      context: false,
    });
    await engine.submitAndWait("6 times 7?");
    await engine.close();
    expect(outputs(events)).toEqual(["multiply ok 42", "echo ok hi"]);
    // The same LangChain object keeps one adapter (the engines' tool-set cache relies on it).
    expect(toTools([multiply])[0]).toBe(toTools([multiply])[0]);
  });
});
