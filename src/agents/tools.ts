/** The tools a model uses on its agent tree. Names are fixed: hosts and tests rely on them. */
import { z } from "zod";
import { defineTool, type Tool, type ToolContext } from "../tool/define.ts";
import type { WaitMode, WaitOutcome } from "./barrier.ts";
import { type AgentNode, frameMail, infoOf, mailId } from "./node.ts";
import type { StateOp } from "./state.ts";
import type { TreeState } from "./tree.ts";
import { isFinal } from "./types.ts";

/** The agent tools' names. */
export const AGENT_TOOL_NAMES = {
  spawn: "spawn_agent",
  wait: "wait_agents",
  send: "send_message",
  list: "list_agents",
  query: "query_agent",
  stop: "stop_agent",
  readState: "read_state",
  updateState: "update_state",
} as const;

/** Longest child output quoted in a join report (the whole output stays in the child's thread). */
const MAX_QUOTED = 4000;

/**
 * The agent tools of one agent: spawn_agent, wait_agents, list_agents, query_agent,
 * stop_agent (when it may still have children) and send_message (always). They touch no file,
 * network or process themselves (a child's own tools pass its own gate), so they are
 * read-only to the permission layer; spawn_agent is concurrency-safe, so several spawns of
 * one model step start together.
 */
export function agentTools(tree: TreeState, node: AgentNode): readonly Tool[] {
  // One set per tree (tools find their agent by the calling thread): building tools, and
  // their JSON schemas, per child would be most of a spawn's cost.
  const leaf = node.depth >= tree.limits.maxDepth;
  const cache = tree.toolCache;
  const cached = leaf ? cache.leaf : cache.full;
  if (cached) return cached;
  const built = buildTools(tree, leaf);
  if (leaf) cache.leaf = built;
  else cache.full = built;
  return built;
}

/** The agent whose engine made the call. */
function caller(tree: TreeState, ctx: ToolContext): AgentNode {
  const node = tree.byThread.get(ctx.threadId);
  if (!node) throw new Error(`thread ${ctx.threadId} is not an agent of this tree`);
  return node;
}

function buildTools(tree: TreeState, leaf: boolean): Tool[] {
  const tools: Tool[] = [sendTool(tree), ...stateTools(tree)];
  if (leaf) return tools;
  const names = [...tree.definitions.values()].map((d) => `- ${d.name}: ${d.description}`).join("\n");
  tools.push(
    defineTool({
      name: AGENT_TOOL_NAMES.spawn,
      description: `Starts a child agent on its own thread to do a task. Without "wait" it returns the child's id at once and the child works in the background (join it with ${AGENT_TOOL_NAMES.wait}); with "wait": true it returns the child's final answer. Several spawns in one step run concurrently. The child does not see this conversation: put everything it needs in "task".${names ? `\nDefined agents:\n${names}` : ""}`,
      schema: z.object({
        agent: z.string().optional().describe("A defined agent's name."),
        instructions: z
          .string()
          .optional()
          .describe("Instructions for an inline agent (when no defined agent fits)."),
        task: z.string().min(1).describe("The task, complete and self-contained."),
        wait: z.boolean().optional().describe("Wait for the child's answer (agent as a tool)."),
      }),
      readOnly: true,
      concurrencySafe: true,
      timeoutMs: 0,
      execute: async (input, ctx) => {
        const result = await tree.spawn(caller(tree, ctx), { ...input, callId: ctx.callId });
        if (!result.ok) return { output: result.message, isError: true };
        const child = tree.byId.get(result.agent.id) as AgentNode;
        if (!input.wait)
          return `Spawned ${child.id} (${child.status}). Join it with ${AGENT_TOOL_NAMES.wait}.`;
        const outcome = await parkOn(tree, ctx, [child], "all", 0);
        return { output: report(outcome), isError: child.status !== "completed" };
      },
    }),
    defineTool({
      name: AGENT_TOOL_NAMES.wait,
      description:
        'Waits until your child agents finish and returns their results: "all" (default) or "any" of them, all your children when "ids" is omitted. You hold no model call while waiting.',
      schema: z.object({
        ids: z.array(z.string()).optional().describe("Agent ids (paths) to wait for."),
        mode: z.enum(["all", "any"]).optional(),
        timeoutMs: z.number().int().positive().optional().describe("Return after this long even if not met."),
      }),
      readOnly: true,
      timeoutMs: 0,
      execute: async ({ ids, mode, timeoutMs }, ctx) => {
        const node = caller(tree, ctx);
        const targets = ids ? ids.map((id) => tree.byId.get(id)) : [...node.children];
        const unknown = ids?.filter((_id, i) => targets[i]?.parent !== node) ?? [];
        if (unknown.length > 0)
          return {
            output: `Not your child agents: ${unknown.join(", ")}. Your children: ${node.children.map((c) => c.id).join(", ") || "none"}.`,
            isError: true,
          };
        if (targets.length === 0) return { output: "You have no child agents to wait for.", isError: true };
        const nodes = targets as AgentNode[];
        const m: WaitMode = mode ?? "all";
        const met =
          m === "all" ? nodes.every((n) => isFinal(n.status)) : nodes.some((n) => isFinal(n.status));
        if (!met) {
          if (node.wakes >= tree.limits.maxWakes) {
            const msg = `Wait refused: ${node.id} has waited ${node.wakes} times (the limit is ${tree.limits.maxWakes}). Finish with the results you have, or stop the agents you no longer need.`;
            tree.emitOn(node, { type: "warning", code: "agent_limit", message: msg });
            return { output: msg, isError: true };
          }
          node.wakes++;
        }
        return report(
          met ? { kind: "met", targets: nodes } : await parkOn(tree, ctx, nodes, m, timeoutMs ?? 0),
        );
      },
    }),
    defineTool({
      name: AGENT_TOOL_NAMES.list,
      description: "Lists your child agents (and theirs) with their status.",
      schema: z.object({}),
      readOnly: true,
      concurrencySafe: true,
      execute: (_input, ctx) => {
        const node = caller(tree, ctx);
        if (node.children.length === 0) return "You have no child agents.";
        const lines: string[] = [];
        const walk = (n: AgentNode, indent: string) => {
          lines.push(`${indent}- ${n.id} [${n.status}] ${oneLine(n.task ?? "", 80)}`);
          for (const c of n.children) walk(c, `${indent}  `);
        };
        for (const c of node.children) walk(c, "");
        return lines.join("\n");
      },
    }),
    defineTool({
      name: AGENT_TOOL_NAMES.query,
      description: "Shows one of your descendant agents: status, task, last output, usage.",
      schema: z.object({ id: z.string() }),
      readOnly: true,
      concurrencySafe: true,
      execute: ({ id }, ctx) => {
        const node = caller(tree, ctx);
        const target = tree.byId.get(id);
        if (!target || !isDescendant(target, node))
          return { output: `No agent ${id} below ${node.id}.`, isError: true };
        const info = infoOf(target);
        return JSON.stringify({ ...info, output: info.output ?? target.lastText }, null, 2);
      },
    }),
    defineTool({
      name: AGENT_TOOL_NAMES.stop,
      description: "Stops one of your descendant agents and everything it started.",
      schema: z.object({ id: z.string(), reason: z.string().optional() }),
      readOnly: true,
      execute: ({ id, reason }, ctx) => {
        const node = caller(tree, ctx);
        const target = tree.byId.get(id);
        if (!target || !isDescendant(target, node))
          return { output: `No agent ${id} below ${node.id}.`, isError: true };
        if (isFinal(target.status)) return `${id} already ended (${target.status}).`;
        tree.stop(target, reason ? `stopped by ${node.id}: ${reason}` : `stopped by ${node.id}`);
        return `Stopping ${id} and its subtree.`;
      },
    }),
  );
  return tools;
}

function sendTool(tree: TreeState): Tool {
  return defineTool({
    name: AGENT_TOOL_NAMES.send,
    description:
      "Sends a message to your parent, one of your child agents or a sibling, by id. It reaches the recipient at its next model call (a finished child starts a new turn to read it).",
    schema: z.object({ to: z.string(), text: z.string().min(1) }),
    readOnly: true,
    concurrencySafe: true,
    execute: ({ to, text }, ctx) => {
      const node = caller(tree, ctx);
      const target = tree.byId.get(to);
      const related =
        target !== undefined &&
        (target === node.parent ||
          target.parent === node ||
          (node.parent !== undefined && target.parent === node.parent && target !== node));
      if (!target || !related)
        return {
          output: `No agent ${to} you can message: send to your parent, a child or a sibling.`,
          isError: true,
        };
      if (target.stopReason !== undefined || !target.engine || target.engine.status === "closed")
        return { output: `${to} was stopped; the message was not delivered.`, isError: true };
      // The id ties the message to this call: after a restart, a message the recipient's
      // transcript does not show yet is delivered again (see restore.ts), never twice.
      const framed = frameMail(node.id, mailId(ctx.threadId, ctx.callId), text);
      if (target.status === "queued") target.inbox.push(framed);
      else target.engine.submit({ type: "steer", text: framed });
      tree.emitOn(node, { type: "peer_message", from: node.id, to: target.id, text });
      return `Delivered to ${to}.`;
    },
  });
}

async function parkOn(
  tree: TreeState,
  ctx: ToolContext,
  targets: readonly AgentNode[],
  mode: WaitMode,
  timeoutMs: number,
): Promise<WaitOutcome> {
  const reason = `waiting for ${mode} of ${targets.map((t) => t.id).join(", ")}`;
  const wake = (signal: AbortSignal) =>
    tree.wait(targets, mode, timeoutMs, AbortSignal.any([signal, ctx.signal]));
  return ctx.park ? ctx.park(reason, wake) : wake(ctx.signal);
}

/** The join report the model reads. */
export function report(outcome: WaitOutcome): string {
  const done = outcome.targets.filter((t) => isFinal(t.status)).length;
  const head =
    outcome.kind === "met"
      ? `${done} of ${outcome.targets.length} agents finished.`
      : outcome.kind === "timeout"
        ? `Timed out: ${done} of ${outcome.targets.length} agents finished.`
        : `The agent tree is closing: ${done} of ${outcome.targets.length} agents finished.`;
  const lines = [head];
  for (const t of outcome.targets) {
    lines.push(`- ${t.id} [${t.status}]`);
    if (t.status === "completed") lines.push(indent(clip(t.output ?? t.lastText ?? "(no text)")));
    else if (t.error !== undefined) lines.push(indent(t.error));
  }
  return lines.join("\n");
}

function isDescendant(target: AgentNode, of: AgentNode): boolean {
  for (let n = target.parent; n; n = n.parent) if (n === of) return true;
  return false;
}

function clip(text: string): string {
  return text.length <= MAX_QUOTED
    ? text
    : `${text.slice(0, MAX_QUOTED)}\n[... ${text.length - MAX_QUOTED} more characters; query_agent shows the agent]`;
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

const Scope = z
  .enum(["agent", "tree", "pool"])
  .describe("agent: yours alone; tree: every agent of this tree; pool: every tree of the host");

function stateTools(tree: TreeState): Tool[] {
  return [
    defineTool({
      name: AGENT_TOOL_NAMES.readState,
      description: "Reads shared state: one key, or every key of a scope.",
      schema: z.object({ scope: Scope, key: z.string().optional() }),
      readOnly: true,
      concurrencySafe: true,
      execute: ({ scope, key }, ctx) => {
        const owner = caller(tree, ctx).id;
        const value =
          key === undefined ? tree.shared.entries(scope, owner) : tree.shared.get(scope, owner, key);
        return JSON.stringify(value ?? null);
      },
    }),
    defineTool({
      name: AGENT_TOOL_NAMES.updateState,
      description:
        'Changes shared state atomically: "set" a value, "increment" a number, or "append" to a list. Returns the new value.',
      schema: z.object({
        scope: Scope,
        key: z.string().min(1),
        op: z.enum(["set", "increment", "append"]),
        value: z.unknown(),
      }),
      readOnly: true,
      concurrencySafe: true,
      execute: ({ scope, key, op, value }, ctx) => {
        const owner = caller(tree, ctx).id;
        if (op === "increment" && typeof value !== "number")
          return { output: `increment needs a number, got ${JSON.stringify(value)}`, isError: true };
        try {
          const change: StateOp = op === "increment" ? { op, value: value as number } : { op, value };
          return JSON.stringify(tree.shared.update(scope, owner, key, change));
        } catch (err) {
          return { output: (err as Error).message, isError: true };
        }
      },
    }),
  ];
}
