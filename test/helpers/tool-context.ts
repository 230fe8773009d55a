import type { ToolOutput } from "../../src/protocol/index.ts";
import type { Tool, ToolContext } from "../../src/tool/define.ts";
import { normalizeResult } from "../../src/tool/result.ts";

/** A ToolContext for calling a tool directly in a test. */
export function toolContext(overrides: Partial<ToolContext> & { progressLog?: unknown[] } = {}): ToolContext {
  const log = overrides.progressLog;
  return {
    signal: new AbortController().signal,
    threadId: "thread-1",
    turnId: "turn-1",
    callId: `call-${Math.random().toString(36).slice(2, 8)}`,
    cwd: process.cwd(),
    progress: (data) => log?.push(data),
    ...overrides,
  };
}

/** Validates `input` like the scheduler does, runs the tool, and returns the normalized result. */
export async function callTool(
  tool: Tool,
  input: unknown,
  ctx: ToolContext = toolContext(),
): Promise<{ output: ToolOutput; isError: boolean; text: string }> {
  const parsed = tool.parse(input);
  if (!parsed.ok) return { output: parsed.message, isError: true, text: parsed.message };
  const result = normalizeResult(await tool.execute(parsed.value, ctx));
  const text =
    typeof result.output === "string"
      ? result.output
      : result.output.map((p) => (p.type === "text" ? p.text : `[image ${p.mediaType}]`)).join("\n");
  return { ...result, text };
}

/** The tool named `name` in a list (throws when absent). */
export function toolNamed(tools: readonly Tool[], name: string): Tool {
  const tool = tools.find((t) => t.name === name);
  if (!tool) throw new Error(`no tool ${name}`);
  return tool;
}
