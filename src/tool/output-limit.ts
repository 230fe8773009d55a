import { isPromiseLike } from "../promise-like.ts";
import { toolOutputText } from "../protocol/index.ts";
import type { ArtifactStore } from "./artifacts.ts";
import type { Tool, ToolContext } from "./define.ts";
import { normalizeResult } from "./result.ts";
import { truncateMiddle } from "./truncate.ts";

/**
 * Default cap on a tool output sent to the model, in characters (about 2,500 tokens): big
 * enough for most outputs whole, small enough that a long session stays cheap; the rest is
 * one `read_artifact` call away. See docs/decisions/0801-default-output-cap.md.
 */
export const DEFAULT_MAX_TOOL_OUTPUT_CHARS = 10_000;

/** Options for `limitOutput`. */
export interface OutputLimit {
  /** Largest text output sent to the model, in characters. */
  readonly maxChars: number;
  /** Where the full output goes. Default: the engine's store (`ctx.artifacts`); with neither, the middle is simply dropped. */
  readonly store?: ArtifactStore | undefined;
  /** Name of the tool that reads artifacts back (mentioned in the note). Default `read_artifact`. */
  readonly readTool?: string;
}

/**
 * Wraps a tool so that a text output longer than `maxChars` is cut to its head and tail,
 * with the full text saved as an artifact the model can read back (the note in the middle
 * names the artifact id and the tool). Image outputs pass through unchanged. Everything
 * else about the tool (name, schema, flags, permission identity) is kept.
 */
export function limitOutput<I>(tool: Tool<I>, limit: OutputLimit): Tool<I> {
  const readTool = limit.readTool ?? "read_artifact";
  const cap = async (full: string, isError: boolean, ctx: ToolContext) => {
    const store = limit.store ?? ctx.artifacts;
    const saved = store
      ? await store.save(ctx.threadId, full, { tool: tool.name, callId: ctx.callId }).catch(() => undefined)
      : undefined;
    const truncated = truncateMiddle(full, limit.maxChars, (chars, lines) =>
      saved
        ? `\n[... ${chars} characters (${lines} lines) omitted. The full output (${saved.lines} lines) is artifact ${saved.id}: call ${readTool} with {"id": "${saved.id}", "offset": <line>} to read any part of it ...]\n`
        : `\n[... ${chars} characters (${lines} lines) omitted ...]\n`,
    );
    return { output: truncated.text, isError };
  };
  const check = (value: unknown, ctx: ToolContext) => {
    const result = normalizeResult(value);
    if (typeof result.output !== "string" || result.output.length <= limit.maxChars) return result;
    return cap(toolOutputText(result.output), result.isError, ctx);
  };
  return markOutputManaged({
    ...tool,
    // Synchronous tools stay synchronous: only a long output waits (for the artifact store).
    execute(input: I, ctx: ToolContext) {
      const value = tool.execute(input, ctx);
      return isPromiseLike(value) ? Promise.resolve(value).then((v) => check(v, ctx)) : check(value, ctx);
    },
  });
}

const managed = new WeakSet<object>();

/**
 * Marks a tool whose output size is already handled (limited, or short by nature), so the
 * engine does not wrap it in another limit. Returns the tool.
 */
export function markOutputManaged<T extends object>(tool: T): T {
  managed.add(tool);
  return tool;
}

/** True when `markOutputManaged` (or `limitOutput`) produced this tool. */
export function isOutputManaged(tool: object): boolean {
  return managed.has(tool);
}
