import { crc32 } from "node:zlib";
import { z } from "zod";
import { PersistedEventMsg, type RolloutLine, TurnContextLine, Usage } from "../protocol/index.ts";
import { type FoldCarry, RolloutFold } from "./replay.ts";
import type { ThreadMeta } from "./store.ts";
import { type SummaryCarry, type ThreadInfo, ThreadSummarizer } from "./summary.ts";

/**
 * Where a transcript can be resumed without reading what comes before: its latest
 * `compacted` line, located by byte offset and checked by length and CRC-32, with the state
 * a full replay has right after that line. Kept in the thread directory (an index: when it
 * is missing, stale or does not match the file, the transcript is replayed whole). See
 * docs/decisions/2600-resume-from-checkpoint.md.
 */
export interface ResumePoint {
  /** Byte offset of the `compacted` line in the transcript. */
  readonly offset: number;
  /** Its length in bytes, newline included. */
  readonly length: number;
  /** CRC-32 of those bytes. */
  readonly crc: number;
  /** Its index among the file's lines (the `thread_meta` line is 0). */
  readonly line: number;
  readonly fold: FoldCarry;
  readonly summary: SummaryCarry;
}

const Carry = z.object({
  context: TurnContextLine.shape.payload.optional(),
  foldedTurns: z.number().int().nonnegative(),
  foldedUsage: Usage,
  open: z
    .object({ turnId: z.string(), submissionId: z.string().optional(), events: z.array(PersistedEventMsg) })
    .optional(),
});

const Summary = z.object({
  title: z.string().optional(),
  updatedAt: z.number(),
  folded: z.number().int().nonnegative(),
  rewindable: z.number().int().nonnegative(),
  usage: Usage,
  open: z.boolean(),
  pending: z.array(z.string()),
  lastFailed: z.boolean(),
});

const Point = z.object({
  v: z.literal(1),
  offset: z.number().int().positive(),
  length: z.number().int().positive(),
  crc: z.number().int().nonnegative(),
  line: z.number().int().positive(),
  fold: Carry,
  summary: Summary,
});

/** A ResumePoint as stored (JSON with a format version). */
export function encodeResumePoint(point: ResumePoint): string {
  return JSON.stringify({ v: 1, ...point });
}

/** The stored form back, or undefined when it is not a valid version-1 point (it is then ignored). */
export function decodeResumePoint(text: string | undefined): ResumePoint | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = Point.safeParse(value);
  if (!parsed.success) return undefined;
  const { v: _v, ...point } = parsed.data;
  return point as ResumePoint;
}

/** True when `bytes` are exactly the line the point names. */
export function matchesPoint(point: ResumePoint, bytes: Buffer): boolean {
  return (
    bytes.length === point.length && bytes[bytes.length - 1] === 0x0a && crc32(bytes) >>> 0 === point.crc
  );
}

/**
 * Folds a thread's lines as they are appended or read: its directory row (ThreadSummarizer),
 * the replay state without the items (RolloutFold), and the latest checkpoint. A writer keeps
 * one for its thread, so a checkpoint it appends can be recorded with the state behind it.
 */
export class ThreadTracker {
  readonly summarizer: ThreadSummarizer;
  readonly fold: RolloutFold;
  private lineCount: number;
  private point: ResumePoint | undefined;

  /**
   * `lines`: lines already folded into `fold` and `summarizer` (the `thread_meta` line counts).
   * `point`: the latest checkpoint among them, when known.
   */
  constructor(fold: RolloutFold, summarizer: ThreadSummarizer, lines: number, point?: ResumePoint) {
    this.fold = fold;
    this.summarizer = summarizer;
    this.lineCount = lines;
    this.point = point;
  }

  /** A tracker for a thread that has only its `thread_meta` line. */
  static fresh(meta: ThreadMeta, createdTs: number): ThreadTracker {
    return new ThreadTracker(new RolloutFold(meta, false), new ThreadSummarizer(meta, createdTs), 1);
  }

  /** Lines folded so far, `thread_meta` included. */
  get lines(): number {
    return this.lineCount;
  }

  /** The latest checkpoint seen, if its place in the file is known. */
  get latest(): ResumePoint | undefined {
    return this.point;
  }

  /**
   * Folds one line. `at`: where it lies in the file (byte offset and its exact bytes), so that
   * a `compacted` line becomes the latest checkpoint; without it a checkpoint is forgotten.
   */
  push(line: RolloutLine, at?: { readonly offset: number; readonly bytes: Buffer }): void {
    this.fold.push(line);
    this.summarizer.push(line);
    const index = this.lineCount++;
    if (line.type !== "compacted") return;
    this.point = at && {
      offset: at.offset,
      length: at.bytes.length,
      crc: crc32(at.bytes) >>> 0,
      line: index,
      fold: this.fold.carry(),
      summary: this.summarizer.carry(),
    };
  }

  info(): ThreadInfo {
    return this.summarizer.info();
  }
}
