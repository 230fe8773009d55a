/** A worker: takes thread jobs from BullMQ and runs them on engines rebuilt from recipes. */
import { DelayedError, FlowProducer, type Job, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { describeError, isTaifengError, TaifengError } from "../../errors.ts";
import { AgentEngine } from "../../loop/engine.ts";
import type { Event } from "../../protocol/index.ts";
import { emptyUsage, newId } from "../../protocol/index.ts";
import type { Tool } from "../../tool/define.ts";
import { Inbox } from "../pg/inbox.ts";
import type { PgThreadStore } from "../pg/pg-store.ts";
import { PgWriter } from "../pg/pg-writer.ts";
import { engineOptionsFor, type RecipeRegistry } from "../recipe.ts";
import { DELEGATE_TOOL, delegateTool } from "./joins.ts";
import { type BackendNames, backendNames, type ThreadJob } from "./names.ts";
import { TrackedStore } from "./tracked-store.ts";
import { settle, watchEngine } from "./watch.ts";

/** Options for `startWorker`. `store` and `registry` are required. */
export interface WorkerOptions {
  /** Where transcripts, recipes and inboxes live. The worker never closes it. */
  readonly store: PgThreadStore;
  /** Tools and models recipes may name. */
  readonly registry: RecipeRegistry;
  /** Default `REDIS_URL`, else `redis://127.0.0.1:6379`. */
  readonly redisUrl?: string;
  /** Queue name (default `taifeng`) and Redis key prefix (default `taifeng`). */
  readonly queue?: string;
  readonly prefix?: string;
  /** Threads run at once by this worker. Default 8. */
  readonly concurrency?: number;
  /** How long a job's lock lasts without renewal; a dead worker's jobs come back after it. Default 30 s. */
  readonly lockDurationMs?: number;
  /** How often stalled jobs are looked for. Default 30 s (BullMQ's). */
  readonly stalledIntervalMs?: number;
  /** Times a job may stall (its worker died) before it fails. Default 10. */
  readonly maxStalledCount?: number;
  /** Delay before retrying a job whose thread another worker holds. Default 50 ms. */
  readonly lockedRetryMs?: number;
  /**
   * Jobs started per `durationMs` across every worker of the queue (BullMQ's global rate
   * limiter, kept in Redis): a ceiling on the model calls a fleet starts.
   */
  readonly limiter?: { readonly max: number; readonly durationMs: number };
  /** Hears about failures that lose nothing (a publish that failed, a job retried). */
  readonly onWarning?: (message: string) => void;
}

/** A running worker. */
export interface TaifengWorker {
  /** Resolves when the worker is connected and taking jobs. */
  readonly ready: Promise<void>;
  /**
   * Stops taking jobs and waits for the running ones (graceful: SIGTERM). `force` stops at
   * once: running threads are handed back (their jobs stall and another worker continues them).
   */
  close(force?: boolean): Promise<void>;
}

/**
 * Starts a worker. Each job names a thread: the worker leases it (the store's advisory lock;
 * a job whose thread another worker holds is delayed and retried), rebuilds its engine from the
 * thread's recipe, continues a turn a crash left open, then consumes the thread's inbox in
 * order — each op marked consumed in the transaction of its first transcript lines — until the
 * inbox is empty or the thread waits on a person; then it closes the engine, releasing the
 * thread. Events go to Redis pub/sub. A recipe that cannot be built fails the pending ops with
 * a clear error in the transcript and the job without retries.
 */
export function startWorker(options: WorkerOptions): TaifengWorker {
  const names = backendNames(options.queue, options.prefix);
  const concurrency = options.concurrency ?? 8;
  if (concurrency > options.store.maxWriters)
    throw new TaifengError(
      "invalid_config",
      `worker concurrency ${concurrency} exceeds the store's ${options.store.maxWriters} writer connections: give the PgThreadStore maxConnections of at least concurrency + 2`,
    );
  const url = options.redisUrl ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const warn = options.onWarning ?? (() => {});
  const inbox = new Inbox(options.store);
  const store = new TrackedStore(options.store);
  const flows = new FlowProducer({ connection: { url, maxRetriesPerRequest: null }, prefix: names.prefix });
  const own = [...(options.registry.tools ?? [])];
  // Child agents across workers (joins.ts), unless the registry brings its own `delegate`.
  if (!own.some((t) => t.name === DELEGATE_TOOL))
    own.push(delegateTool({ store: options.store, inbox, flows, names }));
  const registry: RecipeRegistry = {
    ...options.registry,
    tools: durableBeforeEffects(own, store),
  };
  const publisher = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
  const control = new Redis(url, { maxRetriesPerRequest: null });
  const active = new Map<string, AgentEngine>();
  publisher.on("error", (err) => warn(`redis: ${err.message}`));
  control.on("error", (err) => warn(`redis: ${err.message}`));
  const subscribed = control.subscribe(names.controlChannel).then(() => undefined);
  control.on("message", (_channel, text) => {
    try {
      const msg = JSON.parse(text) as { threadId: string; type: "interrupt"; reason?: string };
      const engine = active.get(msg.threadId);
      if (engine && msg.type === "interrupt")
        engine.submit({ type: "interrupt", ...(msg.reason ? { reason: msg.reason } : {}) });
    } catch (err) {
      warn(`control message ignored: ${describeError(err)}`);
    }
  });

  // Events are published per thread as one JSON array per tick (one PUBLISH per burst, all of
  // a tick's threads in one pipeline), in sequence order.
  const unpublished = new Map<string, Event[]>();
  const publishPending = () => {
    const batch = [...unpublished];
    unpublished.clear();
    const pipeline = publisher.pipeline();
    for (const [threadId, events] of batch)
      pipeline.publish(names.eventsChannel(threadId), JSON.stringify(events));
    pipeline.exec().catch((err: Error) => {
      warn(`publishing events of ${batch.map(([t]) => t).join(", ")} failed: ${err.message}`);
    });
  };
  const publish = (event: Event) => {
    const list = unpublished.get(event.threadId);
    if (list) list.push(event);
    else {
      if (unpublished.size === 0) setImmediate(publishPending);
      unpublished.set(event.threadId, [event]);
    }
  };

  async function run(job: Job<ThreadJob>, token: string | undefined): Promise<void> {
    const { threadId } = job.data;
    if (job.name === "join") await recordFailedChildren(job);
    const peek = await inbox.peek(threadId);
    // Nothing to do: consumed by an earlier job. A join always opens its parent: the parked
    // call runs again and reads its children's results.
    if (!peek.next && peek.status !== "running" && job.name !== "join") return;
    let engineOptions: Awaited<ReturnType<typeof engineOptionsFor>>;
    try {
      if (peek.recipe === undefined)
        throw new TaifengError(
          "invalid_config",
          `thread ${threadId} has no recipe: create it through the backend`,
        );
      engineOptions = await engineOptionsFor(peek.recipe, registry, store);
    } catch (err) {
      if (isTaifengError(err) && ["invalid_config", "unknown_model"].includes(err.code))
        return poisoned(job, token, threadId, err.message);
      throw err;
    }
    if (peek.exists) store.knownToExist(threadId);
    let engine: AgentEngine;
    try {
      engine = await AgentEngine.open({ ...engineOptions, threadId, listeners: [publish] });
    } catch (err) {
      if (isTaifengError(err, "thread_locked")) return retryLater(job, token);
      throw err;
    }
    const watched = watchEngine(engine);
    active.set(threadId, engine);
    try {
      await settle(engine, watched);
      // Ops taken in this job; one whose lines never came (an approval nobody waited for) is
      // not taken twice here, and is applied again only on a redelivery.
      let after = 0;
      for (let next = await inbox.next(threadId); next; next = await inbox.next(threadId, after)) {
        after = next.n;
        const writer = store.writerOf(threadId);
        const firstSeq = writer.nextLineSeq;
        let submissionId: string;
        try {
          submissionId = engine.submit(next.op);
        } catch (err) {
          await inbox.failOne(threadId, next.n, describeError(err)); // the engine refused this op
          continue;
        }
        const consume = inbox.consumeSql(threadId, next.n, submissionId, firstSeq);
        writer.attach(consume.sql, consume.values);
        if (next.op.type === "approval" || next.op.type === "user_input_answer") {
          // A control op answers at once; only an applied answer stops the wait on its request.
          for await (const ev of engine.subscribe(submissionId))
            if (ev.msg.type === "op_applied") watched.answered(next.op.requestId);
        }
        await settle(engine, watched);
        if (watched.waiting.size > 0 && !(await inbox.next(threadId, after))) break; // waits on a person: hold no job
      }
    } finally {
      active.delete(threadId);
      watched.stop();
      await engine.close();
    }
  }

  /** Children whose jobs failed (ignored dependencies): recorded for the parent to read. */
  async function recordFailedChildren(job: Job<ThreadJob>): Promise<void> {
    const failures = await job.getIgnoredChildrenFailures();
    for (const [key, reason] of Object.entries(failures)) {
      const child = key.slice(key.lastIndexOf(":") + 1).split("__")[0] as string;
      await inbox.recordChildFailure(child, `its job failed: ${reason}`);
    }
  }

  async function retryLater(job: Job<ThreadJob>, token: string | undefined): Promise<never> {
    await job.moveToDelayed(Date.now() + (options.lockedRetryMs ?? 50), token);
    throw new DelayedError();
  }

  async function poisoned(job: Job<ThreadJob>, token: string | undefined, threadId: string, message: string) {
    let opened: Awaited<ReturnType<PgThreadStore["open"]>>;
    try {
      opened = await options.store.open(threadId);
    } catch (err) {
      if (isTaifengError(err, "thread_locked")) return retryLater(job, token);
      throw err;
    }
    const error = {
      code: "invalid_config",
      message: `the thread's recipe cannot run: ${message}`,
      source: "config" as const,
    };
    try {
      const now = Date.now();
      const submissionId = newId("sub", now);
      const turnId = newId("turn", now);
      // Marking the ops failed commits with the failed turn's lines (attached before them).
      if (opened.writer instanceof PgWriter) {
        const fail = inbox.failSql(threadId, error.message);
        opened.writer.attach(fail.sql, fail.values);
      }
      opened.writer.append({ ts: now, type: "turn_context", payload: { turnId, submissionId } });
      const ended = { type: "turn_failed" as const, error, steps: 0, usage: emptyUsage(), durationMs: 0 };
      opened.writer.append({ ts: now, type: "event", payload: { msg: ended } });
      await opened.writer.flush();
      publish({ threadId, submissionId, turnId, seq: 0, ts: now, msg: ended });
    } finally {
      await opened.writer.close();
    }
    throw new UnrecoverableError(error.message);
  }

  const worker = new Worker<ThreadJob>(names.queue, (job, token) => run(job, token), {
    connection: { url, maxRetriesPerRequest: null },
    prefix: names.prefix,
    concurrency,
    lockDuration: options.lockDurationMs ?? 30_000,
    ...(options.stalledIntervalMs !== undefined ? { stalledInterval: options.stalledIntervalMs } : {}),
    maxStalledCount: options.maxStalledCount ?? 10,
    ...(options.limiter
      ? { limiter: { max: options.limiter.max, duration: options.limiter.durationMs } }
      : {}),
    autorun: true,
  });
  worker.on("error", (err) => warn(`worker: ${err.message}`));
  const ready = Promise.all([worker.waitUntilReady(), subscribed]).then(() => undefined);

  return {
    ready,
    async close(force = false) {
      await worker.close(force);
      for (const engine of active.values()) await engine.close();
      await flows.close();
      control.disconnect();
      await publisher.quit().catch(() => publisher.disconnect());
    },
  };
}

/**
 * Tools with effects (not read-only) first make the transcript durable up to their own call:
 * a call whose effect may have started is always in the store, so a crash never re-samples the
 * step that made it (which could run the effect again under another call id).
 */
function durableBeforeEffects(tools: Iterable<Tool> | undefined, store: TrackedStore): Tool[] {
  return [...(tools ?? [])].map((tool) =>
    tool.readOnly
      ? tool
      : {
          ...tool,
          execute: async (input: unknown, ctx) => {
            await store.writerOf(ctx.threadId).flush();
            return tool.execute(input, ctx);
          },
        },
  );
}

export type { BackendNames };
