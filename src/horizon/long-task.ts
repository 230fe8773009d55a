/**
 * Long-horizon tasks over an engine: a goal split into sub-goals by the model, a checkpoint
 * after each one, periodic self-evaluation on a fixed rubric, a stall detector that switches
 * strategy, progress and ETA events, and resumption from the last checkpoint after a restart.
 */
import { TaifengError } from "../errors.ts";
import type { ModelClient, ModelRequest } from "../llm/types.ts";
import type { AgentEngine } from "../loop/engine.ts";
import type { EventMsgOf } from "../protocol/index.ts";
import { type Evaluation, readRecord, type SubGoal, type TaskRecord, writeRecord } from "./record.ts";

/** What to do when the task stalls. */
export type Strategy = "replan" | "switch_model" | "ask_user";

/** What a long task reports, in order. */
export type LongTaskEvent =
  | { readonly type: "planned"; readonly subGoals: readonly string[]; readonly replan: boolean }
  | { readonly type: "resumed"; readonly done: number; readonly total: number }
  | { readonly type: "subgoal_started"; readonly id: number; readonly text: string; readonly attempt: number }
  | {
      readonly type: "subgoal_finished";
      readonly id: number;
      readonly status: "done" | "failed";
      readonly durationMs: number;
    }
  | { readonly type: "checkpoint"; readonly done: number; readonly total: number }
  | {
      readonly type: "progress";
      readonly done: number;
      readonly total: number;
      readonly fraction: number;
      readonly etaMs: number | undefined;
    }
  | { readonly type: "evaluated"; readonly evaluation: Evaluation }
  | { readonly type: "stalled"; readonly reason: string }
  | { readonly type: "strategy_switched"; readonly strategy: Strategy; readonly detail: string }
  | {
      readonly type: "finished";
      readonly status: "done" | "gave_up";
      readonly done: number;
      readonly total: number;
    };

/** Options of `runLongTask`. */
export interface LongTaskOptions {
  readonly goal: string;
  /** The engine that does the work; its thread (in its store) is the task's transcript. */
  readonly engine: AgentEngine;
  /** Plans and evaluates (may be the same model as the engine's, or a cheaper one). */
  readonly planner: ModelClient;
  /** Where the progress record lives (a JSON file). An existing record resumes the task. */
  readonly recordPath: string;
  /** Sub-goals between self-evaluations. Default 2. */
  readonly evaluateEvery?: number;
  /** Evaluations in a row without `minGain` more progress that count as a stall. Default 2. */
  readonly stallAfter?: number;
  /** Progress gain (0..1) an evaluation must show over the previous one. Default 0.05. */
  readonly minGain?: number;
  /** Attempts per sub-goal before it counts as failed (a failure is also a stall). Default 2. */
  readonly maxAttempts?: number;
  /** Strategies tried on stalls, in order (then the task gives up). Default replan, switch_model, ask_user. */
  readonly strategies?: readonly Strategy[];
  /** The model spec `switch_model` moves the engine to (an `override_context` op), e.g. `router:deep`. */
  readonly switchTo?: string;
  /** Asks the person for direction (`ask_user`); the answer becomes the next user message. */
  readonly askUser?: (question: string) => Promise<string>;
  readonly onEvent?: (event: LongTaskEvent) => void;
  readonly signal?: AbortSignal;
  readonly now?: () => number;
}

/** The rubric every evaluation answers (fixed, so evaluations compare). */
export const RUBRIC =
  'Judge the work so far against the goal. Reply with only JSON: {"progress": number 0..1 (fraction of the goal achieved), "quality": number 0..1 (correctness and care of what was done), "onTrack": boolean (the remaining plan still leads to the goal), "notes": string (one sentence: what is missing or wrong)}.';

const PLAN_PROMPT =
  'Split the goal into 2 to 8 ordered, independently checkable sub-goals. Reply with only JSON: {"subGoals": string[]}.';

async function ask(
  model: ModelClient,
  system: string,
  user: string,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  const request: ModelRequest = {
    system,
    items: [{ type: "message", role: "user", content: [{ type: "text", text: user }] }],
    tools: [],
  };
  let text = "";
  for await (const ev of model.stream(request, signal ? { signal } : {})) {
    if (ev.type === "text_delta") text += ev.delta;
    else if (ev.type === "error") {
      if (signal?.aborted) throw new TaifengError("turn_aborted", "long task aborted");
      throw new TaifengError("turn_failed", `long task: the planner failed: ${ev.error.message}`);
    }
  }
  const json = /\{[\s\S]*\}/.exec(text)?.[0];
  try {
    return JSON.parse(json ?? "");
  } catch {
    throw new TaifengError(
      "turn_failed",
      `long task: the planner did not answer with JSON: ${text.slice(0, 200)}`,
    );
  }
}

async function plan(o: LongTaskOptions, context: string): Promise<string[]> {
  const answer = (await ask(o.planner, PLAN_PROMPT, `Goal: ${o.goal}${context}`, o.signal)) as {
    subGoals?: unknown;
  };
  const list = Array.isArray(answer.subGoals)
    ? answer.subGoals.filter((s): s is string => typeof s === "string" && s.trim() !== "")
    : [];
  if (list.length === 0) throw new TaifengError("turn_failed", "long task: the plan has no sub-goals");
  return list.slice(0, 8);
}

async function evaluate(o: LongTaskOptions, record: TaskRecord, done: number): Promise<Evaluation> {
  const lines = record.subGoals.map((g) => `${g.id}. [${g.status}] ${g.text}`).join("\n");
  const a = (await ask(o.planner, RUBRIC, `Goal: ${o.goal}\nSub-goals:\n${lines}`, o.signal)) as Record<
    string,
    unknown
  >;
  const clamp = (v: unknown) =>
    typeof v === "number" && Number.isFinite(v) ? Math.min(1, Math.max(0, v)) : 0;
  return {
    afterSubGoal: done,
    progress: clamp(a.progress),
    quality: clamp(a.quality),
    onTrack: a.onTrack === true,
    notes: typeof a.notes === "string" ? a.notes : "",
  };
}

/** Runs one sub-goal as a turn; true when the turn completed. */
async function work(o: LongTaskOptions, goal: SubGoal, total: number): Promise<boolean> {
  const text = `Sub-goal ${goal.id} of ${total}: ${goal.text}\n(Overall goal: ${o.goal}. Do only this sub-goal now.)`;
  const events = await o.engine.submitAndWait(text);
  const end = events.find(
    (e) => e.msg.type === "turn_completed" || e.msg.type === "turn_failed" || e.msg.type === "turn_aborted",
  );
  return (end?.msg as EventMsgOf<"turn_completed"> | undefined)?.type === "turn_completed";
}

/**
 * Runs (or resumes) a long task to its end. The record is written after planning, after each
 * sub-goal (the checkpoint: the engine has already stored the turn) and after each evaluation,
 * so a crash loses at most the sub-goal in progress, which is run again on resume. Returns
 * the final record. Throws TaifengError `turn_failed` when the planner cannot plan, and
 * `invalid_argument` when the record belongs to another goal or thread.
 */
export async function runLongTask(o: LongTaskOptions): Promise<TaskRecord> {
  const now = o.now ?? Date.now;
  const emit = (e: LongTaskEvent) => o.onEvent?.(e);
  const every = o.evaluateEvery ?? 2;
  const stallAfter = o.stallAfter ?? 2;
  const minGain = o.minGain ?? 0.05;
  const maxAttempts = o.maxAttempts ?? 2;
  const strategies = [...(o.strategies ?? ["replan", "switch_model", "ask_user"])];
  let record = readRecord(o.recordPath);
  if (record && (record.goal !== o.goal || record.threadId !== o.engine.threadId))
    throw new TaifengError(
      "invalid_argument",
      `long task record ${o.recordPath} belongs to another ${record.goal !== o.goal ? "goal" : `thread (${record.threadId})`}`,
    );
  if (record)
    emit({
      type: "resumed",
      done: record.subGoals.filter((g) => g.status === "done").length,
      total: record.subGoals.length,
    });
  else {
    const subGoals = await plan(o, "");
    record = {
      version: 1,
      goal: o.goal,
      threadId: o.engine.threadId,
      subGoals: subGoals.map((text, i) => ({ id: i + 1, text, status: "pending", attempts: 0 })),
      evaluations: [],
      strategies: [],
      finished: false,
    };
    writeRecord(o.recordPath, record);
    emit({ type: "planned", subGoals, replan: false });
  }
  const r = record;
  let flat = 0;
  let sinceEval = 0;
  const stall = async (reason: string): Promise<boolean> => {
    emit({ type: "stalled", reason });
    flat = 0;
    const strategy = strategies.shift();
    if (!strategy) return false;
    let detail = "";
    if (strategy === "replan") {
      const done = r.subGoals.filter((g) => g.status === "done").map((g) => g.text);
      const notes = r.evaluations.at(-1)?.notes ?? reason;
      const next = await plan(
        o,
        `\nAlready done: ${done.join("; ") || "nothing"}.\nProblem: ${notes}\nPlan only the remaining work.`,
      );
      const kept = r.subGoals.filter((g) => g.status === "done");
      r.subGoals = [
        ...kept,
        ...next.map((text, i) => ({
          id: kept.length + i + 1,
          text,
          status: "pending" as const,
          attempts: 0,
        })),
      ];
      emit({ type: "planned", subGoals: next, replan: true });
      detail = `${next.length} new sub-goals`;
    } else if (strategy === "switch_model") {
      if (!o.switchTo) return stall("no model to switch to");
      await o.engine.submitAndWait({ type: "override_context", model: o.switchTo });
      detail = o.switchTo;
    } else {
      if (!o.askUser) return stall("nobody to ask");
      const answer = await o.askUser(`The task "${o.goal}" is stalled (${reason}). How should it continue?`);
      await o.engine.submitAndWait(`Direction from the user: ${answer}`);
      detail = answer;
    }
    r.strategies.push({ at: r.subGoals.filter((g) => g.status === "done").length, strategy, reason });
    writeRecord(o.recordPath, r);
    emit({ type: "strategy_switched", strategy, detail });
    return true;
  };
  for (;;) {
    if (o.signal?.aborted) throw new TaifengError("turn_aborted", "long task aborted");
    const goal = r.subGoals.find((g) => g.status === "pending");
    const total = r.subGoals.length;
    if (!goal) break;
    goal.attempts++;
    emit({ type: "subgoal_started", id: goal.id, text: goal.text, attempt: goal.attempts });
    const started = now();
    const ok = await work(o, goal, total);
    const durationMs = now() - started;
    if (!ok && goal.attempts < maxAttempts) continue;
    goal.status = ok ? "done" : "failed";
    goal.durationMs = durationMs;
    writeRecord(o.recordPath, r);
    emit({ type: "subgoal_finished", id: goal.id, status: goal.status, durationMs });
    const finished = r.subGoals.filter((g) => g.status !== "pending");
    const done = r.subGoals.filter((g) => g.status === "done").length;
    emit({ type: "checkpoint", done, total });
    const avg = finished.reduce((s, g) => s + (g.durationMs ?? 0), 0) / finished.length;
    const left = total - finished.length;
    emit({
      type: "progress",
      done,
      total,
      fraction: done / total,
      etaMs: left === 0 ? 0 : Math.round(avg * left),
    });
    if (!ok) {
      if (!(await stall(`sub-goal ${goal.id} failed ${goal.attempts} times`))) break;
      continue;
    }
    if (++sinceEval < every || left === 0) continue;
    sinceEval = 0;
    const evaluation = await evaluate(o, r, done);
    const previous = r.evaluations.at(-1);
    r.evaluations.push(evaluation);
    writeRecord(o.recordPath, r);
    emit({ type: "evaluated", evaluation });
    flat =
      previous && evaluation.progress - previous.progress < minGain
        ? flat + 1
        : evaluation.onTrack
          ? 0
          : flat + 1;
    if (flat >= stallAfter && !(await stall(`no progress in ${flat} evaluations (${evaluation.notes})`)))
      break;
  }
  const done = r.subGoals.filter((g) => g.status === "done").length;
  r.finished = true;
  writeRecord(o.recordPath, r);
  emit({
    type: "finished",
    status: done === r.subGoals.length ? "done" : "gave_up",
    done,
    total: r.subGoals.length,
  });
  return r;
}
