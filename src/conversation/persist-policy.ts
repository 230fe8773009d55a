import type { EventMsg, EventMsgType } from "../protocol/index.ts";

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
  model_call_completed: "skip", // usage is totalled on the turn end event
  model_retry: "skip",
  tool_call_started: "skip", // recorded as a function_call item
  tool_call_progress: "skip", // transient
  tool_call_completed: "skip", // recorded as a function_call_output item
  skill_started: "skip",
  skill_completed: "skip",
  permission_requested: "persist", // a pending request must survive a restart
  permission_resolved: "persist",
  user_input_requested: "persist",
  compaction_started: "skip",
  compaction_completed: "persist",
  child_spawned: "persist",
  child_completed: "persist",
  peer_message: "persist",
  op_applied: "skip",
  op_rejected: "skip",
  thread_rewound: "skip", // recorded as a rollback line
  context_overridden: "skip", // the next turn_context records it
  shutdown_complete: "skip",
  warning: "persist",
  error: "persist",
} as const satisfies Record<EventMsgType, "persist" | "skip">;

/** True when the event belongs in the transcript. */
export function shouldPersist(msg: EventMsg): boolean {
  return EVENT_PERSISTENCE[msg.type] === "persist";
}
