import { describe, expect, it } from "vitest";
import { z } from "zod";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { toolOutputText } from "../src/protocol/index.ts";
import { defineTool } from "../src/tool/define.ts";

const lines = Array.from({ length: 5000 }, (_, i) => `line ${i + 1}: ${"data ".repeat(8)}`).join("\n");
const dump = defineTool({
  name: "dump",
  description: "Prints a long log.",
  schema: z.object({}),
  readOnly: true,
  execute: () => lines,
});

describe("engine-wide tool output cap", () => {
  it("cuts any tool's long output to head and tail, and the model can read the rest back", async () => {
    let artifactId = "";
    const seen: string[] = [];
    const model = new SimClient({
      script: [
        { toolCalls: [{ name: "dump", arguments: {} }] },
        (req: ModelRequest) => {
          const out = req.items.at(-1);
          const text = out?.type === "function_call_output" ? toolOutputText(out.output) : "";
          seen.push(text);
          artifactId = /artifact (art_\w+)/.exec(text)?.[1] ?? "";
          return {
            toolCalls: [{ name: "read_artifact", arguments: { id: artifactId, offset: 4000, limit: 2 } }],
          };
        },
        (req: ModelRequest) => {
          const out = req.items.at(-1);
          seen.push(out?.type === "function_call_output" ? toolOutputText(out.output) : "");
          return { text: "done" };
        },
      ],
    });
    const engine = await AgentEngine.open({ model, tools: [dump], maxToolOutputChars: 10_000 });
    const events = await engine.submitAndWait("show me the log");
    expect(events.at(-1)?.msg).toMatchObject({ type: "turn_completed", text: "done" });
    const [cut, readBack] = seen as [string, string];
    expect(cut.length).toBeLessThan(10_500);
    expect(cut.startsWith("line 1: ")).toBe(true);
    expect(cut.trimEnd().endsWith(`line 5000: ${"data ".repeat(8)}`.trimEnd())).toBe(true);
    expect(cut).toMatch(/omitted\. The full output \(5000 lines\) is artifact art_\w+: call read_artifact/);
    expect(readBack).toContain("line 4000: ");
    expect(readBack).toContain("line 4001: ");
    expect(readBack).not.toContain("line 4002: ");
  });

  it("can be turned off, and adds no read_artifact tool then", async () => {
    const names: string[][] = [];
    const model = new SimClient({
      script: [
        (req: ModelRequest) => {
          names.push(req.tools.map((t) => t.name));
          return { toolCalls: [{ name: "dump", arguments: {} }] };
        },
        (req: ModelRequest) => {
          const out = req.items.at(-1);
          names.push([String(out?.type === "function_call_output" && toolOutputText(out.output).length)]);
          return { text: "ok" };
        },
      ],
    });
    const engine = await AgentEngine.open({ model, tools: [dump], maxToolOutputChars: false });
    await engine.submitAndWait("x");
    expect(names).toEqual([["dump"], [String(lines.length)]]);
  });
});
