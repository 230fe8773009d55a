/** Tools a PrepareTurn adds get what the engine gives the host's own tools. */
import { type Tool, ToolSet } from "../tool/define.ts";
import { isOutputManaged, limitOutput } from "../tool/output-limit.ts";
import { guardTools, wrapsTools } from "./guards.ts";
import type { EngineCore } from "./process.ts";

/** Per-engine memo: the same input set (or tool) always yields the same adopted object. */
export interface AdoptCache {
  readonly sets: WeakMap<ToolSet, ToolSet>;
  readonly tools: WeakMap<Tool, Tool>;
}

/**
 * The tool set a turn runs with when a PrepareTurn built it: every tool the engine did not
 * already wrap (skill tools, MCP tools, anything added per turn) gets the engine's output cap
 * and its post_tool hooks, exactly like the tools the host passed at open. Memoized by
 * identity, so an unchanged prefix keeps byte-identical tool specs (and the prompt cache).
 */
export function adoptTools(c: EngineCore, tools: ToolSet): ToolSet {
  if (tools === c.tools) return tools;
  c.adopted ??= { sets: new WeakMap(), tools: new WeakMap() };
  const cache = c.adopted;
  const hit = cache.sets.get(tools);
  if (hit) return hit;
  let changed = false;
  const out: Tool[] = [];
  for (const tool of tools) {
    if (c.tools.get(tool.name) === tool) {
      out.push(tool);
      continue;
    }
    let wrapped = cache.tools.get(tool);
    if (!wrapped) {
      wrapped = wrap(c, tool);
      cache.tools.set(tool, wrapped);
    }
    if (wrapped !== tool) changed = true;
    out.push(wrapped);
  }
  const set = changed ? new ToolSet(out) : tools;
  cache.sets.set(tools, set);
  return set;
}

function wrap(c: EngineCore, tool: Tool): Tool {
  let out = tool;
  if (c.outputLimit !== false && !isOutputManaged(out))
    out = limitOutput(out, { maxChars: c.outputLimit }) as Tool;
  if (wrapsTools(c.guards)) out = guardTools([out], c.guards, () => c)[0] as Tool;
  return out;
}
