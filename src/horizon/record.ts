/** The progress record of a long task: what survives a restart besides the thread itself. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { TaifengError } from "../errors.ts";

/** One sub-goal and where it stands. */
export const SubGoal = z.object({
  id: z.number().int().positive(),
  text: z.string(),
  status: z.enum(["pending", "done", "failed"]),
  attempts: z.number().int().nonnegative(),
  durationMs: z.number().nonnegative().optional(),
});
export type SubGoal = z.infer<typeof SubGoal>;

/** One self-evaluation on the fixed rubric. */
export const Evaluation = z.object({
  afterSubGoal: z.number().int().nonnegative(),
  /** Fraction of the goal achieved, 0..1, as the evaluator judged it. */
  progress: z.number().min(0).max(1),
  /** Quality of the work so far, 0..1. */
  quality: z.number().min(0).max(1),
  onTrack: z.boolean(),
  notes: z.string(),
});
export type Evaluation = z.infer<typeof Evaluation>;

/** The whole record (one JSON file, replaced atomically at each checkpoint). */
export const TaskRecord = z.object({
  version: z.literal(1),
  goal: z.string(),
  threadId: z.string(),
  subGoals: z.array(SubGoal),
  evaluations: z.array(Evaluation),
  strategies: z.array(
    z.object({ at: z.number().int().nonnegative(), strategy: z.string(), reason: z.string() }),
  ),
  finished: z.boolean(),
});
export type TaskRecord = z.infer<typeof TaskRecord>;

/** Reads a record; undefined when the file does not exist. Throws `invalid_state` naming a corrupt file. */
export function readRecord(path: string): TaskRecord | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TaifengError("store_error", `long task record ${path} is not JSON: ${(err as Error).message}`);
  }
  const parsed = TaskRecord.safeParse(value);
  if (!parsed.success)
    throw new TaifengError(
      "store_error",
      `long task record ${path}: ${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}`,
    );
  return parsed.data;
}

/** Writes a record atomically (temporary file, fsync by the OS on rename semantics, rename). */
export function writeRecord(path: string, record: TaskRecord): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { flush: true });
  renameSync(tmp, path);
}
