/**
 * Child agents across workers: the `delegate` tool starts child threads as a BullMQ flow (one
 * job per child under a `join` job of the parent), parks the parent's call, and the parent's
 * turn holds no job while it waits. When every child job has finished — completed, failed, or
 * failed after stalling — BullMQ runs the join job, which records failed children in the store
 * and continues the parent on whichever worker takes it; the parked call runs again and reads
 * every child's outcome from the store, failures as data.
 */
import { createHash } from "node:crypto";
import type { FlowProducer } from "bullmq";
import { z } from "zod";
import { TaifengError } from "../../errors.ts";
import { SCHEMA_VERSION } from "../../protocol/index.ts";
import { defineTool, type Tool } from "../../tool/define.ts";
import type { Inbox } from "../pg/inbox.ts";
import { parseStoredLines } from "../pg/pg-lines.ts";
import type { PgThreadStore } from "../pg/pg-store.ts";
import { outcomeIn } from "./backend.ts";
import { type BackendNames, jobId } from "./names.ts";

/** The name recipes use for the tool. */
export const DELEGATE_TOOL = "delegate";

/** A job's data: run a thread (`thread` jobs) or continue a parent whose children are done (`join`). */
export interface JoinJob {
  readonly threadId: string;
  readonly join: string;
}

/** The job id of a parent call's join. */
export function joinJobId(threadId: string, callId: string): string {
  return `${threadId}__join__${callId}`;
}

/** Child thread ids derive from the parent and the call: a call run again finds its children. */
export function childThreadId(parentThreadId: string, callId: string, index: number): string {
  const h = createHash("sha256").update(`${parentThreadId}/${callId}`).digest("hex").slice(0, 24);
  return `child-${h}-${index}`;
}

/** One child's result as the parent's model reads it. */
export interface ChildResult {
  readonly threadId: string;
  readonly task: string;
  readonly status: "completed" | "failed" | "aborted" | "rejected" | "running";
  readonly text?: string;
  readonly error?: string;
}

interface Deps {
  readonly store: PgThreadStore;
  readonly inbox: Inbox;
  readonly flows: FlowProducer;
  readonly names: BackendNames;
}

const Input = z.object({
  tasks: z
    .array(
      z.object({
        prompt: z.string().min(1),
        /** Tools of the child's recipe (names in the workers' registry). Default none. */
        tools: z.array(z.string()).optional(),
        /** The child's model spec. Default the parent's. */
        model: z.string().optional(),
      }),
    )
    .min(1)
    .max(32),
});

/**
 * The `delegate` tool: runs each task as a child thread on any worker and returns, once all
 * have finished, a JSON array of ChildResult (a failed or stalled child is a result with its
 * error, never a failed call). Idempotent by call id: run again after a restart it finds its
 * children and its flow instead of starting them twice.
 */
export function delegateTool(deps: Deps): Tool {
  return defineTool({
    name: DELEGATE_TOOL,
    description:
      "Runs tasks as child agents on the worker fleet and returns their answers (or errors) once all have finished.",
    schema: Input,
    idempotent: true,
    execute: async ({ tasks }, ctx) => {
      const ids = tasks.map((_, i) => childThreadId(ctx.threadId, ctx.callId, i));
      const done = await results(deps, ids, tasks);
      if (done.every((r) => r.status !== "running")) return JSON.stringify(done);
      if (!ctx.park) throw new TaifengError("invalid_config", "delegate needs an engine that can park calls");
      const parent = await deps.inbox.recipe(ctx.threadId);
      const model = (parent as { model: string }).model;
      for (const [i, task] of tasks.entries()) await createChild(deps, ctx, ids[i] as string, i, task, model);
      // The flow: one job per child under the parent's join job. Ids make adding it twice a no-op.
      await deps.flows.add({
        name: "join",
        queueName: deps.names.queue,
        prefix: deps.names.prefix,
        data: { threadId: ctx.threadId, join: ctx.callId } satisfies JoinJob,
        opts: { jobId: joinJobId(ctx.threadId, ctx.callId) },
        children: ids.map((threadId) => ({
          name: "thread",
          queueName: deps.names.queue,
          prefix: deps.names.prefix,
          data: { threadId },
          // A failed child (poisoned, stalled too often) still lets the join run; it reads the failure.
          opts: { jobId: jobId(threadId, 1), ignoreDependencyOnFailure: true },
        })),
      });
      return ctx.park(`waiting for ${ids.length} child agent(s)`, async (signal) => {
        // Mostly cut short: the worker releases the parent while it waits, and the join job
        // continues it. A parent still held when its children finish reads them here.
        for (;;) {
          const now = await results(deps, ids, tasks);
          if (now.every((r) => r.status !== "running")) return JSON.stringify(now);
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 250);
            signal.addEventListener("abort", () => {
              clearTimeout(timer);
              resolve();
            });
          });
          if (signal.aborted) throw new Error("the wait for child agents was cancelled");
        }
      });
    },
  });
}

async function createChild(
  deps: Deps,
  ctx: { threadId: string; callId: string; cwd: string },
  threadId: string,
  index: number,
  task: { prompt: string; tools?: string[] | undefined; model?: string | undefined },
  parentModel: string,
): Promise<void> {
  // Each part is skipped when done already (the call may run again after a crash).
  if (!(await deps.store.exists(threadId))) await createThread(deps, ctx, threadId, index, task.prompt);
  // Nobody answers a child's approvals: calls that would ask are denied.
  await deps.inbox.setRecipe(threadId, {
    model: task.model ?? parentModel,
    tools: task.tools ?? [],
    interactive: false,
  });
  if (!(await deps.inbox.get(threadId, 1)))
    await deps.inbox.push(threadId, { type: "user_input", text: task.prompt });
}

async function createThread(
  deps: Deps,
  ctx: { threadId: string; callId: string; cwd: string },
  threadId: string,
  index: number,
  task: string,
): Promise<void> {
  const createdAt = Date.now();
  const writer = await deps.store.create({
    schemaVersion: SCHEMA_VERSION,
    threadId,
    createdAt,
    cwd: ctx.cwd,
    agent: {
      parentThreadId: ctx.threadId,
      callId: ctx.callId,
      path: `root/delegate#${index}`,
      name: "inline",
      task,
    },
  });
  await writer.close();
}

/** Every child's outcome, read from the store (the first submission of each child thread). */
async function results(
  deps: Deps,
  ids: readonly string[],
  tasks: readonly { prompt: string }[],
): Promise<ChildResult[]> {
  return Promise.all(
    ids.map(async (threadId, i): Promise<ChildResult> => {
      const task = (tasks[i] as { prompt: string }).prompt;
      const row = (await deps.store.exists(threadId)) ? await deps.inbox.outcomeRows(threadId, 1) : undefined;
      const failed = row ? await deps.inbox.childFailure(threadId) : undefined;
      if (!row) return { threadId, task, status: "running" };
      if (row.error !== undefined) return { threadId, task, status: "rejected", error: row.error };
      if (row.submissionId !== undefined) {
        const o = outcomeIn(
          parseStoredLines(row.rows, threadId, { fromStart: false }),
          row.submissionId,
          row.status,
        );
        if (o.status === "completed") return { threadId, task, status: "completed", text: o.text };
        if (o.status === "failed" || o.status === "aborted")
          return { threadId, task, status: o.status, ...(o.error ? { error: o.error.message } : {}) };
      }
      if (failed !== undefined) return { threadId, task, status: "failed", error: failed };
      return { threadId, task, status: "running" };
    }),
  );
}
