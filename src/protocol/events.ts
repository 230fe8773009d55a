import { z } from "zod";
import { ToolOutput } from "./items.ts";
import { ApprovalDecision } from "./ops.ts";
import { ErrorInfo, Usage } from "./usage.ts";

/**
 * EventMsg: everything observers see (UIs, telemetry, logs). Lifecycle events come in
 * pairs (`*_started` / `*_completed`); deltas stream text and are never persisted.
 * Which variants are persisted is decided by the exhaustive table in
 * `src/conversation/persist-policy.ts`.
 */

const StepFields = { step: z.number().int().positive(), model: z.string() };

/** Opened or resumed a thread. Engine-level: carries no submissionId. */
export const ThreadOpened = z.object({
  type: z.literal("thread_opened"),
  resumed: z.boolean(),
  /** Turns visible to the model after replay (rolled-back turns excluded). */
  turns: z.number().int().nonnegative(),
  /**
   * Set when the transcript ended in a turn suspended on a person (an approval or an
   * ask_user answer): that turn continues under this submission id, starting by re-emitting
   * its pending request. Subscribe to it to follow the turn.
   */
  resumedTurn: z.object({ turnId: z.string(), submissionId: z.string() }).optional(),
});

/** A turn began. Always followed by exactly one turn_completed | turn_failed | turn_aborted. */
export const TurnStarted = z.object({ type: z.literal("turn_started"), model: z.string() });

/** A user message entered the history: the turn's input, or a steer delivered mid-turn. */
export const UserMessage = z.object({
  type: z.literal("user_message"),
  kind: z.enum(["input", "steer"]),
  text: z.string(),
  attachments: z.number().int().nonnegative().optional(),
});

/** The turn ended normally. `text` is the final answer (last assistant text, or task_finish's result). */
export const TurnCompleted = z.object({
  type: z.literal("turn_completed"),
  text: z.string(),
  /** Parsed structured output, when the turn asked for one. */
  output: z.unknown().optional(),
  steps: z.number().int().nonnegative(),
  usage: Usage,
  costUsd: z.number().nonnegative().optional(),
  durationMs: z.number().nonnegative(),
});

/** The turn ended with an error (model failure after retries, step budget, store failure...). */
export const TurnFailed = z.object({
  type: z.literal("turn_failed"),
  error: ErrorInfo,
  steps: z.number().int().nonnegative(),
  usage: Usage,
  costUsd: z.number().nonnegative().optional(),
  durationMs: z.number().nonnegative(),
});

/** The turn was cancelled. Every call it left open has already received a synthetic output. */
export const TurnAborted = z.object({
  type: z.literal("turn_aborted"),
  reason: z.enum(["interrupt", "shutdown", "crash", "timeout"]),
  message: z.string(),
  steps: z.number().int().nonnegative(),
  usage: Usage,
  durationMs: z.number().nonnegative(),
});

/** A model call (one step of the turn) began. */
export const ModelCallStarted = z.object({ type: z.literal("model_call_started"), ...StepFields });

/** A chunk of assistant text. Not persisted. */
export const AssistantText = z.object({ type: z.literal("assistant_text"), delta: z.string() });

/** A chunk of model reasoning. Not persisted. */
export const ReasoningDelta = z.object({ type: z.literal("reasoning_delta"), delta: z.string() });

/** The full assistant text of one model call (emitted only when non-empty). */
export const AssistantMessage = z.object({ type: z.literal("assistant_message"), text: z.string() });

/** A model call ended; its usage and cost. */
export const ModelCallCompleted = z.object({
  type: z.literal("model_call_completed"),
  ...StepFields,
  finishReason: z.enum(["stop", "tool_calls", "length", "content_filter", "refusal", "error", "aborted"]),
  usage: Usage,
  costUsd: z.number().nonnegative().optional(),
  durationMs: z.number().nonnegative(),
  /** The classified failure, when `finishReason` is `error`. */
  error: ErrorInfo.optional(),
});

/** A model call failed with a retryable error and will be tried again after `delayMs`. */
export const ModelRetry = z.object({
  type: z.literal("model_retry"),
  ...StepFields,
  attempt: z.number().int().positive(),
  delayMs: z.number().nonnegative(),
  error: ErrorInfo,
});

/** The engine accepted a tool call and is about to run it (after validation and permission). */
export const ToolCallStarted = z.object({
  type: z.literal("tool_call_started"),
  callId: z.string(),
  name: z.string(),
  input: z.unknown(),
});

/** Progress reported by a running tool through `ctx.progress`. Not persisted. */
export const ToolCallProgress = z.object({
  type: z.literal("tool_call_progress"),
  callId: z.string(),
  name: z.string(),
  data: z.unknown(),
});

/** How a tool call ended. */
export const ToolCallStatus = z.enum([
  "ok",
  "error",
  "invalid_input",
  "timeout",
  "aborted",
  "denied",
  "unknown_tool",
]);
export type ToolCallStatus = z.infer<typeof ToolCallStatus>;

/** A tool call ended; `output` is exactly what the model will see. Emitted once per call. */
export const ToolCallCompleted = z.object({
  type: z.literal("tool_call_completed"),
  callId: z.string(),
  name: z.string(),
  output: ToolOutput,
  isError: z.boolean(),
  status: ToolCallStatus,
  durationMs: z.number().nonnegative(),
});

/**
 * A skill began running (activation through call_skill or a composite plan step). Nested
 * activations are reported on the root engine's bus too: `callId` is the root tool call that
 * led here, `chain` the skills above this one (outermost first; `depth` is its length).
 * Always followed by one skill_completed with the same name and callId.
 */
export const SkillStarted = z.object({
  type: z.literal("skill_started"),
  name: z.string(),
  callId: z.string().optional(),
  depth: z.number().int().nonnegative(),
  chain: z.array(z.string()).optional(),
});

/** A skill ended. `error` says why when `ok` is false; `usage` totals its child turns' model calls. */
export const SkillCompleted = z.object({
  type: z.literal("skill_completed"),
  name: z.string(),
  callId: z.string().optional(),
  ok: z.boolean(),
  durationMs: z.number().nonnegative(),
  error: z.string().optional(),
  usage: Usage.optional(),
});

/** A tool call needs a decision; the call waits for an `approval` op (or a timeout, which denies). */
export const PermissionRequested = z.object({
  type: z.literal("permission_requested"),
  requestId: z.string(),
  callId: z.string(),
  tool: z.string(),
  input: z.unknown(),
  rule: z.string().optional(),
  reason: z.string().optional(),
  /** Rules an "always allow" answer would add, e.g. `Bash(npm run test:*)`. */
  suggestions: z.array(z.string()),
});

/**
 * A permission request was answered: by the user (an `approval` op), a timeout, a hook, the
 * host's `canUseTool` callback, an interrupt (`abort`), or the rules themselves (`rule`: a
 * request re-evaluated after a restart no longer needed a person).
 */
export const PermissionResolved = z.object({
  type: z.literal("permission_resolved"),
  requestId: z.string(),
  decision: ApprovalDecision,
  by: z.enum(["user", "timeout", "hook", "callback", "abort", "rule"]),
  reason: z.string().optional(),
  /** Allow rules an `allow_always` answer added for the rest of the session. */
  rules: z.array(z.string()).optional(),
});

/** The model (through ask_user) needs an answer; the turn waits for a `user_input_answer` op. */
export const UserInputRequested = z.object({
  type: z.literal("user_input_requested"),
  requestId: z.string(),
  callId: z.string().optional(),
  question: z.string(),
  options: z.array(z.string()).optional(),
  /**
   * Set when the runtime itself ends the wait, not a person: `agents` = a call parked until
   * child agents meet a barrier (`wait_agents`, `spawn_agent` with `wait`). Hosts do not answer
   * it; like a question it is persisted, so a restart resumes the turn and re-runs the call.
   */
  awaiting: z.literal("agents").optional(),
});

const CompactionTrigger = z.enum(["manual", "pre_sampling", "mid_turn", "overflow"]);

/**
 * The context planner decided something, with the estimates behind it, so a user can see why
 * the history is (or is not) rewritten: `trim` and `handoff` are followed by the strategy's
 * `compaction_started` / `compaction_completed`; `defer` means a trim had paid its way in
 * reads but would not pay back before the history is summarized anyway. Costs are in
 * uncached-input-token equivalents (1,000 = what 1,000 uncached input tokens cost), and in
 * USD when the model's prices are known.
 */
export const CompactionPlanned = z.object({
  type: z.literal("compaction_planned"),
  action: z.enum(["trim", "handoff", "defer"]),
  /**
   * `break_even`: the reads paid for the trimmable tokens reached the rewrite's cost;
   * `forced`: the next call would not fit; `cold_cache`: the provider's cache expired, a
   * rewrite is free; `boundary`: at a request boundary, the next turn's reads pay for a trim
   * that also stubs the last turn's outputs; `early`: a handoff the coming turn would force,
   * done at its start;
   * `economic`: carrying the untrimmable history cost more than a summary.
   */
  reason: z.enum(["break_even", "forced", "cold_cache", "boundary", "early", "economic"]),
  trigger: CompactionTrigger,
  /** The provider cache style the costs were priced for. */
  cacheStyle: z.enum(["anthropic", "openai", "gemini", "none"]),
  /** Prompt tokens before the action. */
  tokens: z.number().int().nonnegative(),
  /** Tokens the action is expected to remove. */
  tokensRemoved: z.number().int().nonnegative(),
  /** Prompt tokens expected to stay cached across the rewrite. */
  cachedTokensKept: z.number().int().nonnegative(),
  /** One-time cost: cached tokens resent, the rewritten tail's cache write, a summary call. */
  cost: z.number().nonnegative(),
  /** Saving over `horizonCalls` later calls (tokens removed x the price of reading them). */
  saving: z.number().nonnegative(),
  horizonCalls: z.number().int().nonnegative(),
  costUsd: z.number().nonnegative().optional(),
  savingUsd: z.number().nonnegative().optional(),
});

/** Compaction began. */
export const CompactionStarted = z.object({
  type: z.literal("compaction_started"),
  strategy: z.string(),
  trigger: CompactionTrigger,
  tokensBefore: z.number().int().nonnegative(),
});

/** Compaction ended, with its cost to the prompt cache. */
export const CompactionCompleted = z.object({
  type: z.literal("compaction_completed"),
  strategy: z.string(),
  trigger: CompactionTrigger,
  tokensBefore: z.number().int().nonnegative(),
  tokensAfter: z.number().int().nonnegative(),
  /** Cached prefix tokens the rewrite invalidated (0 when the prefix was kept). */
  cachedTokensInvalidated: z.number().int().nonnegative(),
  /** Usage of the summary model call, when the strategy made one. */
  usage: Usage.optional(),
});

/** A child agent was spawned (emitted on its parent's engine). */
export const ChildSpawned = z.object({
  type: z.literal("child_spawned"),
  childThreadId: z.string(),
  name: z.string(),
  callId: z.string().optional(),
  /** The child's agent path, e.g. `root/researcher#2`. */
  path: z.string().optional(),
  /** True when the child waits for a free slot (the live-children limit) before it starts. */
  queued: z.boolean().optional(),
});

/** A child agent finished (emitted on its parent's engine). */
export const ChildCompleted = z.object({
  type: z.literal("child_completed"),
  childThreadId: z.string(),
  name: z.string(),
  status: z.enum(["completed", "failed", "aborted"]),
  text: z.string().optional(),
  path: z.string().optional(),
  /** The child's own usage, all its turns so far. */
  usage: Usage.optional(),
  /** Why it failed or was stopped. */
  error: z.string().optional(),
});

/** A message between peer agents. */
export const PeerMessage = z.object({
  type: z.literal("peer_message"),
  from: z.string(),
  to: z.string(),
  text: z.string(),
});

/**
 * A persistent agent's timer (`keepAlive`): set, or cancelled. Recorded in the agent's thread
 * so the schedule survives a restart; a wake fired is the turn whose user message starts with
 * `[wake <wakeId>]`.
 */
export const WakeScheduled = z.object({
  type: z.literal("wake_scheduled"),
  wakeId: z.string(),
  /** When it is due, ms since the epoch. */
  dueAt: z.number(),
  text: z.string(),
  cancelled: z.boolean().optional(),
});

/** A control op took effect (steer queued, interrupt delivered, approval recorded...). */
export const OpApplied = z.object({ type: z.literal("op_applied"), op: z.string() });

/** An op could not apply; nothing changed. */
export const OpRejected = z.object({
  type: z.literal("op_rejected"),
  op: z.string(),
  code: z.string(),
  message: z.string(),
});

/** A rewind took effect. */
export const ThreadRewound = z.object({
  type: z.literal("thread_rewound"),
  turns: z.number().int().positive(),
  remainingTurns: z.number().int().nonnegative(),
});

/** Settings for following turns changed. */
export const ContextOverridden = z.object({
  type: z.literal("context_overridden"),
  model: z.string().optional(),
  cwd: z.string().optional(),
  permissionMode: z.string().optional(),
});

/** The engine stopped; no more events follow. */
export const ShutdownComplete = z.object({ type: z.literal("shutdown_complete") });

/** Something worth attention that did not stop anything (torn transcript line, loop detected...). */
export const Warning = z.object({ type: z.literal("warning"), code: z.string(), message: z.string() });

/**
 * Spend crossed a warning threshold of a budget (70 % and 90 % by default): `used` of `limit`
 * in `unit` (tokens or USD) for the turn or the thread. Reaching 100 % stops the turn at its
 * next step boundary with `turn_failed` (code `budget_exceeded`).
 */
export const BudgetWarning = z.object({
  type: z.literal("budget_warning"),
  scope: z.enum(["turn", "thread"]),
  unit: z.enum(["tokens", "usd"]),
  /** The fraction of the limit that was crossed, e.g. 0.7. */
  threshold: z.number().positive(),
  used: z.number().nonnegative(),
  limit: z.number().positive(),
});

/** A failure that did not end a turn (a hook crashed, a sink failed...). */
export const ErrorEvent = z.object({ type: z.literal("error"), error: ErrorInfo });

/**
 * An MCP server could not be reached or died (crash, closed connection, failed handshake).
 * Its calls fail with a model-readable output meanwhile; the turn goes on. `attempts` counts
 * failures in a row (the next retry waits longer). Emitted on the turn that noticed it.
 */
export const McpServerFailed = z.object({
  type: z.literal("mcp_server_failed"),
  server: z.string(),
  error: z.string(),
  attempts: z.number().int().nonnegative(),
});

/**
 * A model router chose the model for one call (emitted before the call's first delta).
 * `reasons` lists, in order, the rules that narrowed the candidates; `skipped` names each
 * candidate left out and why. Deterministic: the same inputs give the same decision.
 */
export const ModelRouted = z.object({
  type: z.literal("model_routed"),
  ...StepFields,
  /** The router profile in force (`default`, `budget`, `deep`...). */
  profile: z.string(),
  /** The model that serves the call. */
  chosen: z.string(),
  reasons: z.array(z.string()),
  skipped: z.array(z.object({ model: z.string(), reason: z.string() })),
});

/**
 * A model call waits for a rate limiter slot (`key` names the limiter: provider, model or API
 * key). Cancellable: an interrupt during the wait ends the call with `aborted`.
 */
export const RateLimitWait = z.object({
  type: z.literal("rate_limit_wait"),
  ...StepFields,
  key: z.string(),
  waitMs: z.number().nonnegative(),
  /** `requests`, `tokens`, `retry_after` (the provider asked) or `adaptive` (learnt from headers). */
  reason: z.string(),
});

/**
 * A recovery policy acted on a model call: `continuation` (the answer hit the output limit and
 * is continued, stitched into one message), `stream_retry` (a stream failed before any output
 * and is tried once more), `non_streaming` (the same request sent without streaming),
 * `cut_after_calls` (a stream failed after complete tool calls: they are kept and run once).
 */
export const ModelRecovery = z.object({
  type: z.literal("model_recovery"),
  ...StepFields,
  action: z.enum(["continuation", "stream_retry", "non_streaming", "cut_after_calls"]),
  /** How many times this action ran in this call so far (1 for the first). */
  attempt: z.number().int().positive(),
  message: z.string(),
});

/** Every event message. */
export const EventMsg = z.discriminatedUnion("type", [
  ThreadOpened,
  TurnStarted,
  UserMessage,
  TurnCompleted,
  TurnFailed,
  TurnAborted,
  ModelCallStarted,
  AssistantText,
  ReasoningDelta,
  AssistantMessage,
  ModelCallCompleted,
  ModelRetry,
  ToolCallStarted,
  ToolCallProgress,
  ToolCallCompleted,
  SkillStarted,
  SkillCompleted,
  PermissionRequested,
  PermissionResolved,
  UserInputRequested,
  CompactionPlanned,
  CompactionStarted,
  CompactionCompleted,
  ChildSpawned,
  ChildCompleted,
  PeerMessage,
  WakeScheduled,
  OpApplied,
  OpRejected,
  ThreadRewound,
  ContextOverridden,
  ShutdownComplete,
  Warning,
  BudgetWarning,
  ErrorEvent,
  McpServerFailed,
  ModelRouted,
  RateLimitWait,
  ModelRecovery,
]);
export type EventMsg = z.infer<typeof EventMsg>;
export type EventMsgType = EventMsg["type"];
/** The EventMsg variant with the given type. */
export type EventMsgOf<T extends EventMsgType> = Extract<EventMsg, { type: T }>;

/**
 * The envelope of every observable effect. `seq` increases by one per event within an
 * engine; `ts` is milliseconds since the epoch. `submissionId` is absent only on
 * engine-level events (`thread_opened`, warnings raised while opening a thread).
 */
export const Event = z.object({
  submissionId: z.string().optional(),
  threadId: z.string(),
  turnId: z.string().optional(),
  seq: z.number().int().nonnegative(),
  ts: z.number(),
  msg: EventMsg,
});
export type Event = z.infer<typeof Event>;

/** The message types that end a turn. */
export const TURN_END_TYPES = ["turn_completed", "turn_failed", "turn_aborted"] as const;

/** True for turn_completed, turn_failed and turn_aborted. */
export function isTurnEnd(
  msg: EventMsg,
): msg is EventMsgOf<"turn_completed" | "turn_failed" | "turn_aborted"> {
  return msg.type === "turn_completed" || msg.type === "turn_failed" || msg.type === "turn_aborted";
}
