/** Request and response shapes of the HTTP API (zod), the source of `/openapi.json`. */
import { z } from "zod";
import { Op, ResponseItem, Usage } from "../protocol/index.ts";

/** `POST /v1/threads`. */
export const CreateThreadBody = z.strictObject({
  title: z.string().max(200).optional(),
  system: z.string().max(100_000).optional(),
  /** A first message: starts a turn at once. */
  input: z.string().max(1_000_000).optional(),
});

/** `POST /v1/threads/{id}/fork`. */
export const ForkBody = z.strictObject({
  /** Copy through the end of this turn (1-based). Default: the last ended turn. */
  atTurn: z.number().int().positive().optional(),
  title: z.string().max(200).optional(),
});

/** `POST /v1/threads/{id}/ops`: any Op except `shutdown` (the server owns engine lifetimes). */
export const OpBody = Op;

/** `POST /v1/threads/{id}/fork`: the new thread. */
export const ForkReply = z.object({
  threadId: z.string(),
  parentThreadId: z.string(),
  /** Turns the fork starts with. */
  turns: z.number().int(),
});

/** `GET /v1/threads/{id}/items`: the model's view of the history. */
export const ItemsReply = z.object({
  threadId: z.string(),
  turns: z.number().int(),
  items: z.array(ResponseItem),
});

/** The id of an accepted submission: its events carry it. */
export const SubmissionReply = z.object({ threadId: z.string(), submissionId: z.string() });

/** A thread row. */
export const ThreadSummary = z.object({
  threadId: z.string(),
  title: z.string().optional(),
  createdAt: z.number(),
  updatedAt: z.number(),
  turns: z.number().int(),
  status: z.enum(["idle", "running", "suspended", "failed"]),
  usage: Usage,
  parentThreadId: z.string().optional(),
  parentTurns: z.number().int().optional(),
  /** True while an engine holds the thread in this server. */
  live: z.boolean(),
  /** Requests waiting on a person. */
  pendingRequests: z.number().int(),
});

/** `GET /v1/threads`. */
export const ThreadList = z.object({
  threads: z.array(ThreadSummary),
  /** Pass as `offset` for the next page; absent on the last page. */
  nextOffset: z.number().int().optional(),
});

/** Something waiting on a person, in any thread. */
export const PendingApproval = z.object({
  threadId: z.string(),
  turnId: z.string().optional(),
  submissionId: z.string().optional(),
  kind: z.enum(["permission", "user_input"]),
  requestId: z.string(),
  tool: z.string().optional(),
  input: z.unknown().optional(),
  reason: z.string().optional(),
  question: z.string().optional(),
  options: z.array(z.string()).optional(),
  suggestions: z.array(z.string()).optional(),
  /** `agents`: a call parked until child agents finish; the runtime answers it, not a person. */
  awaiting: z.literal("agents").optional(),
  ts: z.number(),
  /** False when the thread's engine is not in memory: the answer reopens it. */
  live: z.boolean(),
});

/** `GET /v1/approvals`. */
export const ApprovalList = z.object({ approvals: z.array(PendingApproval) });

/** Usage totals. */
export const UsageTotals = z.object({
  inputTokens: z.number(),
  cachedInputTokens: z.number(),
  outputTokens: z.number(),
  costUsd: z.number(),
  turns: z.number(),
});

/** `GET /v1/usage`. */
export const UsageReport = z.object({
  byThread: z.record(z.string(), UsageTotals),
  byModel: z.record(z.string(), UsageTotals),
  byDay: z.record(z.string(), UsageTotals),
  /** Recent model calls in this process, per model (ms). */
  latency: z.record(z.string(), z.object({ calls: z.number(), p50: z.number(), p95: z.number() })),
});

/** Every error response. */
export const ErrorReply = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
