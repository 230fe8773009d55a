/** The client side of the BullMQ backend: create threads, submit ops, follow events, interrupt. */
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { TaifengError } from "../../errors.ts";
import type { ErrorInfo, Event, Op, RolloutLine } from "../../protocol/index.ts";
import { messageText, newId, Op as OpSchema, SCHEMA_VERSION } from "../../protocol/index.ts";
import { Inbox } from "../pg/inbox.ts";
import { parseStoredLines } from "../pg/pg-lines.ts";
import type { PgThreadStore } from "../pg/pg-store.ts";
import { parseRecipe, type Recipe } from "../recipe.ts";
import { backendNames, jobId, type ThreadJob } from "./names.ts";
import { SharedSubscriber } from "./subscriber.ts";

/** Options for a BullmqBackend. */
export interface BullmqBackendOptions {
  /** The store the workers use. The backend never closes it. */
  readonly store: PgThreadStore;
  /** Default `REDIS_URL`, else `redis://127.0.0.1:6379`. */
  readonly redisUrl?: string;
  /** Must match the workers'. Default `taifeng` for both. */
  readonly queue?: string;
  readonly prefix?: string;
}

/** A submitted op: its thread and its number in the thread's inbox. */
export interface Ticket {
  readonly threadId: string;
  readonly n: number;
}

/** Where a submission stands, read from the store (the transcript is the truth). */
export type Outcome =
  | { readonly status: "queued" }
  /** A control op (approval, answer, ...) was applied. */
  | { readonly status: "applied"; readonly submissionId: string }
  | { readonly status: "running" | "suspended"; readonly submissionId: string }
  | {
      readonly status: "completed" | "failed" | "aborted";
      readonly submissionId: string;
      /** The turn's last assistant message. */
      readonly text: string;
      readonly error?: ErrorInfo;
    }
  /** The op could not run (its recipe cannot be built); never retried. */
  | { readonly status: "rejected"; readonly error: string };

/**
 * Submits work to workers through BullMQ. `submit` appends the op to the thread's inbox in
 * PostgreSQL (the acknowledgement: from then on it is never lost) and enqueues a job with the
 * id `${threadId}__${n}` (enqueuing twice is a no-op). Outcomes are read from the transcript.
 */
export class BullmqBackend {
  private readonly store: PgThreadStore;
  private readonly inbox: Inbox;
  private readonly queue: Queue<ThreadJob>;
  private readonly url: string;
  private readonly names: ReturnType<typeof backendNames>;
  private readonly redis: Redis;
  private readonly subscriber: SharedSubscriber;

  constructor(options: BullmqBackendOptions) {
    this.store = options.store;
    this.inbox = new Inbox(options.store);
    this.names = backendNames(options.queue, options.prefix);
    this.url = options.redisUrl ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
    this.queue = new Queue<ThreadJob>(this.names.queue, {
      connection: { url: this.url, maxRetriesPerRequest: null },
      prefix: this.names.prefix,
      defaultJobOptions: { removeOnComplete: { age: 3600, count: 10_000 }, removeOnFail: { age: 24 * 3600 } },
    });
    this.redis = new Redis(this.url, { maxRetriesPerRequest: null, lazyConnect: true });
    this.subscriber = new SharedSubscriber(this.url);
  }

  /**
   * Creates a thread with its recipe (checked here: a malformed recipe throws TaifengError
   * `invalid_config`; names are resolved by the workers). Returns the thread id.
   */
  async createThread(init: {
    recipe: Recipe;
    threadId?: string;
    title?: string;
    cwd?: string;
  }): Promise<string> {
    const recipe = parseRecipe(init.recipe);
    const createdAt = Date.now();
    const threadId = init.threadId ?? newId("thr", createdAt);
    const meta = {
      schemaVersion: SCHEMA_VERSION,
      threadId,
      createdAt,
      cwd: init.cwd ?? recipe.cwd ?? process.cwd(),
      ...(init.title !== undefined ? { title: init.title } : {}),
    };
    const writer = await this.store.create(meta);
    await writer.close();
    await this.inbox.setRecipe(threadId, init.recipe);
    return threadId;
  }

  /** Queues an op (a string means user_input). Throws TaifengError `invalid_op` or `thread_not_found`. */
  async submit(threadId: string, op: Op | string): Promise<Ticket> {
    const parsed = OpSchema.safeParse(typeof op === "string" ? { type: "user_input", text: op } : op);
    if (!parsed.success)
      throw new TaifengError("invalid_op", `invalid op: ${parsed.error.issues[0]?.message}`);
    if (parsed.data.type === "interrupt" || parsed.data.type === "shutdown")
      throw new TaifengError("invalid_op", `${parsed.data.type} is not queued: use interrupt()`);
    const n = await this.inbox.push(threadId, parsed.data);
    await this.queue.add("thread", { threadId }, { jobId: jobId(threadId, n) });
    return { threadId, n };
  }

  /**
   * Interrupts the thread's turn. A running turn is interrupted on whichever worker holds it
   * (the control channel). A turn suspended on a person or on child agents is held by no
   * worker: the interrupt then goes through the inbox, and the worker that takes it resumes the
   * turn only to abort it. A thread with no open turn is left alone. Returns the interrupt's
   * ticket when it was queued.
   */
  async interrupt(threadId: string, reason?: string): Promise<Ticket | undefined> {
    await this.connect();
    await this.redis.publish(
      this.names.controlChannel,
      JSON.stringify({ threadId, type: "interrupt", reason }),
    );
    if ((await this.store.status(threadId)) !== "suspended") return undefined;
    const n = await this.inbox.push(threadId, { type: "interrupt", ...(reason ? { reason } : {}) });
    await this.queue.add("thread", { threadId }, { jobId: jobId(threadId, n) });
    return { threadId, n };
  }

  /** Where a submission stands now. */
  async outcome(ticket: Ticket): Promise<Outcome> {
    const found = await this.inbox.outcomeRows(ticket.threadId, ticket.n);
    if (!found)
      throw new TaifengError("invalid_argument", `no submission ${ticket.n} on thread ${ticket.threadId}`);
    if (found.error !== undefined) return { status: "rejected", error: found.error };
    if (found.submissionId === undefined) return { status: "queued" };
    return outcomeIn(
      parseStoredLines(found.rows, `postgres:${this.store.schema}.${ticket.threadId}`, { fromStart: false }),
      found.submissionId,
      found.status,
    );
  }

  /**
   * Waits until a submission ended (completed, failed, aborted, rejected), was applied, or its
   * turn waits on a person (suspended; with `throughSuspension`, until it ends). Wakes on the
   * thread's events and polls every `pollMs` (default 250).
   */
  async wait(
    ticket: Ticket,
    options: { signal?: AbortSignal; pollMs?: number; throughSuspension?: boolean } = {},
  ): Promise<Outcome> {
    let wake: (() => void) | undefined;
    // Only events that can change the outcome make it read the transcript again.
    const stop = await this.subscriber.listen(this.names.eventsChannel(ticket.threadId), (text) => {
      if (WAKES.test(text)) wake?.();
    });
    try {
      for (;;) {
        options.signal?.throwIfAborted();
        const now = await this.outcome(ticket);
        const done =
          now.status !== "queued" &&
          now.status !== "running" &&
          !(now.status === "suspended" && options.throughSuspension);
        if (done) return now;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, options.pollMs ?? 250);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      stop();
    }
  }

  /** The thread's events as workers emit them (live only), until `signal` aborts. */
  async *events(threadId: string, signal: AbortSignal): AsyncGenerator<Event> {
    yield* await this.follow(threadId, signal);
  }

  /**
   * Like `events`, but resolves once subscribed: events published after that are all in the
   * returned iterable (follow, then submit, and nothing of the turn is missed).
   */
  async follow(threadId: string, signal: AbortSignal): Promise<AsyncGenerator<Event>> {
    const buffered: Event[] = [];
    let wake: (() => void) | undefined;
    // A message is a JSON array of one thread's events in sequence order (one PUBLISH per flush).
    const stop = await this.subscriber.listen(this.names.eventsChannel(threadId), (text) => {
      buffered.push(...(JSON.parse(text) as Event[]));
      wake?.();
    });
    const onAbort = () => {
      stop();
      wake?.();
    };
    signal.addEventListener("abort", onAbort);
    if (signal.aborted) onAbort();
    return (async function* () {
      try {
        while (!signal.aborted) {
          const next = buffered.shift();
          if (next) yield next;
          else await new Promise<void>((resolve) => (wake = resolve));
        }
      } finally {
        signal.removeEventListener("abort", onAbort);
        stop();
      }
    })();
  }

  /** The BullMQ queue (for metrics, flows, cleaning). */
  get bullQueue(): Queue<ThreadJob> {
    return this.queue;
  }

  async close(): Promise<void> {
    await this.queue.close();
    this.redis.disconnect();
    this.subscriber.close();
  }

  private async connect(): Promise<void> {
    if (this.redis.status === "wait") await this.redis.connect();
  }
}

const WAKES =
  /"type":"(turn_completed|turn_failed|turn_aborted|permission_requested|user_input_requested|op_applied|op_rejected)"/;

/** Reads a submission's turn out of a transcript. */
export function outcomeIn(
  lines: readonly RolloutLine[],
  submissionId: string,
  status: string | undefined,
): Outcome {
  let inTurn = false;
  let text = "";
  for (const line of lines) {
    if (line.type === "turn_context") {
      if (inTurn) break;
      inTurn = line.payload.submissionId === submissionId;
      continue;
    }
    if (!inTurn) continue;
    if (line.type === "response_item" && line.payload.type === "message" && line.payload.role === "assistant")
      text = messageText(line.payload);
    if (line.type === "event") {
      const msg = line.payload.msg;
      if (msg.type === "turn_completed") return { status: "completed", submissionId, text };
      if (msg.type === "turn_failed") return { status: "failed", submissionId, text, error: msg.error };
      if (msg.type === "turn_aborted") return { status: "aborted", submissionId, text };
    }
  }
  if (!inTurn) return { status: "applied", submissionId };
  return { status: status === "suspended" ? "suspended" : "running", submissionId };
}
