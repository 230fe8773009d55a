import { TaifengError } from "../errors.ts";
import type { RolloutLine } from "../protocol/index.ts";
import { newId } from "../protocol/index.ts";
import { replayRollout } from "./replay.ts";
import type { ThreadMeta, ThreadStore } from "./store.ts";

/**
 * For each turn visible to the model (checkpointed turns included), the index of the line
 * holding its turn end event, or -1 while the turn is open. Mirrors replayRollout's rules.
 */
export function visibleTurnEnds(lines: readonly RolloutLine[]): number[] {
  const ends: number[] = [];
  const ids: string[] = [];
  let rewindable = 0;
  let open = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as RolloutLine;
    switch (line.type) {
      case "turn_context":
        ends.push(-1);
        ids.push(line.payload.turnId);
        rewindable++;
        open = true;
        break;
      case "compacted":
        rewindable = 0;
        break;
      case "rollback": {
        const drop = Math.min(line.payload.turns, rewindable);
        ends.length -= drop;
        ids.length -= drop;
        rewindable -= drop;
        open = false;
        break;
      }
      case "event": {
        const { msg, turnId } = line.payload;
        if (msg.type !== "turn_completed" && msg.type !== "turn_failed" && msg.type !== "turn_aborted") break;
        const last = ends.length - 1;
        const applies = last >= 0 && (turnId === undefined ? open : turnId === ids[last]);
        if (applies) ends[last] = i;
        if (turnId === undefined || turnId === ids[last]) open = false;
        break;
      }
      default:
        break;
    }
  }
  return ends;
}

/** Options for forkThread. */
export interface ForkOptions {
  /** Copy the thread up to the end of this turn (1-based, counting turns visible to the model). Default: the last ended turn. */
  readonly atTurn?: number;
  /** Id of the new thread. Default: a fresh `thr_…` id. */
  readonly threadId?: string;
  /** Title of the new thread. Default: the source's title, if it has one. */
  readonly title?: string;
}

/** What forkThread created. */
export interface ForkResult {
  readonly threadId: string;
  readonly parentThreadId: string;
  /** Turns the fork starts with. */
  readonly turns: number;
}

/**
 * Creates a new thread holding the source's transcript up to the end of turn `atTurn`,
 * with a parent link (`thread_meta.parent`). Lines are copied verbatim, so the fork replays
 * to exactly the history the source had after that turn (byte-identical prompt prefix);
 * the source is not touched. Works on any ThreadStore. Throws TaifengError
 * `thread_not_found`, or `invalid_op` when `atTurn` is out of range or names a turn that
 * never ended.
 */
export async function forkThread(
  store: ThreadStore,
  sourceId: string,
  options: ForkOptions = {},
): Promise<ForkResult> {
  const lines = await store.read(sourceId);
  const first = lines[0];
  if (first?.type !== "thread_meta")
    throw new TaifengError("store_error", `thread ${sourceId} has no thread_meta`);
  const ends = visibleTurnEnds(lines);
  const lastEnded = ends.findLastIndex((e) => e >= 0) + 1;
  const at = options.atTurn ?? lastEnded;
  if (!Number.isInteger(at) || at < 1 || at > ends.length) {
    throw new TaifengError(
      "invalid_op",
      ends.length === 0
        ? `thread ${sourceId} has no turns to fork from`
        : `cannot fork thread ${sourceId} at turn ${at}: choose a turn from 1 to ${ends.length}`,
    );
  }
  const end = ends[at - 1] as number;
  if (end < 0) {
    throw new TaifengError(
      "invalid_op",
      `cannot fork thread ${sourceId} at turn ${at}: that turn never ended`,
    );
  }
  const copied = lines.slice(1, end + 1);
  const meta: ThreadMeta = {
    schemaVersion: first.payload.schemaVersion,
    threadId: options.threadId ?? newId("thr"),
    createdAt: Date.now(),
    parent: { threadId: sourceId, turns: at },
  };
  const title = options.title ?? first.payload.title;
  if (title !== undefined) meta.title = title;
  if (first.payload.cwd !== undefined) meta.cwd = first.payload.cwd;
  const replayed = replayRollout([{ ts: meta.createdAt, type: "thread_meta", payload: meta }, ...copied]);
  if (replayed.turnCount !== at || replayed.openTurn) {
    throw new TaifengError(
      "internal",
      `fork of ${sourceId} at turn ${at} replays to ${replayed.turnCount} turns`,
    );
  }
  const writer = await store.create(meta);
  try {
    // Before the lines: the fork's transcript names its source's artifacts.
    await store.artifacts?.copyThread?.(sourceId, meta.threadId);
    for (const line of copied) writer.append(line);
  } finally {
    await writer.close();
  }
  return { threadId: meta.threadId, parentThreadId: sourceId, turns: at };
}

/**
 * Drops the last `turns` turns of a stored thread from the model's view by appending a
 * `rollback` line (the file is never rewritten), without an engine. Takes the thread's
 * writer, so it fails with TaifengError `thread_locked` while an engine holds the thread
 * (submit a `rewind` op to that engine instead), and with `invalid_op` when fewer turns can
 * be rewound (turns folded into a compaction checkpoint cannot). Returns the turns left.
 */
export async function rewindThread(store: ThreadStore, threadId: string, turns: number): Promise<number> {
  if (!Number.isInteger(turns) || turns < 1) {
    throw new TaifengError("invalid_op", `rewind needs a positive whole number of turns, got ${turns}`);
  }
  const opened = await store.open(threadId);
  try {
    const replayed = replayRollout(opened.lines);
    const available = replayed.turns.length;
    if (turns > available) {
      throw new TaifengError(
        "invalid_op",
        `cannot rewind ${turns} turn(s) of thread ${threadId}: ${available} can be rewound`,
      );
    }
    opened.writer.append({ ts: Date.now(), type: "rollback", payload: { turns } });
    await opened.writer.flush();
    return replayed.turnCount - turns;
  } finally {
    await opened.writer.close();
  }
}
