/** One agent of a tree as the supervisor keeps it, and what its transcript says about it. */
import { createHash } from "node:crypto";
import type { ModelClient } from "../llm/types.ts";
import type { AgentEngine } from "../loop/engine.ts";
import type { ListenerContext } from "../loop/event-hub.ts";
import type { Event, EventMsgOf, RolloutLine, Usage } from "../protocol/index.ts";
import { addUsage, emptyUsage } from "../protocol/index.ts";
import type { Tool } from "../tool/define.ts";
import type { AgentDefinition, AgentInfo, AgentStatus } from "./types.ts";

/** The supervisor's record of one agent. Mutable: only the tree changes it. */
export interface AgentNode {
  readonly id: string;
  readonly threadId: string;
  readonly name: string;
  readonly parent: AgentNode | undefined;
  readonly depth: number;
  readonly callId: string | undefined;
  readonly task: string | undefined;
  readonly instructions: string | undefined;
  readonly definition: AgentDefinition | undefined;
  readonly children: AgentNode[];
  engine: AgentEngine | undefined;
  /** The engine's listener context: how the tree adds child events to this agent's engine. */
  ctx: ListenerContext | undefined;
  /** `turn_started` of the running turn: the cause events added to this engine are attributed to. */
  turn: Event | undefined;
  status: AgentStatus;
  output: string | undefined;
  error: string | undefined;
  lastText: string | undefined;
  readonly usage: Usage;
  wakes: number;
  /** Holds a live slot. */
  live: boolean;
  timer: NodeJS.Timeout | undefined;
  /** Why the tree stopped it (set before the interrupt). */
  stopReason: string | undefined;
  /** Requests of its engine waiting on a person, by request id -> call id. */
  readonly pending: Map<string, string | undefined>;
  /** Messages received while queued: delivered with its task. */
  readonly inbox: string[];
  /** Its engine closed a turn a crash left open (set while the tree reopens it). */
  crashed: boolean;
  /** Its engine resumed a turn that waited on a person. */
  resumed: boolean;
  model: ModelClient | undefined;
  /** The tools its own children may inherit (not the agent tools). */
  tools: readonly Tool[];
}

/** A fresh node. */
export function newNode(init: {
  id: string;
  threadId: string;
  name: string;
  parent: AgentNode | undefined;
  callId?: string | undefined;
  task?: string | undefined;
  instructions?: string | undefined;
  definition?: AgentDefinition | undefined;
  status: AgentStatus;
}): AgentNode {
  return {
    id: init.id,
    threadId: init.threadId,
    name: init.name,
    parent: init.parent,
    depth: init.parent ? init.parent.depth + 1 : 0,
    callId: init.callId,
    task: init.task,
    instructions: init.instructions,
    definition: init.definition,
    children: [],
    engine: undefined,
    ctx: undefined,
    turn: undefined,
    status: init.status,
    output: undefined,
    error: undefined,
    lastText: undefined,
    usage: emptyUsage(),
    wakes: 0,
    live: false,
    timer: undefined,
    stopReason: undefined,
    pending: new Map(),
    inbox: [],
    crashed: false,
    resumed: false,
    model: undefined,
    tools: [],
  };
}

/** The public view of a node. */
export function infoOf(node: AgentNode): AgentInfo {
  return {
    id: node.id,
    threadId: node.threadId,
    name: node.name,
    parent: node.parent?.id,
    depth: node.depth,
    status: node.status,
    task: node.task,
    output: node.output,
    error: node.error,
    usage: { ...node.usage },
    children: node.children.map((c) => c.id),
  };
}

/**
 * A child's thread id, derived from its parent's thread and the spawning call: a spawn run
 * again after a restart (same call id) finds the child it already made instead of a second one.
 */
export function childThreadId(parentThreadId: string, callId: string): string {
  return `agt_${createHash("sha256").update(`${parentThreadId}\0${callId}`).digest("hex").slice(0, 24)}`;
}

/** What a child's transcript says: its recipe, how many turns it ran, how the last one ended. */
export interface TranscriptState {
  readonly agent: NonNullable<RolloutLine & { type: "thread_meta" }>["payload"]["agent"];
  readonly turns: number;
  /** A turn was still open at the end of the file. */
  readonly open: boolean;
  readonly lastEnd: EventMsgOf<"turn_completed" | "turn_failed" | "turn_aborted"> | undefined;
  /** The last assistant message's text. */
  readonly lastText: string | undefined;
  readonly usage: Usage;
  /** Child thread ids this agent spawned, in order (from child_spawned and spawn_agent calls). */
  readonly children: readonly string[];
  /** `update_state` calls that succeeded, with their time: replayed to rebuild shared state. */
  readonly stateOps: readonly { readonly ts: number; readonly arguments: string }[];
  /** Messages this agent sent (`send_message` calls that succeeded): id, recipient path, text. */
  readonly sent: readonly Mail[];
  /** Ids of the messages that reached this agent's model (found in its user messages). */
  readonly received: ReadonlySet<string>;
}

/** A message between agents: delivered framed as `[message from <path> (<id>)] text`. */
export interface Mail {
  readonly id: string;
  readonly to: string;
  readonly text: string;
}

/** A message's id: derived from the sender's thread and its send_message call (stable across restarts). */
export function mailId(threadId: string, callId: string): string {
  return `msg_${createHash("sha256").update(`${threadId}\0${callId}`).digest("hex").slice(0, 16)}`;
}

/** The text a recipient's model reads; it carries the id, so a transcript shows what arrived. */
export function frameMail(from: string, id: string, text: string): string {
  return `[message from ${from} (${id})] ${text}`;
}

const MAIL_ID = /\((msg_[0-9a-f]{16})\)\]/g;

/** Reads a transcript for what the tree needs. `spawnTool` names the spawning tool. */
export function readState(
  lines: readonly RolloutLine[],
  threadId: string,
  spawnTool: string,
  stateTool = "update_state",
  sendTool = "send_message",
): TranscriptState {
  const sendCalls = new Map<string, string>();
  const sent: Mail[] = [];
  const received = new Set<string>();
  const stateCalls = new Map<string, { ts: number; arguments: string }>();
  const stateOps: { ts: number; arguments: string }[] = [];
  let agent: TranscriptState["agent"];
  let turns = 0;
  let open = false;
  let lastEnd: TranscriptState["lastEnd"];
  let lastText: string | undefined;
  const usage = emptyUsage();
  const children: string[] = [];
  const seen = new Set<string>();
  const child = (id: string) => {
    if (!seen.has(id)) {
      seen.add(id);
      children.push(id);
    }
  };
  for (const line of lines) {
    switch (line.type) {
      case "thread_meta":
        agent = line.payload.agent;
        break;
      case "turn_context":
        turns++;
        open = true;
        break;
      case "response_item": {
        const item = line.payload;
        if (item.type === "function_call" && item.name === spawnTool)
          child(childThreadId(threadId, item.callId));
        else if (item.type === "function_call" && item.name === stateTool)
          stateCalls.set(item.callId, { ts: line.ts, arguments: item.arguments });
        else if (item.type === "function_call" && item.name === sendTool)
          sendCalls.set(item.callId, item.arguments);
        else if (item.type === "function_call_output" && !item.isError && stateCalls.has(item.callId))
          stateOps.push(stateCalls.get(item.callId) as { ts: number; arguments: string });
        else if (item.type === "function_call_output" && !item.isError && sendCalls.has(item.callId)) {
          const mail = sentMail(threadId, item.callId, sendCalls.get(item.callId));
          if (mail) sent.push(mail);
        } else if (item.type === "message" && item.role === "user") {
          for (const p of item.content)
            if (p.type === "text") for (const m of p.text.matchAll(MAIL_ID)) received.add(m[1] as string);
        } else if (item.type === "message" && item.role === "assistant") {
          const text = item.content.map((p) => (p.type === "text" ? p.text : "")).join("");
          if (text !== "") lastText = text;
        }
        break;
      }
      case "event": {
        const msg = line.payload.msg;
        if (msg.type === "child_spawned") child(msg.childThreadId);
        else if (msg.type === "turn_completed" || msg.type === "turn_failed" || msg.type === "turn_aborted") {
          open = false;
          lastEnd = msg as TranscriptState["lastEnd"];
          addUsage(usage, msg.usage);
        }
        break;
      }
      default:
        break;
    }
  }
  return { agent, turns, open, lastEnd, lastText, usage, children, stateOps, sent, received };
}

/**
 * What a finished turn means for a child: a final status, or `continue` when the turn was cut
 * by a crash or a shutdown (the work goes on after a restart).
 */
export function outcomeOf(
  end: EventMsgOf<"turn_completed" | "turn_failed" | "turn_aborted">,
): { status: "completed" | "failed" | "aborted"; error?: string } | "continue" {
  if (end.type === "turn_completed") return { status: "completed" };
  if (end.type === "turn_failed")
    return { status: "failed", error: `${end.error.code}: ${end.error.message}` };
  if (end.reason === "crash" || end.reason === "shutdown") return "continue";
  if (end.reason === "timeout") return { status: "failed", error: end.message };
  return { status: "aborted", error: end.message };
}

function sentMail(threadId: string, callId: string, args: string | undefined): Mail | undefined {
  try {
    const { to, text } = JSON.parse(args ?? "") as { to?: unknown; text?: unknown };
    if (typeof to !== "string" || typeof text !== "string") return undefined;
    return { id: mailId(threadId, callId), to, text };
  } catch {
    return undefined;
  }
}
