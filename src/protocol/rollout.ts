import { z } from "zod";
import { EventMsg } from "./events.ts";
import { ResponseItem } from "./items.ts";

/**
 * RolloutLine: what goes on disk, one JSON object per line of a thread's transcript.
 * The transcript is the truth; every index is rebuilt from it. Lines are only appended:
 * rewinds append a `rollback`, compactions append a `compacted` checkpoint.
 *
 * Turn membership is positional: a `turn_context` line opens a turn, and every later
 * `response_item` belongs to it until the next `turn_context`.
 */

/** The transcript format version written into `thread_meta`. Bump on incompatible change and keep old golden files loading. */
export const SCHEMA_VERSION = 1;

/** First line of every transcript. */
export const ThreadMetaLine = z.object({
  ts: z.number(),
  type: z.literal("thread_meta"),
  payload: z.object({
    schemaVersion: z.number().int().positive(),
    threadId: z.string(),
    createdAt: z.number(),
    /** Set on forks: the thread and turn count this one was copied from. */
    parent: z.object({ threadId: z.string(), turns: z.number().int().nonnegative() }).optional(),
    title: z.string().optional(),
    cwd: z.string().optional(),
  }),
});

/** Opens a turn and records the settings it ran with. */
export const TurnContextLine = z.object({
  ts: z.number(),
  type: z.literal("turn_context"),
  payload: z.object({
    turnId: z.string(),
    submissionId: z.string().optional(),
    model: z.string(),
    cwd: z.string().optional(),
    permissionMode: z.string().optional(),
  }),
});

/** One history item of the current turn. */
export const ResponseItemLine = z.object({
  ts: z.number(),
  type: z.literal("response_item"),
  payload: ResponseItem,
});

/** A compaction checkpoint: the model's history from here on starts from `replacementHistory`. */
export const CompactedLine = z.object({
  ts: z.number(),
  type: z.literal("compacted"),
  payload: z.object({
    strategy: z.string(),
    summary: z.string().optional(),
    replacementHistory: z.array(ResponseItem),
  }),
});

/** Drops the last `turns` turns from the model's view. Earlier lines stay in the file. */
export const RollbackLine = z.object({
  ts: z.number(),
  type: z.literal("rollback"),
  payload: z.object({ turns: z.number().int().positive() }),
});

/** A persisted event (turn boundaries, usage, errors; see persist-policy.ts). */
export const EventLine = z.object({
  ts: z.number(),
  type: z.literal("event"),
  payload: z.object({ turnId: z.string().optional(), submissionId: z.string().optional(), msg: EventMsg }),
});

/** Every line a transcript may hold. */
export const RolloutLine = z.discriminatedUnion("type", [
  ThreadMetaLine,
  TurnContextLine,
  ResponseItemLine,
  CompactedLine,
  RollbackLine,
  EventLine,
]);
export type RolloutLine = z.infer<typeof RolloutLine>;
export type RolloutLineType = RolloutLine["type"];
/** The RolloutLine variant with the given type. */
export type RolloutLineOf<T extends RolloutLineType> = Extract<RolloutLine, { type: T }>;
