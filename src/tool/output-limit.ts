import { isPromiseLike } from "../promise-like.ts";
import type { ToolOutput } from "../protocol/index.ts";
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

/** Characters of text an output shows the model (image parts are not counted). */
export function outputTextChars(output: ToolOutput): number {
  if (typeof output === "string") return output.length;
  let chars = 0;
  for (const part of output) if (part.type === "text") chars += part.text.length;
  return chars;
}

/** Where `capOutput` keeps the full text and how it names it. */
export interface CapOptions {
  readonly maxChars: number;
  /** Where the full text goes; without one, the middle is simply dropped. */
  readonly store: ArtifactStore | undefined;
  /** The tool that reads artifacts back (named in the note). Default `read_artifact`. */
  readonly readTool?: string;
  readonly tool: string;
  readonly threadId: string;
  readonly callId: string;
}

/**
 * Cuts an output whose text is longer than `maxChars` to its head and tail, the full text
 * saved as an artifact the note in the middle names. Every shape is covered: a string, and
 * content parts, whose text parts become one cut text part where the first one was (image
 * parts stay as they are). Returns undefined when the output fits; never rejects (a store
 * that fails only loses the artifact).
 */
export async function capOutput(output: ToolOutput, options: CapOptions): Promise<ToolOutput | undefined> {
  if (outputTextChars(output) <= options.maxChars) return undefined;
  const full = typeof output === "string" ? output : textOfParts(output);
  const readTool = options.readTool ?? "read_artifact";
  const saved = options.store
    ? await options.store
        .save(options.threadId, full, { tool: options.tool, callId: options.callId })
        .catch(() => undefined)
    : undefined;
  const cut = truncateMiddle(full, options.maxChars, (chars, lines) =>
    saved
      ? `\n[... ${chars} characters (${lines} lines) omitted. The full output (${saved.lines} lines) is artifact ${saved.id}: call ${readTool} with {"id": "${saved.id}", "offset": <line>} to read any part of it ...]\n`
      : `\n[... ${chars} characters (${lines} lines) omitted ...]\n`,
  ).text;
  if (typeof output === "string") return cut;
  const parts: Exclude<ToolOutput, string>[number][] = [];
  let placed = false;
  for (const part of output) {
    if (part.type !== "text") parts.push(part);
    else if (!placed) {
      parts.push({ type: "text", text: cut });
      placed = true;
    }
  }
  return parts;
}

/** The text parts of an output, one after another (separated by a newline). */
function textOfParts(output: Exclude<ToolOutput, string>): string {
  const texts: string[] = [];
  for (const part of output) if (part.type === "text") texts.push(part.text);
  return texts.join("\n");
}

/**
 * Wraps a tool so that an output whose text is longer than `maxChars` is cut to its head and
 * tail, with the full text saved as an artifact the model can read back (the note in the
 * middle names the artifact id and the tool). Every output shape is capped: strings,
 * structured values (sent as JSON text) and content parts (their text; image parts pass
 * through). Everything else about the tool (name, schema, flags, permission identity) is
 * kept. The engine caps every other tool output the same way (see the scheduler).
 */
export function limitOutput<I>(tool: Tool<I>, limit: OutputLimit): Tool<I> {
  const check = (value: unknown, ctx: ToolContext) => {
    const result = normalizeResult(value);
    if (outputTextChars(result.output) <= limit.maxChars) return result;
    return capOutput(result.output, {
      maxChars: limit.maxChars,
      store: limit.store ?? ctx.artifacts,
      ...(limit.readTool !== undefined ? { readTool: limit.readTool } : {}),
      tool: tool.name,
      threadId: ctx.threadId,
      callId: ctx.callId,
    }).then((output) => ({ output: output ?? result.output, isError: result.isError }));
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
