/** How the tree builds one agent's engine: its model, inherited tools, system prompt and options. */
import { TaifengError } from "../errors.ts";
import type { ModelClient } from "../llm/types.ts";
import { AgentEngine, type EngineOptions } from "../loop/engine.ts";
import type { ListenerContext } from "../loop/event-hub.ts";
import type { Event } from "../protocol/index.ts";
import type { AgentNode } from "./node.ts";
import { agentTools } from "./tools.ts";
import type { TreeState } from "./tree-state.ts";

/** Resolves an agent's model and the tools it has (and its children inherit). */
export async function prepareAgent(tree: TreeState, node: AgentNode): Promise<void> {
  const o = tree.options;
  const def = node.definition;
  let model = node.parent?.model ?? o.model;
  if (def?.model !== undefined) {
    if (typeof def.model !== "string") model = def.model;
    else if (!o.resolveModel)
      throw new TaifengError(
        "invalid_config",
        `agent "${def.name}" names model "${def.model}", but the tree has no resolveModel`,
      );
    else model = await o.resolveModel(def.model);
  }
  node.model = model;
  const inherited = node.parent ? node.parent.tools : [...(o.tools ?? [])];
  node.tools = def?.tools ? inherited.filter((t) => def.tools?.includes(t.name)) : inherited;
}

/** Opens (or reopens) an agent's engine with its system prompt, tools and model. */
export async function openAgentEngine(tree: TreeState, node: AgentNode): Promise<void> {
  if (node.model === undefined) await prepareAgent(tree, node);
  const o = tree.options;
  const def = node.definition;
  const model = node.model as ModelClient;
  const shared = o.engine ?? {};
  const listener = (ev: Event, ctx: ListenerContext) => tree.observe(node, ev, ctx);
  let options: EngineOptions = {
    ...shared,
    model,
    ...(o.resolveModel ? { resolveModel: o.resolveModel } : {}),
    store: tree.store,
    threadId: node.threadId,
    // A child is titled by its path; the root by its first message, like any thread.
    ...(node.parent ? { title: node.id } : {}),
    system: node.parent ? childSystem(node) : (o.system ?? ""),
    tools: [...node.tools, ...agentTools(tree, node)],
    listeners: [...(shared.listeners ?? []), listener],
    ...(tree.budgetCheck ? { stepChecks: [...(shared.stepChecks ?? []), tree.budgetCheck] } : {}),
    ...(def?.maxSteps !== undefined ? { maxSteps: def.maxSteps } : {}),
    ...(def?.permissionMode !== undefined
      ? { permissions: { ...shared.permissions, mode: def.permissionMode } }
      : {}),
  };
  if (node.parent)
    options = {
      ...options,
      spawnedAs: {
        parentThreadId: node.parent.threadId,
        callId: node.callId ?? "",
        path: node.id,
        name: node.name,
        ...(node.instructions !== undefined ? { instructions: node.instructions } : {}),
        task: node.task ?? "",
      },
    };
  if (o.configure) options = o.configure({ id: node.id, definition: def }, options);
  node.engine = await AgentEngine.open(options);
}

/** A child's system prompt: who it is, then its instructions (rebuilt the same after a restart). */
export function childSystem(node: AgentNode): string {
  const instructions = node.definition?.instructions ?? node.instructions ?? "";
  return [
    `You are the agent ${node.id}, started by ${node.parent?.id ?? "the host"} to do one task. Your final message is returned to it as your result: make it complete and self-contained.`,
    instructions.trim(),
  ]
    .filter((s) => s !== "")
    .join("\n\n");
}
