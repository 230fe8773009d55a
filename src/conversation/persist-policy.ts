import type { Event, EventMsg, EventMsgType, RolloutLineOf } from "../protocol/index.ts";

/**
 * Which events go into the transcript. Exhaustive by construction: adding an EventMsg
 * variant without a decision here fails type-checking. Deltas and anything already
 * recorded as a ResponseItem or a dedicated line are skipped.
 */
export const EVENT_PERSISTENCE = {
  thread_opened: "skip", // re-emitted on every open
  turn_started: "skip", // the turn_context line marks the start
  user_message: "skip", // recorded as a response_item
  turn_completed: "persist",
  turn_failed: "persist",
  turn_aborted: "persist",
  model_call_started: "skip",
  assistant_text: "skip", // delta
  reasoning_delta: "skip", // delta
  assistant_message: "skip", // recorded as a response_item
  model_call_completed: "persist", // per-call usage and finish for trace export (ADR 2201)
  model_retry: "skip",
  tool_call_started: "skip", // recorded as a function_call item
  tool_call_progress: "skip", // transient
  tool_call_completed: "skip", // recorded as a function_call_output item
  skill_started: "skip",
  skill_completed: "skip",
  permission_requested: "persist", // a pending request must survive a restart
  permission_resolved: "persist",
  user_input_requested: "persist",
  compaction_planned: "persist", // rare (one per decision); says why the next checkpoint exists
  compaction_started: "skip",
  compaction_completed: "persist",
  child_spawned: "persist",
  child_completed: "persist",
  peer_message: "persist",
  wake_scheduled: "persist", // a persistent agent's timer survives a restart
  op_applied: "skip",
  op_rejected: "skip",
  thread_rewound: "skip", // recorded as a rollback line
  context_overridden: "skip", // the next turn_context records it
  shutdown_complete: "skip",
  warning: "persist",
  budget_warning: "persist",
  error: "persist",
  mcp_server_failed: "persist",
  model_routed: "skip", // deterministic from its inputs; observers and telemetry see it live
  rate_limit_wait: "skip",
  model_recovery: "persist", // explains why one assistant message came from several calls
} as const satisfies Record<EventMsgType, "persist" | "skip">;

/** True when the event belongs in the transcript. */
export function shouldPersist(msg: EventMsg): boolean {
  return EVENT_PERSISTENCE[msg.type] === "persist";
}

/** The open turn a persisted event is compared with, to omit ids the position already implies. */
export interface OpenTurnIds {
  readonly turnId: string;
  readonly submissionId: string | undefined;
}

/**
 * The compact on-disk form of a persisted event: ids of the open turn are omitted (membership
 * is positional) and `turn_completed` drops `text`, which the turn's items already hold.
 * Returns undefined when the policy skips the event.
 */
export function persistedEvent(
  event: Event,
  open: OpenTurnIds | undefined,
): RolloutLineOf<"event">["payload"] | undefined {
  const msg = event.msg;
  if (!shouldPersist(msg)) return undefined;
  let stored: RolloutLineOf<"event">["payload"]["msg"] = msg;
  if (msg.type === "turn_completed") {
    const { text: _text, ...rest } = msg;
    stored = rest;
  }
  const inOpenTurn = open !== undefined && event.turnId === open.turnId;
  const turnId = inOpenTurn ? undefined : event.turnId;
  const submissionId =
    inOpenTurn && event.submissionId === open.submissionId ? undefined : event.submissionId;
  // Usually both ids are implied; built without spreads, keys in the same order as ever.
  if (turnId === undefined)
    return submissionId === undefined ? { msg: stored } : { submissionId, msg: stored };
  return submissionId === undefined ? { turnId, msg: stored } : { turnId, submissionId, msg: stored };
}
