/** Rebuilding a tree from its transcripts after a restart (see ADR 1401). */
import { describeError } from "../errors.ts";
import { addUsage } from "../protocol/index.ts";
import { openAgentEngine, prepareAgent } from "./agent-engine.ts";
import { type AgentNode, frameMail, newNode, outcomeOf, readState, type TranscriptState } from "./node.ts";
import type { StateOp, StateScope } from "./state.ts";
import { AGENT_TOOL_NAMES } from "./tools.ts";
import type { TreeState } from "./tree-state.ts";

const CONTINUE =
  "[The process restarted while you were working on your task. Tool results above are final and were not run again; a call the restart cut off is marked as not completed. Continue the task from where you stopped, then give your final answer.]";

/** Rebuilds the children of `node` (recursively) from the transcripts. */
export async function restoreChildren(tree: TreeState, node: AgentNode): Promise<void> {
  const lines = await tree.store.read(node.threadId);
  const own = readState(
    lines,
    node.threadId,
    AGENT_TOOL_NAMES.spawn,
    AGENT_TOOL_NAMES.updateState,
    AGENT_TOOL_NAMES.send,
  );
  for (const op of own.stateOps) tree.replay.push({ ...op, owner: node.id });
  for (const mail of own.sent) tree.mail.sent.push({ ...mail, from: node.id });
  tree.mail.received.set(node.id, own.received);
  if (!node.parent) {
    addUsage(node.usage, own.usage);
    tree.spentTokens += own.usage.inputTokens + own.usage.outputTokens;
  }
  for (const id of own.children) {
    if (tree.byThread.has(id) || !(await tree.store.exists(id))) continue;
    const state = readState(await tree.store.read(id), id, AGENT_TOOL_NAMES.spawn);
    const meta = state.agent;
    if (!meta || meta.parentThreadId !== node.threadId) continue;
    const def = meta.name === "inline" ? undefined : tree.definitions.get(meta.name);
    const child = newNode({
      id: meta.path,
      threadId: id,
      name: meta.name,
      parent: node,
      callId: meta.callId,
      task: meta.task,
      instructions: meta.instructions,
      definition: def,
      status: "queued",
    });
    addUsage(child.usage, state.usage);
    tree.spentTokens += state.usage.inputTokens + state.usage.outputTokens;
    child.lastText = state.lastText;
    tree.register(child);
    node.children.push(child);
    if (meta.name !== "inline" && !def) {
      child.status = "failed";
      child.error = `its definition "${meta.name}" is no longer defined`;
      continue;
    }
    try {
      await prepareAgent(tree, child);
    } catch (err) {
      child.status = "failed";
      child.error = `could not be reopened: ${describeError(err)}`;
      continue;
    }
    await restoreChildren(tree, child);
    await reopen(tree, child, state);
  }
}

async function reopen(tree: TreeState, child: AgentNode, state: TranscriptState): Promise<void> {
  const outcome = state.lastEnd && !state.open ? outcomeOf(state.lastEnd) : "continue";
  if (outcome !== "continue") {
    child.status = outcome.status;
    child.output = outcome.status === "completed" ? state.lastText : undefined;
    child.error = outcome.error;
  }
  try {
    await openAgentEngine(tree, child);
  } catch (err) {
    child.status = "failed";
    child.error = `could not be reopened: ${describeError(err)}`;
    return;
  }
  if (outcome !== "continue") return;
  if (child.resumed) {
    child.status = child.pending.size > 0 ? "waiting" : "running";
    child.live = true;
    tree.slots.force();
  } else if (state.turns === 0) tree.schedule(child, child.task ?? "");
  else tree.schedule(child, CONTINUE);
  child.crashed = false;
}

/** Ends the rebuild: replays the recorded state updates in time order, starts the children it scheduled. */
export function resumeDeferred(tree: TreeState): void {
  for (const op of tree.replay.sort((a, b) => a.ts - b.ts)) {
    try {
      const args = JSON.parse(op.arguments) as { scope: StateScope; key: string } & StateOp;
      if (args.scope !== "pool") tree.shared.update(args.scope, op.owner, args.key, args);
    } catch {
      // a call the model made with bad input failed then too: nothing to replay
    }
  }
  tree.replay.length = 0;
  redeliver(tree);
  const list = tree.deferred ?? [];
  tree.deferred = undefined;
  for (const { node, text } of list) tree.schedule(node, text);
}

/**
 * Delivers again every message an agent sent (its `send_message` call succeeded) that its
 * recipient's transcript does not show: the recipient was suspended, queued or cut off by
 * the crash before its next model call read it. Each message carries its id, so one that
 * arrived is never delivered twice.
 */
function redeliver(tree: TreeState): void {
  const queued = new Set((tree.deferred ?? []).map((d) => d.node));
  for (const mail of tree.mail.sent) {
    const to = tree.byId.get(mail.to);
    if (!to?.engine || to.engine.status === "closed" || tree.mail.received.get(to.id)?.has(mail.id)) continue;
    const framed = frameMail(mail.from, mail.id, mail.text);
    if (queued.has(to) || to.status === "queued") to.inbox.push(framed);
    else to.engine.submit({ type: "steer", text: framed });
  }
  tree.mail.sent.length = 0;
  tree.mail.received.clear();
}
