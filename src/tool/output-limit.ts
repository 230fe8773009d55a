import { toolOutputText } from "../protocol/index.ts";
import type { ArtifactStore } from "./artifacts.ts";
import type { Tool, ToolContext } from "./define.ts";
import { normalizeResult } from "./result.ts";
import { truncateMiddle } from "./truncate.ts";

/** Options for `limitOutput`. */
export interface OutputLimit {
  /** Largest text output sent to the model, in characters. */
  readonly maxChars: number;
  /** Where the full output goes; without one the middle is simply dropped. */
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
  return {
    ...tool,
    async execute(input: I, ctx: ToolContext) {
      const result = normalizeResult(await tool.execute(input, ctx));
      if (typeof result.output !== "string" || result.output.length <= limit.maxChars) return result;
      const full = toolOutputText(result.output);
      const saved = limit.store
        ? await limit.store
            .save(ctx.threadId, full, { tool: tool.name, callId: ctx.callId })
            .catch(() => undefined)
        : undefined;
      const truncated = truncateMiddle(full, limit.maxChars, (chars, lines) =>
        saved
          ? `\n[... ${chars} characters (${lines} lines) omitted. The full output (${saved.lines} lines) is artifact ${saved.id}: call ${readTool} with {"id": "${saved.id}", "offset": <line>} to read any part of it ...]\n`
          : `\n[... ${chars} characters (${lines} lines) omitted ...]\n`,
      );
      return { output: truncated.text, isError: result.isError };
    },
  };
}
