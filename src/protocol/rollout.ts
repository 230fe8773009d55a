import { z } from "zod";
import { EventMsg, TurnCompleted } from "./events.ts";
import { ResponseItem } from "./items.ts";

/**
 * RolloutLine: what goes on disk, one JSON object per line of a thread's transcript.
 * The transcript is the truth; every index is rebuilt from it. Lines are only appended:
 * rewinds append a `rollback`, compactions append a `compacted` checkpoint.
 *
 * Turn membership is positional: a `turn_context` line opens a turn, and every later
 * `response_item` and `event` belongs to it until the turn's end event (or the next
 * `turn_context`). Lines are kept small because a thread may hold thousands of turns:
 * a `turn_context` repeats a setting only when it changed since the previous one, an
 * event omits the turn and submission ids of the open turn, and a persisted
 * `turn_completed` drops its `text` (the final answer is already in the turn's items).
 * The format is documented with examples in docs/guides/persistence.md.
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
    /**
     * Set on a child agent's thread: who spawned it and with what recipe, so the agent tree
     * (and every child's task) can be rebuilt from the transcripts alone.
     */
    agent: z
      .object({
        parentThreadId: z.string(),
        callId: z.string(),
        /** Agent path, e.g. `root/researcher#2`. */
        path: z.string(),
        /** The definition's name, or `inline`. */
        name: z.string(),
        /** Inline instructions (no named definition). */
        instructions: z.string().optional(),
        task: z.string(),
      })
      .optional(),
  }),
});

/**
 * Opens a turn and records the settings it ran with. `model`, `cwd` and `permissionMode`
 * are written only when they differ from the previous `turn_context` of the file (the first
 * one writes all that are set); readers carry the last value forward.
 */
export const TurnContextLine = z.object({
  ts: z.number(),
  type: z.literal("turn_context"),
  payload: z.object({
    turnId: z.string(),
    submissionId: z.string().optional(),
    model: z.string().optional(),
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

/** `turn_completed` as persisted: `text` is omitted because the turn's items already hold the answer. */
export const PersistedTurnCompleted = TurnCompleted.extend({ text: z.string().optional() });
export type PersistedTurnCompleted = z.infer<typeof PersistedTurnCompleted>;

/** An event message as it appears on disk: any EventMsg, with `turn_completed` in its compact form. */
export const PersistedEventMsg = z.union([PersistedTurnCompleted, EventMsg]);
export type PersistedEventMsg = z.infer<typeof PersistedEventMsg>;

/**
 * A persisted event (turn boundaries, usage, errors; see persist-policy.ts). `turnId` and
 * `submissionId` are omitted when they are those of the turn open at this line.
 */
export const EventLine = z.object({
  ts: z.number(),
  type: z.literal("event"),
  payload: z.object({
    turnId: z.string().optional(),
    submissionId: z.string().optional(),
    msg: PersistedEventMsg,
  }),
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
