/** Any agent as a tool of another: a child engine per call, with depth and cycle guards. */
import { z } from "zod";
import { describeError } from "../errors.ts";
import type { ModelClient } from "../llm/types.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { EventMsg, EventMsgOf } from "../protocol/index.ts";
import { isTurnEnd } from "../protocol/index.ts";
import { defineTool, type Tool } from "../tool/define.ts";
import type { SharedEngineOptions } from "./tree.ts";
import type { AgentDefinition } from "./types.ts";

/** Options of `agentTool`. */
export interface AgentToolOptions {
  /** The model of an agent whose definition names none (usually the caller's). */
  readonly model: ModelClient;
  readonly resolveModel?: (spec: string) => Promise<ModelClient>;
  /** Tools the agent picks from (its definition's `tools` narrows them). Agent tools among them nest. */
  readonly tools?: readonly Tool[];
  /** Options for the child engine. Default: not interactive (requests are refused, not waited on). */
  readonly engine?: SharedEngineOptions;
  /** Deepest nesting of agent tools. Default 3. */
  readonly maxDepth?: number;
}

/** Child events forwarded to the caller as `tool_call_progress` (deltas are not: they would flood it). */
const FORWARDED = new Set<EventMsg["type"]>([
  "assistant_message",
  "tool_call_started",
  "tool_call_completed",
  "tool_call_progress",
  "permission_requested",
  "warning",
]);

const BIND = Symbol("agentTool.bind");
type Bindable = Tool & { [BIND]?: (chain: readonly string[]) => Tool };

/**
 * A tool named after the agent (`input`: `{ task }`) that runs it on a fresh engine and thread
 * and returns its final answer. The child's lifecycle events reach the caller's subscribers as
 * `tool_call_progress` data `{ agent, event }` (`agent` = the path, e.g. `root/researcher`).
 * Nested agent tools carry the chain: a call past `maxDepth`, or one that would run an agent
 * already on the chain, is refused with a model-readable output. Cancelling the call shuts the
 * child down. For durable, supervised children (approvals at the root, restart), use an
 * AgentTree and `spawn_agent` with `wait`.
 */
export function agentTool(definition: AgentDefinition, options: AgentToolOptions): Tool {
  return bound(definition, options, ["root"]);
}

function bound(def: AgentDefinition, options: AgentToolOptions, chain: readonly string[]): Tool {
  const maxDepth = options.maxDepth ?? 3;
  const tool = defineTool({
    name: def.name,
    description: `${def.description} (an agent: give it a complete, self-contained task; it returns its answer)`,
    schema: z.object({ task: z.string().min(1).describe("The task, complete and self-contained.") }),
    timeoutMs: 0,
    execute: async ({ task }, ctx) => {
      if (chain.includes(def.name))
        return { output: `Agent cycle refused: ${[...chain, def.name].join(" -> ")}.`, isError: true };
      if (chain.length > maxDepth)
        return {
          output: `Agent "${def.name}" not run: the depth limit (${maxDepth}) is reached (${chain.join(" -> ")}).`,
          isError: true,
        };
      const path = [...chain, def.name];
      let model = options.model;
      try {
        if (typeof def.model === "string") {
          if (!options.resolveModel)
            throw new Error(`it names model "${def.model}" and there is no resolveModel`);
          model = await options.resolveModel(def.model);
        } else if (def.model) model = def.model;
      } catch (err) {
        return { output: `Agent "${def.name}" cannot start: ${describeError(err)}`, isError: true };
      }
      const pool = options.tools ?? [];
      const allowed = def.tools ? pool.filter((t) => def.tools?.includes(t.name)) : pool;
      const tools = allowed.map((t) => (t as Bindable)[BIND]?.(path) ?? t);
      const engine = await AgentEngine.open({
        interactive: false,
        ...options.engine,
        model,
        system: `You are the agent ${path.join("/")}, called as a tool. Your final message is returned as the tool's result: make it complete.\n\n${def.instructions}`,
        tools,
        title: path.join("/"),
        listeners: [
          ...(options.engine?.listeners ?? []),
          (ev) => {
            if (FORWARDED.has(ev.msg.type)) ctx.progress({ agent: path.join("/"), event: ev.msg });
          },
        ],
      });
      const onAbort = () => void engine.close();
      try {
        const id = engine.submit(task);
        ctx.signal.addEventListener("abort", onAbort, { once: true });
        let end: EventMsgOf<"turn_completed" | "turn_failed" | "turn_aborted"> | undefined;
        for await (const ev of engine.subscribe(id)) if (isTurnEnd(ev.msg)) end = ev.msg;
        if (end?.type === "turn_completed")
          return end.text === "" ? "(the agent returned no text)" : end.text;
        if (end?.type === "turn_failed")
          return {
            output: `Agent "${def.name}" failed (${end.error.code}): ${end.error.message}`,
            isError: true,
          };
        return { output: `Agent "${def.name}" was cancelled.`, isError: true };
      } finally {
        ctx.signal.removeEventListener("abort", onAbort);
        await engine.close();
      }
    },
  }) as Bindable;
  tool[BIND] = (next) => bound(def, options, next);
  return tool;
}
