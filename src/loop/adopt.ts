/** Tools a PrepareTurn adds get the engine's tool hooks, like the host's own tools. */
import { type Tool, ToolSet } from "../tool/define.ts";
import { guardTools, wrapsTools } from "./guards.ts";
import type { EngineCore } from "./process.ts";

/** Per-engine memo: the same input set (or tool) always yields the same adopted object. */
export interface AdoptCache {
  readonly sets: WeakMap<ToolSet, ToolSet>;
  readonly tools: WeakMap<Tool, Tool>;
}

/**
 * The tool set a turn runs with when a PrepareTurn built it: every tool the engine did not
 * already wrap (skill tools, MCP tools, anything added per turn) gets the engine's post_tool
 * hooks, exactly like the tools the host passed at open. Their outputs are capped by the
 * scheduler unless they manage their own size (read_skill bounds its reads; MCP tools carry
 * the manager's cap, marked by limitOutput; the mark survives this wrapper). Memoized
 * by identity, so an unchanged prefix keeps byte-identical tool specs (and the prompt cache).
 */
export function adoptTools(c: EngineCore, tools: ToolSet): ToolSet {
  if (tools === c.tools || !wrapsTools(c.guards)) return tools;
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
  return guardTools([tool], c.guards, () => c)[0] as Tool;
}
