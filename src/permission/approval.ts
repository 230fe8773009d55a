import type { ApprovalDecision } from "../protocol/index.ts";
import { formatDuration } from "../tool/scheduler.ts";
import type { PermissionDecision } from "./evaluate.ts";
import type { PermissionMode } from "./modes.ts";

/** What the host's `canUseTool` callback sees. */
export interface CanUseToolContext {
  readonly signal: AbortSignal;
  readonly threadId: string;
  readonly turnId: string;
  readonly callId: string;
  readonly mode: PermissionMode | undefined;
  /** Why the call needs a decision: the rule, reason and suggested "always allow" rules. */
  readonly decision: PermissionDecision;
}

/**
 * The host's answer: run the call (optionally with edited input, optionally adding session
 * rules), refuse it (`message` is shown to the model), or leave it to a person (`ask`, the
 * same as returning nothing).
 */
export type CanUseToolResult =
  | { readonly behavior: "allow"; readonly updatedInput?: unknown; readonly rules?: readonly string[] }
  | { readonly behavior: "deny"; readonly message?: string }
  | { readonly behavior: "ask" };

/**
 * Decides in code what would otherwise be asked of a person. Called for every call the
 * rules (or a hook) would ask about, before any `permission_requested` is left waiting.
 * A callback that throws counts as `deny` (the message says why).
 */
export type CanUseTool = (
  tool: string,
  input: unknown,
  ctx: CanUseToolContext,
) => CanUseToolResult | undefined | Promise<CanUseToolResult | undefined>;

/** The answer an `approval` op carries. */
export interface ApprovalAnswer {
  readonly decision: ApprovalDecision;
  readonly editedInput?: unknown;
  readonly reason?: string | undefined;
}

/** Waits for answers by request id (the engine's PendingRequests). */
export interface RequestWaiter {
  wait<T>(
    kind: string,
    id: string,
    signal: AbortSignal,
    timeoutMs?: number,
    onSettle?: (result: { kind: "answered"; value: T } | { kind: "aborted" } | { kind: "timeout" }) => void,
  ): Promise<{ kind: "answered"; value: T } | { kind: "aborted" } | { kind: "timeout" }>;
}

/** How a call was let through or refused, kept for post_tool hooks and audit lines. */
export interface PermissionNote {
  readonly decision: "allow" | "deny";
  readonly by:
    | "rule"
    | "mode"
    | "command_check"
    | "hook"
    | "callback"
    | "user"
    | "timeout"
    | "abort"
    | "none";
  readonly rule?: string | undefined;
  readonly reason?: string | undefined;
}

/** Model-readable texts for refused calls. */
export const DENIAL = {
  rule: (reason: string) =>
    `Permission denied: ${reason}. Do not retry this call; choose another approach or ask the user.`,
  user: (reason: string | undefined) => `The user denied this tool call${reason ? `: ${reason}` : "."}`,
  timeout: (ms: number) => `No one approved this tool call within ${formatDuration(ms)}, so it was not run.`,
  unrecorded: (why: string) =>
    `This tool call needs approval, but the request could not be recorded (${why}), so no one was asked and it was not run.`,
  unrecordedDecision: (why: string) =>
    `This tool call was approved, but the approval could not be recorded (${why}), so it was not run.`,
  noApprover: (reason: string) =>
    `This tool call needs approval (${reason}), and no one can approve it in this session, so it was not run.`,
  hook: (reason: string) => `Blocked by a hook: ${reason}`,
  callback: (message: string | undefined) => message ?? "The host denied this tool call.",
  aborted: () => "The turn was interrupted while this call waited for approval.",
};
