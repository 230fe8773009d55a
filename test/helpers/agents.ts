import type { AgentTree } from "../../src/agents/index.ts";
import type { TreeEvent } from "../../src/agents/types.ts";
import type { SimStepInput } from "../../src/llm/sim/script.ts";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../../src/llm/types.ts";
import type { Event } from "../../src/protocol/index.ts";
import { toolOutputText } from "../../src/protocol/index.ts";

/** The agent a request comes from: the path in a child's system prompt, else `root`. */
export function agentOf(request: ModelRequest): string {
  return /^You are the agent (\S+), started by/.exec(request.system)?.[1] ?? "root";
}

/** A step of a tree script: fixed, or computed from the request. */
export type TreeStep = SimStepInput | ((request: ModelRequest) => SimStepInput);

/**
 * One SimClient for a whole tree: `scripts[path][i]` is the i-th model call of that agent's
 * thread. A path missing from `scripts` uses `scripts["*"]` (then the task is echoed).
 */
export function treeModel(scripts: Record<string, TreeStep[]>, calls: string[] = []): SimClient {
  const step = (request: ModelRequest, { index }: { index: number }): SimStepInput => {
    const agent = agentOf(request);
    calls.push(agent);
    const list = scripts[agent] ?? scripts["*"];
    const s = list?.[index];
    if (s === undefined) throw new Error(`no step ${index} for agent ${agent}`);
    return typeof s === "function" ? s(request) : s;
  };
  return new SimClient({ script: Array.from({ length: 30 }, () => step), name: "tree" });
}

/** The last user text a request holds (a child's task, or a steer). */
export function lastUserText(request: ModelRequest): string {
  const item = request.items.findLast((i) => i.type === "message" && i.role === "user");
  if (item?.type !== "message") return "";
  return item.content.map((p) => (p.type === "text" ? p.text : "")).join("");
}

/** The output of the last function call in a request. */
export function lastOutput(request: ModelRequest): string {
  const item = request.items.findLast((i) => i.type === "function_call_output");
  return item?.type === "function_call_output" ? toolOutputText(item.output) : "";
}

/** One short line per event, with what agent tests care about. */
export function agentShape(events: readonly Event[]): string[] {
  return events.map(({ msg }) => {
    switch (msg.type) {
      case "tool_call_started":
        return `tool_call_started ${msg.name}`;
      case "tool_call_completed":
        return `tool_call_completed ${msg.name} ${msg.status}`;
      case "child_spawned":
        return `child_spawned ${msg.path}${msg.queued ? " queued" : ""}`;
      case "child_completed":
        return `child_completed ${msg.path} ${msg.status}${msg.text ? `: ${msg.text}` : ""}${msg.error ? ` (${msg.error})` : ""}`;
      case "user_input_requested":
        return msg.awaiting ? `parked: ${msg.question}` : `user_input_requested ${msg.question}`;
      case "peer_message":
        return `peer_message ${msg.from} -> ${msg.to}: ${msg.text}`;
      case "turn_completed":
        return `turn_completed: ${msg.text}`;
      case "turn_failed":
        return `turn_failed ${msg.error.code}`;
      case "turn_aborted":
        return `turn_aborted ${msg.reason}`;
      case "warning":
        return `warning ${msg.code}: ${msg.message}`;
      case "permission_requested":
        return `permission_requested ${msg.tool}`;
      case "permission_resolved":
        return `permission_resolved ${msg.decision} by ${msg.by}`;
      case "user_message":
        return `user_message ${msg.kind ?? ""}`.trim();
      case "assistant_text":
      case "model_call_started":
      case "model_call_completed":
        return msg.type;
      default:
        return msg.type;
    }
  });
}

/** Records every tree event; `of(agent)` is one agent's whole sequence. */
export function recordTree(tree: AgentTree): { all: TreeEvent[]; of(agent: string): string[] } {
  const all: TreeEvent[] = [];
  tree.on((e) => all.push(e));
  return {
    all,
    of: (agent) =>
      agentShape(all.filter((e) => e.agent === agent).map((e) => e.event)).filter(
        (s) => s !== "assistant_text",
      ),
  };
}

/** Resolves when the root's submission is done. */
export async function runRoot(tree: AgentTree, text: string): Promise<Event[]> {
  return tree.root.submitAndWait(text);
}

/** The text of a submission's `turn_completed` (fails the test when the turn did not complete). */
export function finalText(events: readonly Event[]): string {
  const end = events.at(-1)?.msg;
  if (end?.type !== "turn_completed") throw new Error(`the turn did not complete: ${JSON.stringify(end)}`);
  return end.text;
}
