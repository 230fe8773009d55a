/** The tree's shared state: nodes, limits, budget, scheduling, stopping (the actor behind AgentTree). */
import { MemoryThreadStore } from "../conversation/memory-store.ts";
import type { ThreadStore } from "../conversation/store.ts";
import { describeError, TaifengError } from "../errors.ts";
import type { ListenerContext } from "../loop/event-hub.ts";
import type { StepCheck } from "../loop/step-check.ts";
import type { Event, EventMsg } from "../protocol/index.ts";
import { addUsage } from "../protocol/index.ts";
import type { Tool } from "../tool/define.ts";
import { openAgentEngine } from "./agent-engine.ts";
import { Barriers, type WaitMode } from "./barrier.ts";
import { EventFeed } from "./feed.ts";
import { type AgentNode, childThreadId, infoOf, type Mail, newNode, outcomeOf } from "./node.ts";
import { Slots } from "./semaphore.ts";
import { SharedState } from "./state.ts";
import type { AgentTreeOptions, SpawnRequest, SpawnResult } from "./tree.ts";
import { type AgentDefinition, DEFAULT_LIMITS, isFinal, type ResolvedLimits } from "./types.ts";

/** How long closing waits for agents being stopped to end their turn. */
const STOP_GRACE_MS = 5_000;

/** The tree's internals, shared with the agent tools. @internal */
export class TreeState {
  readonly options: AgentTreeOptions;
  readonly store: ThreadStore;
  readonly limits: ResolvedLimits;
  readonly definitions = new Map<string, AgentDefinition>();
  readonly byId = new Map<string, AgentNode>();
  readonly byThread = new Map<string, AgentNode>();
  readonly slots: Slots;
  readonly barriers = new Barriers();
  readonly feed = new EventFeed();
  readonly shared: SharedState;
  /** update_state calls found while restoring, replayed in time order once the tree is open. */
  readonly replay: { ts: number; owner: string; arguments: string }[] = [];
  /** Messages found while restoring: sent ones, and the ids each agent's transcript shows it read. */
  readonly mail: {
    readonly sent: (Mail & { readonly from: string })[];
    readonly received: Map<string, ReadonlySet<string>>;
  } = { sent: [], received: new Map() };
  spentTokens = 0;
  spentUsd = 0;
  closing = false;
  /** The agent tools, built once per tree (see agentTools). */
  readonly toolCache: { full?: readonly Tool[]; leaf?: readonly Tool[] } = {};
  deferred: { node: AgentNode; text: string }[] | undefined = [];
  readonly budgetCheck: StepCheck | undefined;

  constructor(options: AgentTreeOptions) {
    this.options = options;
    this.store = options.store ?? new MemoryThreadStore();
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    for (const [key, value] of Object.entries(this.limits))
      if (!(Number.isInteger(value) && value >= (key === "childTimeoutMs" ? 0 : 1)))
        throw new TaifengError(
          "invalid_config",
          `agent limit ${key} must be a ${key === "childTimeoutMs" ? "non-negative" : "positive"} integer, got ${value}`,
        );
    for (const def of options.agents ?? []) {
      if (this.definitions.has(def.name))
        throw new TaifengError("invalid_config", `agent "${def.name}" is defined twice`);
      this.definitions.set(def.name, def);
    }
    this.slots = new Slots(this.limits.maxLive);
    this.shared = options.state ?? new SharedState();
    if (options.listener) this.feed.on(options.listener);
    const budget = options.budget;
    if (budget) this.budgetCheck = () => this.overBudget(budget);
  }

  register(node: AgentNode): void {
    this.byId.set(node.id, node);
    this.byThread.set(node.threadId, node);
  }

  private overBudget(budget: NonNullable<AgentTreeOptions["budget"]>): ReturnType<StepCheck> {
    const what =
      budget.tokens !== undefined && this.spentTokens >= budget.tokens
        ? `${this.spentTokens} of ${budget.tokens} tokens`
        : budget.usd !== undefined && this.spentUsd >= budget.usd
          ? `$${this.spentUsd.toFixed(4)} of $${budget.usd}`
          : undefined;
    if (what === undefined) return undefined;
    return {
      type: "stop",
      error: {
        code: "budget_exceeded",
        message: `the agent tree's budget is spent (${what}); the turn stopped before its next model call`,
        source: "engine",
      },
    };
  }

  /** Adds an event to an agent's own engine (in its running turn when there is one). */
  emitOn(
    node: AgentNode,
    msg: Extract<EventMsg, { type: "child_spawned" | "child_completed" | "peer_message" | "warning" }>,
  ): void {
    if (!node.ctx || !node.engine || node.engine.status === "closed") return;
    node.ctx.emit(msg, node.turn);
  }

  /** Sees every event of every agent's engine. */
  observe(node: AgentNode, ev: Event, ctx: ListenerContext): void {
    node.ctx = ctx;
    const m = ev.msg;
    switch (m.type) {
      case "thread_opened":
        if (m.resumedTurn) node.resumed = true;
        break;
      case "turn_started":
        node.turn = ev;
        if (!isFinal(node.status) || node.stopReason === undefined) node.status = "running";
        break;
      case "assistant_message":
        node.lastText = m.text;
        break;
      case "permission_requested":
        node.pending.set(m.requestId, m.callId);
        node.status = "waiting";
        break;
      case "user_input_requested":
        if (m.awaiting === undefined) {
          node.pending.set(m.requestId, m.callId);
          node.status = "waiting";
        }
        break;
      case "permission_resolved":
        node.pending.delete(m.requestId);
        if (node.pending.size === 0 && node.status === "waiting") node.status = "running";
        break;
      case "tool_call_completed":
        for (const [requestId, callId] of node.pending)
          if (callId === m.callId) node.pending.delete(requestId);
        if (node.pending.size === 0 && node.status === "waiting") node.status = "running";
        break;
      case "model_call_completed":
        addUsage(node.usage, m.usage);
        this.spentTokens += m.usage.inputTokens + m.usage.outputTokens;
        this.spentUsd += m.costUsd ?? 0;
        break;
      case "turn_completed":
      case "turn_failed":
      case "turn_aborted":
        this.turnEnded(node, m);
        break;
      default:
        break;
    }
    this.feed.publish({ agent: node.id, event: ev });
  }

  private turnEnded(
    node: AgentNode,
    end: Extract<EventMsg, { type: "turn_completed" | "turn_failed" | "turn_aborted" }>,
  ): void {
    node.turn = undefined;
    node.pending.clear();
    if (end.type === "turn_aborted" && end.reason === "interrupt")
      for (const child of node.children) this.stop(child, `its parent ${node.id} was cancelled`);
    if (!node.parent) {
      node.status = "idle";
      return;
    }
    const outcome = outcomeOf(end);
    if (outcome === "continue") {
      if (end.type === "turn_aborted" && end.reason === "crash") node.crashed = true;
      return; // a restart continues it; the tree closing keeps its status
    }
    if (outcome.status === "completed")
      node.output = end.type === "turn_completed" ? end.text : node.lastText;
    this.finish(node, outcome.status, node.stopReason ?? outcome.error);
  }

  /** Records a child's final status, frees its slot, tells its parent and every barrier. */
  finish(node: AgentNode, status: "completed" | "failed" | "aborted", error: string | undefined): void {
    node.status = status;
    node.error = status === "completed" ? undefined : error;
    if (node.timer) clearTimeout(node.timer);
    node.timer = undefined;
    if (node.live) {
      node.live = false;
      this.slots.release();
    }
    if (node.parent) {
      const msg: EventMsg = {
        type: "child_completed",
        childThreadId: node.threadId,
        name: node.name,
        status,
        path: node.id,
        usage: { ...node.usage },
      };
      if (node.output !== undefined && status === "completed") msg.text = node.output;
      if (node.error !== undefined) msg.error = node.error;
      this.emitOn(node.parent, msg);
    }
    this.barriers.changed();
  }

  /** Spawns a child of `parent` (idempotent per call id). Refusals are data for the model. */
  async spawn(parent: AgentNode, req: SpawnRequest): Promise<SpawnResult> {
    const threadId = childThreadId(parent.threadId, req.callId);
    const existing = this.byThread.get(threadId);
    if (existing) return { ok: true, agent: infoOf(existing) };
    let def: AgentDefinition | undefined;
    if (req.agent !== undefined && req.agent !== "") {
      def = this.definitions.get(req.agent);
      if (!def)
        return refuse(
          `Unknown agent "${req.agent}". Defined agents: ${[...this.definitions.keys()].join(", ") || "none"}; or pass "instructions" for an inline agent.`,
        );
    } else if (!req.instructions?.trim())
      return refuse('Name a defined agent ("agent") or give inline "instructions".');
    const limit = this.checkLimits(parent, def);
    if (limit !== undefined) {
      this.emitOn(parent, { type: "warning", code: "agent_limit", message: limit });
      return refuse(limit);
    }
    const name = def?.name ?? "inline";
    const ordinal = parent.children.filter((c) => c.name === name).length + 1;
    const node = newNode({
      id: `${parent.id}/${name}#${ordinal}`,
      threadId,
      name,
      parent,
      callId: req.callId,
      task: req.task,
      instructions: req.instructions?.trim() ? req.instructions : undefined,
      definition: def,
      status: "queued",
    });
    this.register(node);
    parent.children.push(node);
    // The slot is taken (or queued for) and the spawn announced before anything async, so
    // the order of spawns and their place in the parent's events are fixed.
    let opened = false;
    let slotted = false;
    const queued = !this.slots.take(node.threadId, () => {
      slotted = true;
      if (opened) this.start(node, req.task);
    });
    this.emitOn(parent, {
      type: "child_spawned",
      childThreadId: threadId,
      name,
      callId: req.callId,
      path: node.id,
      ...(queued ? { queued } : {}),
    });
    try {
      await openAgentEngine(this, node);
    } catch (err) {
      if (slotted) this.slots.release();
      else this.slots.cancel(node.threadId);
      this.finish(node, "failed", `could not start: ${describeError(err)}`);
      return refuse(`Agent ${node.id} could not start: ${describeError(err)}`);
    }
    opened = true;
    if (slotted) this.start(node, req.task);
    return { ok: true, agent: infoOf(node) };
  }

  private checkLimits(parent: AgentNode, def: AgentDefinition | undefined): string | undefined {
    const l = this.limits;
    if (parent.depth + 1 > l.maxDepth)
      return `Agent not spawned: the depth limit (${l.maxDepth}) is reached at ${parent.id}. Do the work yourself.`;
    if (parent.children.length >= l.maxChildren)
      return `Agent not spawned: ${parent.id} already spawned ${parent.children.length} agents (the limit is ${l.maxChildren}).`;
    if (def) {
      const chain: string[] = [];
      for (let n: AgentNode | undefined = parent; n; n = n.parent) chain.unshift(n.name);
      if (chain.includes(def.name))
        return `Agent not spawned: cycle ${[...chain, def.name].join(" -> ")}. An agent may not spawn itself or an ancestor.`;
    }
    return undefined;
  }

  /**
   * Starts a child's work when a live slot is free (at once, or later in FIFO order). While
   * the tree is being rebuilt, starts wait until every engine is open, so each parent sees
   * its children end.
   */
  schedule(node: AgentNode, text: string): void {
    if (this.deferred) {
      this.deferred.push({ node, text });
      return;
    }
    this.slots.take(node.threadId, () => this.start(node, text));
  }

  private start(node: AgentNode, text: string): void {
    node.live = true;
    if (isFinal(node.status) || !node.engine || node.engine.status === "closed" || this.closing) {
      node.live = false;
      this.slots.release();
      return;
    }
    node.status = "running";
    const inbox = node.inbox.splice(0);
    const input =
      inbox.length > 0 ? `${text}\n\nMessages received before you started:\n${inbox.join("\n")}` : text;
    node.engine.submit(input);
    const ms = this.limits.childTimeoutMs;
    if (ms > 0) {
      node.timer = setTimeout(() => this.stop(node, `time limit of ${ms} ms reached`, "failed"), ms);
      node.timer.unref?.();
    }
  }

  /** Stops an agent and its live descendants; their open calls get synthetic outputs. */
  stop(node: AgentNode, reason: string, status: "aborted" | "failed" = "aborted"): void {
    for (const child of node.children)
      if (!isFinal(child.status)) this.stop(child, `its parent ${node.id} was stopped`);
    if (!node.parent) {
      if (node.engine?.status === "running") node.engine.submit({ type: "interrupt" });
      return;
    }
    if (isFinal(node.status)) return;
    node.stopReason = reason;
    this.slots.cancel(node.threadId);
    const engine = node.engine;
    if (engine && engine.status === "running" && status === "aborted") {
      engine.submit({ type: "interrupt" }); // turn_aborted -> finish(aborted)
      return;
    }
    if (engine && engine.status === "running") engine.submit({ type: "interrupt" });
    this.finish(node, status, reason);
  }

  /** Closes every engine, children first. */
  async close(): Promise<void> {
    if (this.closing) return;
    // Agents being stopped finish first (their interrupt is on its way): closed now, their cut
    // turn would read as a shutdown, and a restart would continue work that was stopped.
    const stopping = [...this.byId.values()].filter((n) => n.stopReason !== undefined && !isFinal(n.status));
    if (stopping.length > 0)
      await this.barriers.wait(stopping, "all", STOP_GRACE_MS, new AbortController().signal, () => false);
    this.closing = true;
    const nodes = [...this.byId.values()].sort((a, b) => b.depth - a.depth);
    for (const n of nodes) if (n.timer) clearTimeout(n.timer);
    await Promise.all(nodes.map((n) => n.engine?.close()));
    this.barriers.changed();
    this.feed.close();
  }

  /** Waits until `targets` meet the barrier (see Barriers.wait). */
  wait(targets: readonly AgentNode[], mode: WaitMode, timeoutMs: number, signal: AbortSignal) {
    return this.barriers.wait(targets, mode, timeoutMs, signal, () => this.closing);
  }
}

function refuse(message: string): SpawnResult {
  return { ok: false, message };
}
