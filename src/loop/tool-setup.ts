import { readArtifactTool } from "../tool/builtin/read_artifact/index.ts";
import { type Tool, ToolSet } from "../tool/define.ts";
import { DEFAULT_MAX_TOOL_OUTPUT_CHARS, isOutputManaged, limitOutput } from "../tool/output-limit.ts";
import { TASK_FINISH, taskFinishTool } from "./completion.ts";

const cache = new WeakMap<object, { key: string; set: ToolSet }>();

/**
 * The tool set an engine exposes: the host's tools with every output capped at
 * `maxOutputChars` (tools that manage their own output size are left alone; the full text
 * goes to the engine's artifact store, `ctx.artifacts`), plus `read_artifact` so a cut output
 * can always be read back, plus `task_finish` under tool-driven completion. The result is
 * cached per input tool list, so a pool of engines shares one set.
 */
export function engineTools(options: {
  readonly tools?: Iterable<Tool> | undefined;
  readonly completion?: "natural" | "task_finish" | undefined;
  readonly maxToolOutputChars?: number | false | undefined;
}): ToolSet {
  const limit = options.maxToolOutputChars ?? DEFAULT_MAX_TOOL_OUTPUT_CHARS;
  const key = `${limit}:${options.completion ?? "natural"}`;
  const source = options.tools as object | undefined;
  const hit = source ? cache.get(source) : undefined;
  if (hit?.key === key) return hit.set;
  const given = [...(options.tools ?? [])];
  const has = (name: string) => given.some((t) => t.name === name);
  const tools: Tool[] =
    limit === false
      ? given
      : given.map((t) => (isOutputManaged(t) ? t : (limitOutput(t, { maxChars: limit }) as Tool)));
  if (limit !== false && given.length > 0 && !has("read_artifact")) {
    tools.push(readArtifactTool({ artifacts: undefined, options: { maxOutputChars: limit } }) as Tool);
  }
  if (options.completion === "task_finish" && !has(TASK_FINISH)) tools.push(taskFinishTool() as Tool);
  const set = new ToolSet(tools);
  if (source) cache.set(source, { key, set });
  return set;
}
