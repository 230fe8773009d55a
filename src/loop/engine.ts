/** The engine actor: one thread, ops in, events out. */
import { abortOwned } from "../abort-watch.ts";
import { ContextManager } from "../context/manager.ts";
import { counterFor } from "../context/tokens.ts";
import { MemoryThreadStore } from "../conversation/memory-store.ts";
import { replayRollout } from "../conversation/replay.ts";
import type { ThreadStore } from "../conversation/store.ts";
import { ThreadLog } from "../conversation/thread-log.ts";
import { describeError, TaifengError } from "../errors.ts";
import { isPromiseLike } from "../promise-like.ts";
import type { Event, EventMsg, Op, SubmissionId } from "../protocol/index.ts";
import { newId, Op as OpSchema, SCHEMA_VERSION } from "../protocol/index.ts";
import { defaultRedactor } from "../redact/redactor.ts";
import type { Redactor } from "../redact/types.ts";
import { redactItem } from "../redact/walk.ts";
import { type ArtifactStore, MemoryArtifactStore } from "../tool/artifacts.ts";
import { ToolSet } from "../tool/define.ts";
import { DEFAULT_MAX_TOOL_OUTPUT_CHARS } from "../tool/output-limit.ts";
import { Stragglers } from "../tool/stragglers.ts";
import { compileOutput } from "./completion.ts";
import { contextOptions, type EngineOptions } from "./engine-options.ts";
import { EventHub, type EventListener, type ListenerEventMsg } from "./event-hub.ts";
import { buildGuards, guardTools, runEngineHook, wrapsTools } from "./guards.ts";
import { type EngineCore, emit, emitDurable, processQueued } from "./process.ts";
import { PendingRequests } from "./requests.ts";
import { closeCrashedTurn, planResume, type ResumePlan } from "./resume.ts";
import { engineTools } from "./tool-setup.ts";
import type { TurnSettings } from "./turn.ts";

export type { EngineOptions } from "./engine-options.ts";

const SHUTDOWN: Op = { type: "shutdown" };

/** Where an engine is in its life. */
export type EngineStatus = "idle" | "running" | "closed";

/**
 * The actor that owns one thread. Every change arrives through `submit`; every effect
 * leaves as an Event. Turn-starting ops (user_input, rewind, compact, override_context)
 * run one at a time in submission order; control ops (steer, interrupt, approval,
 * user_input_answer) apply immediately. Nothing about a turn throws: failures are events.
 */
export class AgentEngine {
  readonly threadId: string;
  private readonly core: EngineCore;

  private constructor(core: EngineCore) {
    this.core = core;
    this.threadId = core.log.threadId;
  }

  /**
   * Opens a thread: resumes `threadId` from the store when it exists, otherwise creates it.
   * Emits `thread_opened`. A turn the process left open is closed as crashed — unless it
   * was waiting on a person (an approval or an ask_user answer): then it continues under
   * its submission id (`thread_opened.resumedTurn`), re-emitting the pending request.
   * Throws TaifengError `thread_locked`, `store_error` or `invalid_config`.
   */
  static async open(options: EngineOptions): Promise<AgentEngine> {
    const store: ThreadStore = options.store ?? new MemoryThreadStore();
    const cwd = options.cwd ?? process.cwd();
    const redactor = options.redactor === false ? undefined : (options.redactor ?? defaultRedactor());
    const built = buildGuards(options, cwd, redactor);
    const guards = isPromiseLike(built) ? await built : built;
    const filter = redactor
      ? (item: Parameters<typeof redactItem>[1]) => redactItem(redactor, item)
      : undefined;
    let log: ThreadLog;
    let warnings: string[] = [];
    let replayed: ReturnType<typeof replayRollout> | undefined;
    if (options.threadId !== undefined && (await store.exists(options.threadId))) {
      // A store that can resume from the latest checkpoint replays only what follows it.
      const opened = store.resume ? await store.resume(options.threadId) : await store.open(options.threadId);
      try {
        replayed = "replayed" in opened ? opened.replayed : replayRollout(opened.lines);
      } catch (err) {
        await opened.writer.close();
        throw new TaifengError(
          "store_error",
          `thread ${options.threadId} cannot be replayed: ${describeError(err)}`,
          {
            cause: err,
          },
        );
      }
      log = new ThreadLog(options.threadId, opened.writer, replayed, filter);
      warnings = opened.warnings;
    } else {
      const createdAt = Date.now();
      const threadId = options.threadId ?? newId("thr", createdAt);
      const meta: Parameters<ThreadStore["create"]>[0] = {
        schemaVersion: SCHEMA_VERSION,
        threadId,
        createdAt,
        cwd,
      };
      if (options.spawnedAs !== undefined) meta.agent = options.spawnedAs;
      if (options.title !== undefined) meta.title = redactor ? redactor.redact(options.title) : options.title;
      log = new ThreadLog(threadId, await store.create(meta), undefined, filter);
    }
    // The store's artifacts by default, so they last as long as the thread does.
    const given = options.artifacts ?? store.artifacts ?? new MemoryArtifactStore();
    const artifacts = redactor ? redactedArtifacts(given, redactor) : given;
    let context: ContextManager | undefined;
    if (options.context !== false) {
      // The model's exact tokenizer when one is available offline, else the heuristic.
      const chosen = options.context?.counter ?? counterFor(options.model.id);
      const counter = isPromiseLike(chosen) ? await chosen : chosen;
      context = new ContextManager(contextOptions(options, artifacts, counter));
    }
    const settings: TurnSettings = {
      maxSteps: options.maxSteps ?? 50,
      maxParallelTools: options.maxParallelTools ?? 8,
      toolTimeoutMs: options.toolTimeoutMs ?? 600_000,
      startToolsDuringStream: options.startToolsDuringStream ?? true,
      completion: options.completion ?? "natural",
      cwd,
      output: options.output ? compileOutput(options.output) : undefined,
      outputRetries: options.outputRetries ?? 2,
      maxToolOutputChars:
        options.maxToolOutputChars === false
          ? undefined
          : (options.maxToolOutputChars ?? DEFAULT_MAX_TOOL_OUTPUT_CHARS),
    };
    const toolOptions = settings.output ? { ...options, finishFormat: settings.output.format } : options;
    const hub = new EventHub({
      retain: options.retainSubmissions ?? 32,
      onListenerError: options.onListenerError,
      context: {
        emit: (msg, cause) => {
          if (core.status !== "closed") emit(core, cause?.submissionId, cause?.turnId, msg);
        },
      },
    });
    for (const listener of options.listeners ?? []) hub.on(listener);
    const core: EngineCore = {
      log,
      hub,
      model: options.model,
      resolveModel: options.resolveModel,
      system: options.system ?? "",
      tools: wrapsTools(guards)
        ? new ToolSet(guardTools([...engineTools(toolOptions)], guards, () => core))
        : engineTools(toolOptions),
      artifacts,
      settings,
      gate: options.gate,
      context,
      prepareTurn: options.prepareTurn,
      stepChecks: options.stepChecks && options.stepChecks.length > 0 ? options.stepChecks : undefined,
      lastPrefix: undefined,
      stragglers: new Stragglers(),
      requests: new PendingRequests(),
      queue: [],
      steers: [],
      current: undefined,
      pumping: false,
      status: "idle",
      seq: 0,
      lastActivity: 0, // set by thread_opened, emitted below
      permissionMode: undefined,
      guards,
      redactor,
      resumed: undefined,
      resumeRequests: undefined,
      shutdown: undefined,
    };
    const engine = new AgentEngine(core);
    let plan: ResumePlan | undefined;
    if (replayed?.openTurn) {
      plan = planResume(replayed.openTurn, {
        tools: core.tools,
        hasPolicy: guards.policy !== undefined,
        continueCrashed: options.crashedTurns === "continue",
        newSubmissionId: () => newId("sub"),
        mayAddTools: options.prepareTurn !== undefined,
      });
    }
    engine.emitEngine({
      type: "thread_opened",
      resumed: replayed !== undefined,
      turns: log.turnCount,
      ...(plan ? { resumedTurn: { turnId: plan.turnId, submissionId: plan.submissionId } } : {}),
    });
    for (const message of warnings)
      engine.emitEngine({ type: "warning", code: "transcript_repaired", message });
    for (const message of guards.warnings)
      engine.emitEngine({ type: "warning", code: "permissions", message });
    if (plan) {
      hub.open(plan.submissionId);
      core.resumeRequests = new Map(plan.requests);
    } else if (replayed?.openTurn) {
      await closeCrashedTurn(core, replayed.openTurn);
    }
    if (guards.hooks?.has("session_start"))
      await runEngineHook(core, "session_start", { resumed: replayed !== undefined });
    if (plan) {
      core.resumed = plan;
      void processQueued(core);
    }
    return engine;
  }

  /** `idle`, `running` (a turn or queued work) or `closed`. */
  get status(): EngineStatus {
    return this.core.status;
  }

  /** True when nothing is running, queued or waiting on a person. */
  get idle(): boolean {
    const c = this.core;
    return c.status === "idle" && c.queue.length === 0 && c.current === undefined && c.requests.size === 0;
  }

  /**
   * True when the running turn only waits on a person (an approval or an ask_user answer) and
   * nothing else is queued: closing the engine then suspends the turn in the transcript, and
   * the next open resumes it, asking again under the same request id.
   */
  get suspended(): boolean {
    const c = this.core;
    return c.status === "running" && c.requests.size > 0 && c.queue.length === 0 && c.shutdown === undefined;
  }

  /** Milliseconds-since-epoch of the last submission or event. */
  get lastActivity(): number {
    return this.core.lastActivity;
  }

  /** The model's current view of the thread. Do not mutate. */
  get items(): EngineCore["log"]["items"] {
    return this.core.log.items;
  }

  /** The model id used by the next turn. */
  get modelId(): string {
    return this.core.model.id;
  }

  /**
   * Submits an op (or a plain string, meaning user_input) and returns its id at once.
   * Throws TaifengError `invalid_op` for a malformed op and `engine_closed` after shutdown.
   */
  submit(op: Op | string): SubmissionId {
    const c = this.core;
    if (c.status === "closed" || c.shutdown)
      throw new TaifengError("engine_closed", `engine for thread ${this.threadId} is closed`);
    let valid: Op;
    if (typeof op === "string") valid = { type: "user_input", text: op };
    else {
      const parsed = OpSchema.safeParse(op);
      if (!parsed.success) {
        const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "op"}: ${i.message}`).join("; ");
        throw new TaifengError("invalid_op", `invalid op: ${detail}`);
      }
      valid = parsed.data;
    }
    return this.accept(valid);
  }

  /**
   * Records a notice in the thread (an engine-level event: a listener-kind message such as
   * `wake_scheduled`), publishes it once the transcript is durable, and resolves then. For
   * hosts that keep state in the transcript itself (persistent agents' timers).
   */
  async record(msg: ListenerEventMsg): Promise<void> {
    if (this.core.status === "closed")
      throw new TaifengError("engine_closed", `engine for thread ${this.threadId} is closed`);
    await emitDurable(this.core, undefined, undefined, msg);
  }

  /** Gives a valid op its submission id and applies or queues it. */
  private accept(op: Op): SubmissionId {
    const c = this.core;
    const now = Date.now();
    const id = newId("sub", now);
    c.hub.open(id);
    c.lastActivity = now;
    applyOp(c, id, op);
    return id;
  }

  /**
   * The events of one submission, from its first; the iteration ends when the submission
   * is done. Any number of subscribers, at any time while the submission is retained.
   */
  subscribe(submissionId: SubmissionId): AsyncIterableIterator<Event> {
    return this.core.hub.subscribe(submissionId);
  }

  /** Every event of this engine from now on, until it closes. */
  events(): AsyncIterableIterator<Event> {
    return this.core.hub.stream();
  }

  /** Adds a synchronous listener for every event; returns a function that removes it. */
  on(listener: EventListener): () => void {
    return this.core.hub.on(listener);
  }

  /** Submits and collects the submission's events until it is done. */
  async submitAndWait(op: Op | string): Promise<Event[]> {
    const id = this.submit(op);
    const out: Event[] = [];
    for await (const ev of this.subscribe(id)) out.push(ev);
    return out;
  }

  /**
   * Shuts down: interrupts a running turn, rejects queued work, flushes and releases the
   * thread. Resolves when `shutdown_complete` has been emitted. Idempotent.
   */
  async close(): Promise<void> {
    const c = this.core;
    if (c.status === "closed") return;
    if (!c.shutdown) this.accept(SHUTDOWN);
    await c.shutdown?.done;
  }

  private emitEngine(msg: EventMsg): void {
    emit(this.core, undefined, undefined, msg);
  }
}

/** Answers a control op at once: its only event, then the end of its submission. */
function reply(c: EngineCore, id: string, msg: EventMsg): void {
  emit(c, id, undefined, msg);
  c.hub.end(id);
}

function applyOp(c: EngineCore, id: string, op: Op): void {
  switch (op.type) {
    case "steer":
      if (c.current) {
        c.steers.push(op.text);
        reply(c, id, { type: "op_applied", op: op.type });
        return;
      }
      break;
    case "interrupt":
      if (!c.current) {
        reply(c, id, {
          type: "op_rejected",
          op: op.type,
          code: "no_active_turn",
          message: "no turn is running",
        });
        return;
      }
      c.current.reason = "interrupt";
      c.requests.abortAll();
      abortOwned(c.current.controller);
      reply(c, id, { type: "op_applied", op: op.type });
      return;
    case "approval":
    case "user_input_answer": {
      const kind = op.type === "approval" ? "approval" : "user_input";
      if (!c.requests.resolve(kind, op.requestId, op)) {
        reply(c, id, {
          type: "op_rejected",
          op: op.type,
          code: "unknown_request",
          message: `no pending request ${op.requestId}`,
        });
        return;
      }
      reply(c, id, { type: "op_applied", op: op.type });
      return;
    }
    case "shutdown": {
      let resolve!: () => void;
      const done = new Promise<void>((r) => (resolve = r));
      c.shutdown = { submissionId: id, done, resolve };
      if (c.current) {
        c.current.reason = "shutdown";
        // A turn waiting on a person is suspended, not aborted: the transcript keeps it open
        // so that the next open resumes it; observers still see it end in this process.
        if (c.requests.size > 0) c.log.freeze();
        c.requests.abortAll();
        abortOwned(c.current.controller);
      }
      break;
    }
    default:
      break;
  }
  c.queue.push({ id, op });
  // Deferred so that submit() never emits turn events synchronously: callers can attach
  // listeners or streams right after submitting without missing the start of the turn.
  if (!c.pumping) queueMicrotask(() => void processQueued(c));
}

/** An artifact store that keeps full tool outputs with their secrets masked. */
function redactedArtifacts(store: ArtifactStore, redactor: Redactor): ArtifactStore {
  return {
    save: (threadId, content, meta) => store.save(threadId, redactor.redact(content), meta),
    read: (threadId, id) => store.read(threadId, id),
  };
}
