import { z } from "zod";
import { FilePart, ImagePart } from "./items.ts";

/**
 * Op: every change to an engine arrives as one of these, wrapped in a Submission.
 * Each variant documents the events the engine emits in response. Ops that start a turn
 * are queued behind a running turn; control ops (steer, interrupt, approval,
 * user_input_answer) apply immediately.
 */

/**
 * Starts a turn with a user message (text plus optional images and files).
 * Emits `turn_started`, `user_message`, the turn's model/tool events, then exactly one of
 * `turn_completed`, `turn_failed` or `turn_aborted`. Queued if a turn is running.
 */
export const UserInputOp = z.object({
  type: z.literal("user_input"),
  text: z.string(),
  images: z.array(ImagePart).optional(),
  files: z.array(FilePart).optional(),
});

/**
 * Adds a message to the running turn, delivered at its next model call. The running turn
 * emits `user_message` (kind `steer`) when it is delivered; this submission gets
 * `op_applied`. With no turn running the text starts a new turn, exactly like `user_input`.
 */
export const SteerOp = z.object({ type: z.literal("steer"), text: z.string() });

/**
 * Cancels the running turn: its model stream, tools, hooks and waits. The turn emits
 * `tool_call_completed` (synthetic, `isError`) for every open call, then `turn_aborted`;
 * this submission gets `op_applied`, or `op_rejected` (code `no_active_turn`).
 */
export const InterruptOp = z.object({ type: z.literal("interrupt"), reason: z.string().optional() });

/** The answer to a permission request. */
export const ApprovalDecision = z.enum(["allow_once", "allow_always", "deny"]);
export type ApprovalDecision = z.infer<typeof ApprovalDecision>;

/**
 * Resolves a pending `permission_requested`. `editedInput` replaces the tool input (allow
 * only); `reason` is shown to the model on deny. Emits `permission_resolved` on the turn
 * and `op_applied` here, or `op_rejected` (code `unknown_request`).
 */
export const ApprovalOp = z.object({
  type: z.literal("approval"),
  requestId: z.string(),
  decision: ApprovalDecision,
  editedInput: z.unknown().optional(),
  reason: z.string().optional(),
});

/**
 * Answers a pending `user_input_requested`. Emits `op_applied`, or `op_rejected`
 * (code `unknown_request`).
 */
export const UserInputAnswerOp = z.object({
  type: z.literal("user_input_answer"),
  requestId: z.string(),
  answer: z.string(),
});

/**
 * Drops the last `turns` turns from the model's view of the thread (the transcript keeps
 * them behind a rollback marker). Emits `thread_rewound`, or `op_rejected`. Queued.
 */
export const RewindOp = z.object({ type: z.literal("rewind"), turns: z.number().int().positive() });

/**
 * Compacts the history now with the configured strategy. Emits `compaction_started` and
 * `compaction_completed`, or `op_rejected` (code `compaction_unavailable`). Queued.
 */
export const CompactOp = z.object({ type: z.literal("compact") });

/**
 * Changes settings for the following turns (the running turn keeps its own, so its prompt
 * prefix stays stable). Emits `context_overridden`, or `op_rejected` for an unknown model.
 */
export const OverrideContextOp = z.object({
  type: z.literal("override_context"),
  model: z.string().optional(),
  cwd: z.string().optional(),
  permissionMode: z.string().optional(),
});

/**
 * Interrupts any running turn, flushes the transcript and stops the engine. Emits
 * `shutdown_complete`; later submissions are rejected with TaifengError `engine_closed`.
 */
export const ShutdownOp = z.object({ type: z.literal("shutdown") });

/** Every operation an engine accepts. */
export const Op = z.discriminatedUnion("type", [
  UserInputOp,
  SteerOp,
  InterruptOp,
  ApprovalOp,
  UserInputAnswerOp,
  RewindOp,
  CompactOp,
  OverrideContextOp,
  ShutdownOp,
]);
export type Op = z.infer<typeof Op>;
export type OpType = Op["type"];

/** An op with the id the engine assigned it; events it causes carry this id. */
export const Submission = z.object({ id: z.string(), op: Op });
export type Submission = z.infer<typeof Submission>;
