import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineTool, type Tool } from "../tool/define.ts";
import { engineTools } from "./tool-setup.ts";

const tool = (name: string) =>
  defineTool({ name, description: name, schema: z.object({}), execute: () => name }) as Tool;

describe("engineTools", () => {
  it("adds read_artifact (capped outputs) and task_finish (tool-driven completion) as asked", () => {
    const a = tool("a");
    expect([...engineTools({ tools: [a] })].map((t) => t.name)).toEqual(["a", "read_artifact"]);
    expect([...engineTools({ tools: [a], maxToolOutputChars: false })].map((t) => t.name)).toEqual(["a"]);
    expect(
      [...engineTools({ tools: [a], maxToolOutputChars: false, completion: "task_finish" })].map(
        (t) => t.name,
      ),
    ).toEqual(["a", "task_finish"]);
  });

  it("shares one set between engines given the same tools, and never touches the host's array", () => {
    const a = tool("a");
    const b = tool("b");
    const hosts: Tool[] = [a, b];
    const first = engineTools({ tools: hosts, maxToolOutputChars: false, completion: "task_finish" });
    expect(hosts).toEqual([a, b]); // the engine's own task_finish went into its copy
    expect(engineTools({ tools: [a, b], maxToolOutputChars: false, completion: "task_finish" })).toBe(first);
    // Same tools under other settings, or other tools: another set.
    expect(engineTools({ tools: [a, b], completion: "task_finish" })).not.toBe(first);
    expect(engineTools({ tools: [a, b], maxToolOutputChars: false })).not.toBe(first);
    // The host changes the array it passed before: the cache is not fooled.
    hosts[1] = tool("c");
    const changed = engineTools({ tools: hosts, maxToolOutputChars: false, completion: "task_finish" });
    expect([...changed].map((t) => t.name)).toEqual(["a", "c", "task_finish"]);
    // Any iterable works, not only arrays.
    const fromSet = engineTools({
      tools: new Set([a, b]),
      maxToolOutputChars: false,
      completion: "task_finish",
    });
    expect(fromSet).toBe(first);
  });
});
