import { ftruncateSync } from "node:fs";
import { describeError, isTaifengError, TaifengError } from "../errors.ts";
import type { RolloutLine, RolloutLineOf } from "../protocol/index.ts";
import { matchesPoint, type ResumePoint, ThreadTracker } from "./checkpoint.ts";
import type { FdBudget } from "./fd-budget.ts";
import { datasync, readAll, readRange, sizeOf } from "./jsonl-files.ts";
import { type ParsedTranscript, parseLines, parseTranscript } from "./jsonl-reader.ts";
import { RolloutFold } from "./replay.ts";
import type { Durability } from "./store.ts";
import { ThreadSummarizer } from "./summary.ts";

/** How to read a transcript for writing (JsonlThreadStore.open and resume). */
export interface ReadForWriteOptions {
  readonly budget: FdBudget;
  readonly path: string;
  readonly threadId: string;
  readonly dir: string;
  readonly durability: Durability;
  /** Start at this checkpoint when it still matches the file; else the file is read whole. */
  readonly from: ResumePoint | undefined;
  /** Keep the replayed items in `tracker.fold` (resume); open needs only the lines. */
  readonly keepItems: boolean;
  readonly warn: (message: string) => void;
}

/** A transcript read for writing, a torn last line already cut off. */
export interface ReadForWrite {
  /** The lines read: every line, or `thread_meta` plus the checkpoint and what follows it. */
  readonly lines: RolloutLine[];
  /** True when reading started at `from`. */
  readonly fromCheckpoint: boolean;
  /** Every line folded (the summary, the replay state, the latest checkpoint). */
  readonly tracker: ThreadTracker;
  /** Length of the valid file: where the next line goes. */
  readonly validBytes: number;
  readonly warnings: string[];
}

type MetaLine = RolloutLineOf<"thread_meta">;
const NEWLINE = 0x0a;
const HEAD_BYTES = 16 * 1024;

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * Reads a transcript to write to it: from its latest checkpoint when `from` still matches
 * the file (the line at `from.offset` has the recorded length and CRC-32, after a newline),
 * so memory and time depend on what follows the checkpoint, not on the thread's age; else
 * whole. Either way the same lines are folded into the same state (see replay.ts). Cuts a
 * torn last line (fsynced unless durability is `none`). Throws TaifengError
 * `thread_not_found`, or `store_error` for a corrupt file, one that is not the thread it is
 * named for, or a failed read.
 */
export async function readForWrite(options: ReadForWriteOptions): Promise<ReadForWrite> {
  const { budget, path, threadId } = options;
  const read = await budget
    .withFd(path, async (fd) => {
      const from = options.from;
      if (from) {
        const part = await readFromPoint(fd, from);
        if (part) return part;
        options.warn(
          `the checkpoint recorded for thread ${threadId} does not match ${path} (offset ${from.offset}); the transcript was read whole`,
        );
      }
      return { whole: await readAll(fd) };
    })
    .catch((err: unknown) => {
      if (errno(err) === "ENOENT")
        throw new TaifengError("thread_not_found", `no thread ${threadId} in ${options.dir}`);
      if (isTaifengError(err)) throw err;
      throw new TaifengError(
        "store_error",
        `opening transcript ${path} failed (${errno(err) ?? "error"}): ${describeError(err)}`,
        { cause: err, details: { path, code: errno(err) } },
      );
    });
  let folded: { lines: RolloutLine[]; tracker: ThreadTracker; parsed: ParsedTranscript; base: number };
  if ("whole" in read) {
    const parsed = parseTranscript(read.whole, path);
    const meta = metaOf(parsed.lines[0], path, threadId);
    const tracker = new ThreadTracker(
      new RolloutFold(meta.payload, options.keepItems),
      new ThreadSummarizer(meta.payload, meta.ts),
      1,
    );
    foldLines(tracker, parsed.lines, 1, read.whole, read.whole.indexOf(NEWLINE) + 1, 0);
    folded = { lines: parsed.lines, tracker, parsed, base: 0 };
  } else {
    const { head, tail, point } = read;
    const meta = metaOf(parseTranscript(head, path).lines[0], path, threadId);
    const parsed = parseLines(tail, path, point.line);
    const checkpoint = parsed.lines[0];
    if (checkpoint?.type !== "compacted")
      throw new TaifengError("store_error", `transcript ${path} has no checkpoint at byte ${point.offset}`);
    const tracker = new ThreadTracker(
      new RolloutFold(meta.payload, options.keepItems, {
        carry: point.fold,
        replacementHistory: checkpoint.payload.replacementHistory,
      }),
      new ThreadSummarizer(meta.payload, meta.ts, point.summary),
      point.line + 1,
      point,
    );
    foldLines(tracker, parsed.lines, 1, tail, point.length, point.offset);
    folded = { lines: [meta, ...parsed.lines], tracker, parsed, base: point.offset };
  }
  const { parsed, base } = folded;
  const warnings: string[] = [];
  const validBytes = base + parsed.validBytes;
  if (parsed.tornBytes > 0) {
    await budget.withFd(path, async (fd) => {
      ftruncateSync(fd, validBytes);
      if (options.durability !== "none") await datasync(fd);
    });
    warnings.push(
      `transcript ${path} ended with ${parsed.tornBytes} bytes of an incomplete line (a write cut by a crash, never acknowledged); they were removed`,
    );
  }
  return {
    lines: folded.lines,
    fromCheckpoint: base > 0,
    tracker: folded.tracker,
    validBytes,
    warnings,
  };
}

/** The file's first line and its part from the checkpoint on, or undefined when the checkpoint does not match. */
async function readFromPoint(
  fd: number,
  point: ResumePoint,
): Promise<{ head: Buffer; tail: Buffer; point: ResumePoint } | undefined> {
  const size = await sizeOf(fd);
  if (point.offset + point.length > size) return undefined;
  const before = await readRange(fd, point.offset - 1, size - point.offset + 1);
  if (before.length !== size - point.offset + 1 || before[0] !== NEWLINE) return undefined;
  const tail = before.subarray(1);
  if (!matchesPoint(point, tail.subarray(0, point.length))) return undefined;
  let head = await readRange(fd, 0, Math.min(HEAD_BYTES, point.offset));
  let end = head.indexOf(NEWLINE);
  if (end < 0) {
    head = await readRange(fd, 0, point.offset);
    end = head.indexOf(NEWLINE);
  }
  if (end < 0) return undefined;
  return { head: head.subarray(0, end + 1), tail, point };
}

/**
 * Pushes `lines[from..]` into the tracker; `buf` holds them from byte `at` on (`base`: the
 * file offset of `buf`), so each checkpoint's place in the file is known.
 */
function foldLines(
  tracker: ThreadTracker,
  lines: readonly RolloutLine[],
  from: number,
  buf: Buffer,
  at: number,
  base: number,
): void {
  let pos = at;
  for (let i = from; i < lines.length; i++) {
    const line = lines[i] as RolloutLine;
    const end = buf.indexOf(NEWLINE, pos) + 1;
    tracker.push(
      line,
      line.type === "compacted" ? { offset: base + pos, bytes: buf.subarray(pos, end) } : undefined,
    );
    pos = end;
  }
}

function metaOf(first: RolloutLine | undefined, path: string, threadId: string): MetaLine {
  if (first?.type !== "thread_meta") {
    throw new TaifengError(
      "store_error",
      `transcript ${path} has no complete first line: the process creating it stopped at once; delete the file`,
    );
  }
  checkIdentity(first.payload.threadId, threadId, path);
  return first;
}

/**
 * A transcript is the thread its first line names: a file copied or renamed to another name
 * is refused (never indexed under either id, never written), with an error that says how to
 * copy a thread instead.
 */
export function checkIdentity(claimed: string, threadId: string, path: string): void {
  if (claimed === threadId) return;
  throw new TaifengError(
    "store_error",
    `transcript ${path} is thread ${claimed}, not ${threadId}: it was copied or renamed. ` +
      `To copy a thread, fork it (taifeng threads fork ${claimed}, or forkThread); to use this file, rename it back to ${claimed}.jsonl`,
    { details: { path, threadId, claims: claimed } },
  );
}
