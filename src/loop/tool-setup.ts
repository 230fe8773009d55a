import { isTool, type LangChainToolLike, toTools } from "../interop/foreign.ts";
import type { ResponseFormat } from "../llm/types.ts";
import { readArtifactTool } from "../tool/builtin/read_artifact/index.ts";
import { type Tool, ToolSet } from "../tool/define.ts";
import { DEFAULT_MAX_TOOL_OUTPUT_CHARS, isOutputManaged, limitOutput } from "../tool/output-limit.ts";
import { TASK_FINISH, taskFinishTool } from "./completion.ts";

interface CachedSet {
  readonly limit: number | false;
  readonly completion: string;
  readonly tools: readonly Tool[];
  readonly set: ToolSet;
}
// Keyed by the first tool, then matched on every tool's identity: hosts often pass a fresh
// array of the same tool objects to every engine.
const cache = new WeakMap<object, CachedSet[]>();

function sameTools(a: readonly Tool[], b: readonly Tool[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
// The engine's own tools are stateless (read_artifact reads ctx.artifacts), so one instance
// per output cap serves every engine; building one derives a JSON Schema, which is not free.
const readers = new Map<number, Tool>();
let finisher: Tool | undefined;

function reader(limit: number): Tool {
  let tool = readers.get(limit);
  if (!tool) {
    tool = readArtifactTool({ artifacts: undefined, options: { maxOutputChars: limit } }) as Tool;
    readers.set(limit, tool);
  }
  return tool;
}

/**
 * The tool set an engine exposes: the host's tools with every output capped at
 * `maxOutputChars` (tools that manage their own output size are left alone; the full text
 * goes to the engine's artifact store, `ctx.artifacts`), plus `read_artifact` so a cut output
 * can always be read back, plus `task_finish` under tool-driven completion. The result is
 * cached by the identity of the given tools, so engines built from the same tools share one set.
 */
export function engineTools(options: {
  readonly tools?: Iterable<Tool | LangChainToolLike> | undefined;
  readonly completion?: "natural" | "task_finish" | undefined;
  readonly maxToolOutputChars?: number | false | undefined;
  /** The output schema, described to the model on task_finish. */
  readonly finishFormat?: ResponseFormat | undefined;
}): ToolSet {
  const limit = options.maxToolOutputChars ?? DEFAULT_MAX_TOOL_OUTPUT_CHARS;
  const format = options.completion === "task_finish" ? options.finishFormat : undefined;
  // The finisher's description depends on the schema: it is part of the cache key.
  const completion = format ? `task_finish ${JSON.stringify(format)}` : (options.completion ?? "natural");
  const listed = Array.isArray(options.tools)
    ? (options.tools as (Tool | LangChainToolLike)[])
    : [...(options.tools ?? [])];
  // Foreign tools are adapted once per object (toTools keeps one adapter per tool).
  const given = listed.every(isTool) ? (listed as Tool[]) : toTools(listed);
  const first = given[0] as object | undefined;
  const bucket = first ? cache.get(first) : undefined;
  if (bucket) {
    for (const c of bucket)
      if (c.limit === limit && c.completion === completion && sameTools(c.tools, given)) return c.set;
  }
  const has = (name: string) => given.some((t) => t.name === name);
  const tools: Tool[] =
    limit === false
      ? given.slice()
      : given.map((t) => (isOutputManaged(t) ? t : (limitOutput(t, { maxChars: limit }) as Tool)));
  if (limit !== false && given.length > 0 && !has("read_artifact")) {
    tools.push(reader(limit));
  }
  if (options.completion === "task_finish" && !has(TASK_FINISH)) {
    if (format) tools.push(taskFinishTool(format) as Tool);
    else {
      finisher ??= taskFinishTool() as Tool;
      tools.push(finisher);
    }
  }
  const set = new ToolSet(tools);
  if (first) {
    const entries = bucket ?? [];
    // A copy: the host may reuse and change the array it passed.
    entries.push({ limit, completion, tools: given.slice(), set });
    if (entries.length > 16) entries.shift();
    if (!bucket) cache.set(first, entries);
  }
  return set;
}
