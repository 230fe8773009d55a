import { MemoryThreadStore } from "../conversation/memory-store.ts";
import type { ThreadStore } from "../conversation/store.ts";
import { TaifengError } from "../errors.ts";
import type { SessionId } from "../protocol/index.ts";
import { AgentEngine, type EngineOptions } from "./engine.ts";

/** Options for an EnginePool: engine defaults plus pool limits. */
export interface PoolOptions extends Omit<EngineOptions, "threadId" | "store"> {
  /** Shared by every engine of the pool. Default: one in-memory store. */
  readonly store?: ThreadStore;
  /** Most live engines; idle ones are evicted (least recently used first) to make room. Default 1024. */
  readonly maxEngines?: number;
  /** An engine idle this long is closed. Default 10 minutes; 0 disables the sweep. */
  readonly idleTimeoutMs?: number;
}

/** Per-session overrides for `getOrCreate`. */
export interface SessionOptions extends Partial<Omit<EngineOptions, "store">> {
  readonly sessionId: SessionId;
}

/**
 * Routes session ids to engines. A session keeps its thread across evictions: after an
 * idle engine is closed, `getOrCreate` with the same session id resumes the same thread
 * from the store. Bounded: at most `maxEngines` engines are live.
 */
export class EnginePool {
  private readonly options: PoolOptions;
  private readonly store: ThreadStore;
  private readonly ownsStore: boolean;
  private readonly engines = new Map<SessionId, AgentEngine>();
  private readonly opening = new Map<SessionId, Promise<AgentEngine>>();
  private readonly threads = new Map<SessionId, string>();
  private readonly sweeper: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(options: PoolOptions) {
    this.options = options;
    this.ownsStore = options.store === undefined;
    this.store = options.store ?? new MemoryThreadStore();
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

  /** The live engine of a session, if any. */
  get(sessionId: SessionId): AgentEngine | undefined {
    return this.engines.get(sessionId);
  }

  /**
   * The session's engine, opened if needed: on `threadId` when given, else on the thread
   * the session used before, else on a new thread. Throws TaifengError `pool_exhausted`
   * when at `maxEngines` with none idle, `pool_closed` after close.
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

  private async open(session: SessionOptions): Promise<AgentEngine> {
    await this.makeRoom();
    const { sessionId, ...overrides } = session;
    const threadId = overrides.threadId ?? this.threads.get(sessionId);
    const engine = await AgentEngine.open({
      ...this.options,
      ...overrides,
      store: this.store,
      ...(threadId !== undefined ? { threadId } : {}),
    });
    this.engines.set(sessionId, engine);
    this.threads.delete(sessionId);
    this.threads.set(sessionId, engine.threadId);
    const cap = (this.options.maxEngines ?? 1024) * 10;
    while (this.threads.size > cap) this.threads.delete(this.threads.keys().next().value as string);
    return engine;
  }

  private async makeRoom(): Promise<void> {
    const max = this.options.maxEngines ?? 1024;
    // Runs before this session is registered in `opening`, so it counts only other sessions.
    if (this.engines.size + this.opening.size < max) return;
    for (const [sessionId, engine] of this.engines) {
      if (engine.idle) {
        this.engines.delete(sessionId);
        await engine.close();
        return;
      }
    }
    throw new TaifengError("pool_exhausted", `all ${max} engines are busy; raise maxEngines or retry later`);
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
    return victims.length;
  }

  /**
   * Graceful close: waits up to `drainMs` (default 30 s) for running turns, then shuts every
   * engine down (interrupting what still runs) and closes the store if the pool created it.
   */
  async close(options?: { drainMs?: number }): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    await Promise.allSettled(this.opening.values());
    const deadline = Date.now() + (options?.drainMs ?? 30_000);
    while (
      Date.now() < deadline &&
      [...this.engines.values()].some((e) => !e.idle && e.status !== "closed")
    ) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all([...this.engines.values()].map((e) => e.close()));
    this.engines.clear();
    if (this.ownsStore) await this.store.close();
  }
}
