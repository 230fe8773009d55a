import type { ThreadStore } from "../conversation/store.ts";
import type { ModelClient } from "../llm/types.ts";
import type { AgentEngine, EngineOptions } from "../loop/engine.ts";
import type { ApprovalDecision } from "../protocol/index.ts";
import { newId } from "../protocol/index.ts";
import type { Tool } from "../tool/define.ts";
import { openAgentEngine, prepareAgent } from "./agent-engine.ts";
import { type AgentNode, infoOf, newNode } from "./node.ts";
import { restoreChildren, resumeDeferred } from "./restore.ts";
import type { SharedState } from "./state.ts";
import { TreeState } from "./tree-state.ts";
import type { AgentDefinition, AgentInfo, AgentLimits, TreeEvent } from "./types.ts";

/** Engine options every agent of a tree shares (permissions, hooks, cwd, maxSteps, ...). */
export type SharedEngineOptions = Omit<
  EngineOptions,
  "model" | "tools" | "system" | "store" | "threadId" | "resolveModel" | "spawnedAs" | "title"
>;

/** Options of `AgentTree.open`. */
export interface AgentTreeOptions {
  /** The root's model, and every agent's that names none. */
  readonly model: ModelClient;
  /** Where every agent's transcript lives. Default: in memory (nothing survives the process). */
  readonly store?: ThreadStore;
  /** Resolves model specs of definitions (`sim:child.json`, `anthropic:claude-haiku-4-5`). */
  readonly resolveModel?: (spec: string) => Promise<ModelClient>;
  /** The agents `spawn_agent` may name. */
  readonly agents?: Iterable<AgentDefinition>;
  /** The root's tools; children inherit them (a definition's `tools` narrows the list). */
  readonly tools?: Iterable<Tool>;
  /** The root's system prompt. */
  readonly system?: string;
  /** The root's agent path. Default `root`. */
  readonly name?: string;
  /** The root's thread: resumed with its whole tree when it exists in the store. */
  readonly threadId?: string;
  readonly limits?: AgentLimits;
  /**
   * A spend limit for the whole tree: every agent's model calls count, and every agent's next
   * model call is refused once it is spent (`turn_failed`, code `budget_exceeded`).
   */
  readonly budget?: { readonly tokens?: number; readonly usd?: number };
  /** Options for every engine of the tree. */
  readonly engine?: SharedEngineOptions;
  /** Shared state; give several trees the same object to share its `pool` scope. Default: a new one. */
  readonly state?: SharedState;
  /** Sees every event of every agent from the first (before `open` returns), tagged with its path. */
  readonly listener?: (event: TreeEvent) => void;
  /** Last word on one agent's engine options (guardrails, a stricter policy for one agent, ...). */
  readonly configure?: (
    agent: { id: string; definition: AgentDefinition | undefined },
    options: EngineOptions,
  ) => EngineOptions;
}

/** What a spawn request carries (from `spawn_agent` or a host). */
export interface SpawnRequest {
  readonly agent?: string | undefined;
  readonly instructions?: string | undefined;
  readonly task: string;
  /** The spawning tool call: the child's identity (a spawn run again finds the same child). */
  readonly callId: string;
}

/** A refusal the model reads, or the spawned child. */
export type SpawnResult =
  | { readonly ok: true; readonly agent: AgentInfo }
  | { readonly ok: false; readonly message: string };

/**
 * A supervised tree of agents. Every agent is an `AgentEngine` on its own thread; a child's
 * thread records its parent, spawning call, path and task (`thread_meta.agent`), and its
 * parent's transcript records the spawn, so `AgentTree.open` with an existing root thread
 * rebuilds the tree from the transcripts: finished children keep their result, a child whose
 * turn waited on a person resumes it (re-asking under the same request id), a child a crash
 * or shutdown cut off gets a new turn that continues from its transcript (nothing recorded is
 * run again), a child that never started starts.
 *
 * Supervision: every engine's events reach `events()` tagged with the agent path; requests of
 * any agent are answered with `answer()`; stopping an agent (or interrupting its turn) stops
 * its whole subtree; the tree's budget is charged by every agent; a child's end is a
 * `child_completed` event on its parent and data for `wait_agents`.
 */
export class AgentTree {
  /** The root agent's engine. */
  readonly root: AgentEngine;
  private readonly rootNode: AgentNode;
  private readonly state: TreeState;

  private constructor(state: TreeState, root: AgentNode) {
    this.state = state;
    this.rootNode = root;
    this.root = root.engine as AgentEngine;
  }

  /**
   * Opens a tree: a new root, or the root thread `threadId` with every descendant rebuilt from
   * the store. Throws TaifengError `invalid_config` (duplicate or malformed definitions, bad
   * limits) and whatever `AgentEngine.open` throws.
   */
  static async open(options: AgentTreeOptions): Promise<AgentTree> {
    const state = new TreeState(options);
    const threadId = options.threadId ?? newId("thr");
    const root = newNode({
      id: options.name ?? "root",
      threadId,
      name: options.name ?? "root",
      parent: undefined,
      status: "idle",
    });
    state.register(root);
    await prepareAgent(state, root);
    if (options.threadId !== undefined && (await state.store.exists(threadId)))
      await restoreChildren(state, root);
    await openAgentEngine(state, root);
    resumeDeferred(state);
    return new AgentTree(state, root);
  }

  /**
   * Every event of every agent from now on, tagged with its path; ends when the tree closes.
   * With `agent` (a path): only that agent's and its descendants' events — also of a child
   * not spawned yet, so a host can follow `root/researcher#1` before it exists.
   */
  events(agent?: string): AsyncIterableIterator<TreeEvent> {
    return this.state.feed.stream(agent === undefined ? undefined : within(agent));
  }

  /** Adds a synchronous observer of every agent's events (or of `agent`'s subtree); returns a remover. */
  on(listener: (event: TreeEvent) => void, agent?: string): () => void {
    if (agent === undefined) return this.state.feed.on(listener);
    const keep = within(agent);
    return this.state.feed.on((e) => {
      if (keep(e)) listener(e);
    });
  }

  /** One agent by path, or undefined. */
  get(id: string): AgentInfo | undefined {
    const node = this.state.byId.get(id);
    return node ? infoOf(node) : undefined;
  }

  /** Every agent, root first, parents before children. */
  list(): AgentInfo[] {
    const out: AgentInfo[] = [];
    const walk = (n: AgentNode) => {
      out.push(infoOf(n));
      for (const c of n.children) walk(c);
    };
    walk(this.rootNode);
    return out;
  }

  /** The engine of one agent (to subscribe to it or submit to it directly). */
  engine(id: string): AgentEngine | undefined {
    return this.state.byId.get(id)?.engine;
  }

  /** Requests waiting on a person anywhere in the tree. */
  pendingRequests(): { agent: string; requestId: string }[] {
    const out: { agent: string; requestId: string }[] = [];
    for (const node of this.state.byId.values())
      for (const requestId of node.pending.keys()) out.push({ agent: node.id, requestId });
    return out;
  }

  /**
   * Answers a request of any agent: a decision for an approval, an answer for a question.
   * Returns false when no agent of the tree has that request pending.
   */
  answer(
    requestId: string,
    reply: { decision: ApprovalDecision; reason?: string } | { answer: string },
  ): boolean {
    for (const node of this.state.byId.values()) {
      if (!node.pending.has(requestId) || !node.engine) continue;
      if ("decision" in reply)
        node.engine.submit({
          type: "approval",
          requestId,
          decision: reply.decision,
          ...(reply.reason ? { reason: reply.reason } : {}),
        });
      else node.engine.submit({ type: "user_input_answer", requestId, answer: reply.answer });
      return true;
    }
    return false;
  }

  /** Delivers `text` to an agent's next model call (starting a turn when none runs). */
  steer(id: string, text: string): boolean {
    const node = this.state.byId.get(id);
    if (!node?.engine || node.engine.status === "closed") return false;
    if (node.status === "queued") node.inbox.push(text);
    else node.engine.submit({ type: "steer", text });
    return true;
  }

  /** Stops an agent and its subtree (the root: its running turn and every live descendant). */
  stop(id: string, reason = "stopped by the host"): boolean {
    const node = this.state.byId.get(id);
    if (!node) return false;
    this.state.stop(node, reason);
    return true;
  }

  /** Spend of the whole tree (all agents' model calls seen by this tree, and their restored turns). */
  get usage(): { tokens: number; usd: number } {
    return { tokens: this.state.spentTokens, usd: this.state.spentUsd };
  }

  /** Closes every engine; turns waiting on a person or on children stay open for a later `open`. */
  async close(): Promise<void> {
    await this.state.close();
  }
}

/** True for events of `agent` and of its descendants (paths below it). */
function within(agent: string): (event: TreeEvent) => boolean {
  return (e) => e.agent === agent || e.agent.startsWith(`${agent}/`);
}

export { childSystem } from "./agent-engine.ts";
export { TreeState } from "./tree-state.ts";
