import { JsonlThreadStore } from "../conversation/jsonl-store.ts";
import { MemorySessionBindings } from "../conversation/memory-sessions.ts";
import { MemoryThreadStore } from "../conversation/memory-store.ts";
import type { Durability, SessionBindings, ThreadStore } from "../conversation/store.ts";
import { TaifengError } from "../errors.ts";
import { type Event, isTurnEnd, newId, type SessionId } from "../protocol/index.ts";
import { AgentEngine, type EngineOptions } from "./engine.ts";
import { PoolQueue } from "./pool-queue.ts";

/**
 * Turns an entry skill name into the engine options of the agent it defines (system prompt,
 * tools, model...). `base` is what the engine would be opened with otherwise. Implemented by
 * the skills runtime (`SkillRuntime.entryOptions`); throws TaifengError `unknown_skill`.
 */
export type EntrySkillResolver = (name: string, base: EngineOptions) => Promise<Partial<EngineOptions>>;

/** Options for an EnginePool: engine defaults plus pool limits. */
export interface PoolOptions extends Omit<EngineOptions, "threadId" | "store"> {
  /** Resolves `getOrCreate({ entrySkill })`; without it an entry skill is a configuration error. */
  readonly entrySkills?: EntrySkillResolver;
  /** Shared by every engine of the pool. Default: a JSONL store in `storageDir`, else an in-memory store. */
  readonly store?: ThreadStore;
  /** Keep transcripts as JSONL files (plus a SQLite directory) here; ignored when `store` is given. */
  readonly storageDir?: string;
  /** Durability of the JSONL store created for `storageDir`. Default `turn`. */
  readonly durability?: Durability;
  /**
   * Most live engines. At the limit an idle engine is closed to make room (least recently used
   * first), else one whose turn only waits on a person (it is suspended in the transcript and
   * resumes when its session returns); when every engine is busy, opens wait in line. Default 1024.
   */
  readonly maxEngines?: number;
  /**
   * Longest wait in line for a free engine before `getOrCreate` fails with `pool_exhausted`.
   * Default 30 s; 0 fails at once.
   */
  readonly queueTimeoutMs?: number;
  /** An engine idle this long is closed. Default 10 minutes; 0 disables the sweep. */
  readonly idleTimeoutMs?: number;
  /**
   * A session binding unused for longer than this is dropped: the session then starts a new
   * thread (the old thread stays in the store). Default: bindings never expire.
   */
  readonly sessionTtlMs?: number;
}

/** Per-session overrides for `getOrCreate`. */
export interface SessionOptions extends Partial<Omit<EngineOptions, "store">> {
  readonly sessionId: SessionId;
  /**
   * Open the session as the agent this skill defines (its body as the system prompt, its
   * allowed tools and model). Applies when the engine is opened; a live session keeps its
   * engine. Explicit session overrides win over the skill's options.
   */
  readonly entrySkill?: string;
  /** Gives up waiting in line for a free engine (TaifengError `pool_exhausted`, "cancelled"). */
  readonly signal?: AbortSignal;
}

/**
 * Routes session ids to engines. A session keeps its thread: the session → thread binding
 * is stored with the threads (`ThreadStore.sessions`; for the JSONL store, the SQLite
 * directory), so after an eviction, an idle sweep or a restart of the process `getOrCreate`
 * with the same session id resumes the same thread. Bounded: at most `maxEngines` engines are
 * live; opens beyond that evict idle or suspended engines, else wait in line (`queueTimeoutMs`).
 */
export class EnginePool {
  private readonly options: PoolOptions;
  private readonly store: ThreadStore;
  private readonly ownsStore: boolean;
  private readonly bindings: SessionBindings;
  private readonly engines = new Map<SessionId, AgentEngine>();
  private readonly opening = new Map<SessionId, Promise<AgentEngine>>();
  /** Engines being closed (evicted), by session: the session reopens only after its close. */
  private readonly closing = new Map<SessionId, Promise<void>>();
  private readonly queue: PoolQueue;
  private readonly sweeper: NodeJS.Timeout | undefined;
  private readonly max: number;
  /** Opens holding a slot while they run. */
  private reserved = 0;
  private closed = false;

  private constructor(options: PoolOptions) {
    this.options = options;
    this.max = options.maxEngines ?? 1024;
    this.ownsStore = options.store === undefined;
    this.store =
      options.store ??
      (options.storageDir !== undefined
        ? new JsonlThreadStore({
            dir: options.storageDir,
            ...(options.durability !== undefined ? { durability: options.durability } : {}),
          })
        : new MemoryThreadStore());
    this.bindings = this.store.sessions ?? new MemorySessionBindings();
    this.queue = new PoolQueue(() => this.takeSlot());
    const idle = options.idleTimeoutMs ?? 600_000;
    if (idle > 0) {
      this.sweeper = setInterval(() => void this.evictIdle(idle), Math.min(Math.max(idle / 2, 10), 30_000));
      this.sweeper.unref();
    }
  }

  /** Creates a pool. Async so that stores and resolvers can be prepared in later versions without an API change. */
  static async create(options: PoolOptions): Promise<EnginePool> {
    return new EnginePool(options);
  }

  /** Live engines. */
  get size(): number {
    return this.engines.size;
  }

  /** Opens waiting in line for a free engine. */
  get waiting(): number {
    return this.queue.length;
  }

  /** The live engine of a session, if any. */
  get(sessionId: SessionId): AgentEngine | undefined {
    return this.engines.get(sessionId);
  }

  /**
   * The session's engine, opened if needed: on `threadId` when given (the session is then
   * bound to it), else on the thread the session is bound to, else on a new thread (bound
   * before it is opened). Throws TaifengError `pool_exhausted` when no engine frees up within
   * `queueTimeoutMs`, `pool_closed` after close, `store_error` when the binding cannot be stored.
   */
  async getOrCreate(session: SessionOptions): Promise<AgentEngine> {
    if (this.closed) throw new TaifengError("pool_closed", "the engine pool is closed");
    const { sessionId } = session;
    const live = this.engines.get(sessionId);
    if (live && live.status !== "closed") {
      this.engines.delete(sessionId);
      this.engines.set(sessionId, live); // most recently used last
      return live;
    }
    const pending = this.opening.get(sessionId);
    if (pending) return pending;
    const promise = this.open(session).finally(() => this.opening.delete(sessionId));
    this.opening.set(sessionId, promise);
    return promise;
  }

  /**
   * Ends a session: closes its engine (if live) and drops its binding, so the session id
   * starts a new thread next time. The thread itself stays in the store.
   */
  async endSession(sessionId: SessionId): Promise<void> {
    const engine = this.engines.get(sessionId);
    if (engine) {
      this.engines.delete(sessionId);
      await engine.close();
      this.queue.wake();
    }
    await this.bindings.unbind(sessionId);
  }

  /** The store every engine of the pool writes to. */
  get threadStore(): ThreadStore {
    return this.store;
  }

  private async open(session: SessionOptions): Promise<AgentEngine> {
    const { sessionId, entrySkill, signal, ...overrides } = session;
    const timeoutMs = this.options.queueTimeoutMs ?? 30_000;
    // First come, first served: with others in line, this open queues behind them.
    if (this.queue.length > 0 || !this.takeSlot()) {
      const turn = this.queue.wait(timeoutMs, signal, this.max);
      this.queue.wake();
      await turn;
    }
    try {
      await this.closing.get(sessionId);
      const threadId = await this.threadFor(sessionId, overrides.threadId);
      const engine = await AgentEngine.open(await this.engineOptions(entrySkill, overrides, threadId));
      if (this.closed) {
        await engine.close();
        throw new TaifengError("pool_closed", "the engine pool is closed");
      }
      this.engines.set(sessionId, engine);
      return engine;
    } finally {
      this.reserved--;
      this.queue.wake();
    }
  }

  /** The session's thread, bound durably before anything runs on it. */
  private async threadFor(sessionId: SessionId, given: string | undefined): Promise<string> {
    const bound = await this.bindings.threadOf(sessionId, this.options.sessionTtlMs);
    const threadId = given ?? bound ?? newId("thr");
    if (threadId !== bound) await this.bindings.bind(sessionId, threadId);
    return threadId;
  }

  private async engineOptions(
    entrySkill: string | undefined,
    overrides: Omit<SessionOptions, "sessionId" | "entrySkill" | "signal">,
    threadId: string,
  ): Promise<EngineOptions> {
    const {
      entrySkills,
      maxEngines: _max,
      idleTimeoutMs: _idle,
      queueTimeoutMs: _queue,
      sessionTtlMs: _ttl,
      storageDir: _dir,
      durability: _durability,
      ...defaults
    } = this.options;
    let base: EngineOptions = { ...defaults, ...overrides, store: this.store };
    if (entrySkill !== undefined) {
      if (!entrySkills)
        throw new TaifengError("invalid_config", `entry skill "${entrySkill}": this pool has no skills`);
      base = { ...defaults, ...(await entrySkills(entrySkill, base)), ...overrides, store: this.store };
    }
    // The pool hears when an engine may have become evictable, to serve the line.
    const watch = (ev: Event) => {
      const msg = ev.msg;
      if (isTurnEnd(msg) || msg.type === "permission_requested" || msg.type === "user_input_requested")
        this.queue.wake();
    };
    return { ...base, threadId, listeners: [...(base.listeners ?? []), watch] };
  }

  /**
   * Reserves a slot for an open if there is room, evicting an idle engine (least recently used
   * first), else a suspended one. Synchronous: the victim leaves the map at once and closes in
   * the background (its session's next open waits for that close).
   */
  private takeSlot(): boolean {
    if (this.engines.size + this.reserved >= this.max && !this.closed) {
      for (const [sessionId, engine] of this.engines)
        if (engine.status === "closed") this.engines.delete(sessionId);
    }
    if (this.engines.size + this.reserved >= this.max && !this.closed) {
      const victim = this.pick((e) => e.idle) ?? this.pick((e) => e.suspended);
      if (!victim) return false;
      const [sessionId, engine] = victim;
      this.engines.delete(sessionId);
      const done = engine.close().finally(() => {
        if (this.closing.get(sessionId) === done) this.closing.delete(sessionId);
      });
      this.closing.set(sessionId, done);
    }
    this.reserved++; // a closed pool lets the open through to fail with pool_closed
    return true;
  }

  private pick(test: (engine: AgentEngine) => boolean): [SessionId, AgentEngine] | undefined {
    for (const entry of this.engines) if (test(entry[1])) return entry;
    return undefined;
  }

  /** Closes engines idle for at least `idleMs`. Returns how many were closed. */
  async evictIdle(idleMs: number): Promise<number> {
    const cutoff = Date.now() - idleMs;
    const victims: AgentEngine[] = [];
    for (const [sessionId, engine] of this.engines) {
      if (engine.status === "closed" || (engine.idle && engine.lastActivity <= cutoff)) {
        this.engines.delete(sessionId);
        victims.push(engine);
      }
    }
    await Promise.all(victims.map((e) => e.close()));
    if (victims.length > 0) this.queue.wake();
    return victims.length;
  }

  /**
   * Graceful close: waits up to `drainMs` (default 30 s) for running turns, then shuts every
   * engine down (interrupting what still runs) and closes the store if the pool created it.
   * Opens waiting in line fail with `pool_closed`.
   */
  async close(options?: { drainMs?: number }): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.queue.failAll(new TaifengError("pool_closed", "the engine pool is closed"));
    await Promise.allSettled(this.opening.values());
    const deadline = Date.now() + (options?.drainMs ?? 30_000);
    while (
      Date.now() < deadline &&
      [...this.engines.values()].some((e) => !e.idle && e.status !== "closed")
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all([...this.engines.values()].map((e) => e.close()));
    await Promise.allSettled(this.closing.values());
    this.engines.clear();
    if (this.ownsStore) await this.store.close();
  }
}
