/**
 * The server's state around one EnginePool: the counting store (durable positions), one
 * ThreadChannel per thread that has an engine or a viewer, and the live statistics the
 * console and `/metrics` read.
 */
import { JsonlThreadStore } from "../conversation/jsonl-store.ts";
import { MemoryThreadStore } from "../conversation/memory-store.ts";
import type { ThreadStore } from "../conversation/store.ts";
import { TaifengError } from "../errors.ts";
import type { AgentEngine } from "../loop/engine.ts";
import { EnginePool, type PoolOptions } from "../loop/pool.ts";
import { type Event, isTurnEnd, newId } from "../protocol/index.ts";
import { ThreadChannel } from "./channel.ts";
import { type InboxRow, inboxRow, parkedRequests } from "./inbox.ts";
import { CountingStore } from "./positions.ts";

/** Options of a ThreadHub: the pool's, plus channel limits. */
export interface ThreadHubOptions extends Omit<PoolOptions, "store"> {
  /** A store to use instead of a JSONL store in `storageDir` (closed by the hub). */
  readonly store?: ThreadStore;
  /** Live events retained per thread for resume. Default 4096. */
  readonly retainEvents?: number;
  /** Bytes a slow viewer may have unsent before it is paused. Default 256 KiB. */
  readonly maxBufferedBytes?: number;
  /**
   * An engine that has waited on a person (an approval or an answer) this long, with no
   * viewer on its event stream, is evicted from memory: its turn stays suspended in the
   * transcript, the inbox keeps listing its request, and the next op or viewer reopens it.
   * Default 60 s; 0 evicts at the next sweep; a negative value never evicts.
   */
  readonly evictSuspendedMs?: number;
}

/** Counters for `/metrics`. */
export interface HubCounters {
  events: number;
  turns: Record<"completed" | "failed" | "aborted", number>;
  tokens: Record<"input" | "cached_input" | "output", number>;
  costUsd: number;
}

/** Threads scanned for parked requests by the inbox (most recently updated first). */
const INBOX_SCAN = 10_000;

/** Recent model-call latencies per model (for p50/p95). */
const LATENCY_SAMPLES = 1000;

/**
 * Owns the pool and the channels. Engines are keyed by thread id (the session id is the
 * thread id), so any request for a thread reaches its one engine, opened on demand and
 * evicted by the pool when idle.
 */
export class ThreadHub {
  readonly store: CountingStore;
  readonly pool: EnginePool;
  private readonly channels = new Map<string, ThreadChannel>();
  private readonly channelOptions: { retain?: number; maxBufferedBytes?: number };
  private readonly latencies = new Map<string, number[]>();
  readonly counters: HubCounters = {
    events: 0,
    turns: { completed: 0, failed: 0, aborted: 0 },
    tokens: { input: 0, cached_input: 0, output: 0 },
    costUsd: 0,
  };
  private readonly pinger: NodeJS.Timeout;
  private readonly sweeper: NodeJS.Timeout | undefined;
  private readonly evictAfter: number;
  /** Engines being closed by an eviction: their thread reopens after the close. */
  private readonly evicting = new Map<string, Promise<void>>();
  /** Parked requests read from transcripts, by thread, valid while `updatedAt` is unchanged. */
  private readonly parked = new Map<string, { updatedAt: number; rows: InboxRow[] }>();
  /** Waiters for a request id to be asked (again) by a reopened engine. */
  private readonly askWaiters = new Set<(ev: Event) => void>();
  /** Requests in progress per thread (a viewer attaching, an op being submitted): no eviction meanwhile. */
  private readonly holds = new Map<string, number>();
  /** Engines evicted while waiting on a person, since start. */
  evictions = 0;

  private constructor(store: CountingStore, pool: EnginePool, options: ThreadHubOptions) {
    this.store = store;
    this.pool = pool;
    this.channelOptions = {
      ...(options.retainEvents !== undefined ? { retain: options.retainEvents } : {}),
      ...(options.maxBufferedBytes !== undefined ? { maxBufferedBytes: options.maxBufferedBytes } : {}),
    };
    // Proxies close idle connections; a comment line every 15 s keeps streams open.
    this.pinger = setInterval(() => {
      for (const ch of this.channels.values()) ch.ping();
    }, 15_000);
    this.pinger.unref();
    this.evictAfter = options.evictSuspendedMs ?? 60_000;
    if (this.evictAfter >= 0) {
      const every = Math.min(Math.max(this.evictAfter / 2, 50), 15_000);
      this.sweeper = setInterval(() => this.evictSuspended(), every);
      this.sweeper.unref();
    }
  }

  /** Opens the store and the pool. */
  static async create(options: ThreadHubOptions): Promise<ThreadHub> {
    const {
      store: given,
      storageDir,
      durability,
      retainEvents: _r,
      maxBufferedBytes: _m,
      evictSuspendedMs: _e,
      listeners: _l,
      ...rest
    } = options;
    const inner =
      given ??
      (storageDir !== undefined
        ? new JsonlThreadStore({ dir: storageDir, ...(durability !== undefined ? { durability } : {}) })
        : new MemoryThreadStore());
    const store = new CountingStore(inner);
    let hub: ThreadHub | undefined;
    const listener = (ev: Event) => hub?.onEvent(ev);
    const pool = await EnginePool.create({
      ...rest,
      store,
      listeners: [listener, ...(options.listeners ?? [])],
    });
    hub = new ThreadHub(store, pool, options);
    return hub;
  }

  /** The thread's channel, created when missing. */
  channel(threadId: string): ThreadChannel {
    let ch = this.channels.get(threadId);
    if (!ch) {
      ch = new ThreadChannel(threadId, this.channelOptions);
      this.channels.set(threadId, ch);
    }
    return ch;
  }

  /** The channel only if it exists. */
  peek(threadId: string): ThreadChannel | undefined {
    return this.channels.get(threadId);
  }

  /** Drops a channel that has neither an engine nor viewers. */
  release(threadId: string): void {
    const ch = this.channels.get(threadId);
    if (ch && !ch.live && ch.viewerCount === 0) this.channels.delete(threadId);
  }

  /** Every channel (for the approvals inbox and shutdown). */
  allChannels(): IterableIterator<ThreadChannel> {
    return this.channels.values();
  }

  /** Live viewers over all threads. */
  get viewerCount(): number {
    let n = 0;
    for (const ch of this.channels.values()) n += ch.viewerCount;
    return n;
  }

  /** The engine of an existing thread (opened if needed). Throws `thread_not_found`. */
  async engine(threadId: string): Promise<AgentEngine> {
    const live = this.pool.get(threadId);
    if (live && live.status !== "closed") return live;
    await this.evicting.get(threadId);
    if (!(await this.store.exists(threadId)))
      throw new TaifengError("thread_not_found", `no thread ${threadId}`);
    return this.pool.getOrCreate({ sessionId: threadId, threadId });
  }

  /** Creates a thread (and its engine). */
  async createThread(options: { title?: string; system?: string } = {}): Promise<AgentEngine> {
    const threadId = newId("thr");
    return this.pool.getOrCreate({
      sessionId: threadId,
      threadId,
      ...(options.title !== undefined ? { title: options.title } : {}),
      ...(options.system !== undefined ? { system: options.system } : {}),
    });
  }

  /**
   * Opens every thread whose transcript says it waits on a person, so that its request is
   * asked again (same request id) and shows in the approvals inbox after a restart.
   * Returns the thread ids opened; a thread that cannot be opened is skipped.
   */
  async resumeSuspended(limit = 1000): Promise<string[]> {
    const opened: string[] = [];
    for (const info of await this.store.list({ limit })) {
      if (info.status !== "suspended") continue;
      try {
        await this.engine(info.threadId);
        opened.push(info.threadId);
      } catch {
        // locked by another process, or unreadable: it stays as it is
      }
    }
    return opened;
  }

  /**
   * Evicts every engine that has waited only on a person for `evictSuspendedMs` with no
   * viewer (waits on child agents stay: nothing here would reopen them when the children
   * finish). Returns the thread ids evicted; their engines close in the background.
   */
  evictSuspended(olderThanMs = Math.max(0, this.evictAfter)): string[] {
    const cutoff = Date.now() - olderThanMs;
    const out: string[] = [];
    for (const ch of this.channels.values()) {
      const id = ch.threadId;
      if (!ch.live || ch.viewerCount > 0 || this.evicting.has(id) || this.holds.has(id)) continue;
      const engine = this.pool.get(id);
      if (!engine?.suspended || engine.lastActivity > cutoff) continue;
      if ([...ch.pending.values()].some((ev) => (ev.msg as { awaiting?: string }).awaiting === "agents"))
        continue;
      const done = this.pool
        .endSession(id)
        .catch(() => {
          // A close that failed leaves the transcript as the engine last wrote it.
        })
        .finally(() => {
          if (this.evicting.get(id) === done) this.evicting.delete(id);
        });
      this.evicting.set(id, done);
      this.evictions++;
      out.push(id);
    }
    return out;
  }

  /**
   * Keeps the thread's engine from being evicted until the returned function is called (a
   * request that reopened it and has not yet attached its viewer or submitted its op).
   */
  hold(threadId: string): () => void {
    this.holds.set(threadId, (this.holds.get(threadId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.holds.get(threadId) ?? 1) - 1;
      if (n > 0) this.holds.set(threadId, n);
      else this.holds.delete(threadId);
    };
  }

  /** Parked requests of a thread as the inbox last read them from its transcript, if it did. */
  parkedCount(threadId: string): number | undefined {
    return this.parked.get(threadId)?.rows.length;
  }

  /** Resolves when every eviction started so far has closed its engine. */
  async evictionsSettled(): Promise<void> {
    await Promise.allSettled([...this.evicting.values()]);
  }

  /** True while the thread's engine is being evicted. */
  isEvicting(threadId: string): boolean {
    return this.evicting.has(threadId);
  }

  /**
   * Everything waiting on a person, oldest first: the pending requests of live engines, then
   * those parked in the transcripts of suspended threads without an engine here.
   */
  async approvals(): Promise<InboxRow[]> {
    const rows: InboxRow[] = [];
    const fromMemory = new Set<string>();
    for (const ch of this.channels.values()) {
      if (!ch.live || this.evicting.has(ch.threadId)) continue;
      fromMemory.add(ch.threadId);
      for (const ev of ch.pending.values()) {
        const row = inboxRow(ev, true);
        if (row) rows.push(row);
      }
    }
    const seen = new Set<string>();
    for (const info of await this.store.list({ limit: INBOX_SCAN })) {
      seen.add(info.threadId);
      if (info.status !== "suspended" || fromMemory.has(info.threadId)) continue;
      let cached = this.parked.get(info.threadId);
      if (!cached || cached.updatedAt !== info.updatedAt) {
        let lines: Awaited<ReturnType<CountingStore["read"]>>;
        try {
          lines = await this.store.read(info.threadId);
        } catch {
          continue; // deleted or unreadable since the listing
        }
        cached = { updatedAt: info.updatedAt, rows: parkedRequests(info.threadId, lines) };
        this.parked.set(info.threadId, cached);
      }
      rows.push(...cached.rows);
    }
    for (const id of this.parked.keys()) if (!seen.has(id)) this.parked.delete(id);
    return rows.sort((a, b) => a.ts - b.ts);
  }

  /**
   * Resolves once the thread's engine has asked `requestId` (again), its resumed turn ended,
   * `timeoutMs` passed or `signal` aborted. A reopened engine re-asks its parked requests
   * shortly after it opens; an answer sent before that would find no request.
   */
  async waitForRequest(
    threadId: string,
    requestId: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const ch = this.peek(threadId);
    if (!ch?.resumedTurn || ch.pending.has(requestId)) return;
    const turnId = ch.resumedTurn;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.askWaiters.delete(check);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const check = (ev: Event) => {
        if (ev.threadId !== threadId) return;
        const m = ev.msg as { type: string; requestId?: string };
        if (
          m.requestId === requestId ||
          (ev.turnId === turnId && isTurnEnd(ev.msg)) ||
          m.type === "shutdown_complete"
        )
          done();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener("abort", done, { once: true });
      this.askWaiters.add(check);
    });
  }

  /** p50 and p95 of recent model-call durations per model, in ms. */
  latencyByModel(): Record<string, { calls: number; p50: number; p95: number }> {
    const out: Record<string, { calls: number; p50: number; p95: number }> = {};
    for (const [model, samples] of this.latencies) {
      const sorted = [...samples].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
      out[model] = { calls: sorted.length, p50: at(0.5), p95: at(0.95) };
    }
    return out;
  }

  private onEvent(ev: Event): void {
    const ch = this.channel(ev.threadId);
    const line = this.store.lineCount(ev.threadId) ?? ch.last?.line ?? 0;
    const msg = ev.msg;
    if (msg.type === "thread_opened") ch.live = true;
    ch.publish(line, ev);
    for (const waiter of this.askWaiters) waiter(ev);
    this.counters.events++;
    // An evicted engine's turn is suspended, not ended: its closing events are not counted.
    const counted = !this.evicting.has(ev.threadId);
    switch (msg.type) {
      case "model_call_completed": {
        const model = this.pool.get(ev.threadId)?.modelId ?? "unknown";
        const samples = this.latencies.get(model) ?? [];
        if (samples.length === 0) this.latencies.set(model, samples);
        samples.push(msg.durationMs);
        if (samples.length > LATENCY_SAMPLES) samples.splice(0, samples.length - LATENCY_SAMPLES);
        this.counters.tokens.input += msg.usage.inputTokens;
        this.counters.tokens.cached_input += msg.usage.cachedInputTokens;
        this.counters.tokens.output += msg.usage.outputTokens;
        this.counters.costUsd += msg.costUsd ?? 0;
        break;
      }
      case "turn_completed":
        if (counted) this.counters.turns.completed++;
        break;
      case "turn_failed":
        if (counted) this.counters.turns.failed++;
        break;
      case "turn_aborted":
        if (counted) this.counters.turns.aborted++;
        break;
      case "shutdown_complete":
        ch.live = false;
        queueMicrotask(() => this.release(ev.threadId));
        break;
      default:
        break;
    }
  }

  /**
   * Closes the pool (running turns get `drainMs` to finish, then are interrupted; a turn
   * waiting on a person stays suspended in its transcript), ends every stream and closes the store.
   */
  async close(drainMs: number): Promise<void> {
    clearInterval(this.pinger);
    if (this.sweeper) clearInterval(this.sweeper);
    await Promise.allSettled(this.evicting.values());
    await this.pool.close({ drainMs });
    for (const ch of this.channels.values()) ch.endAll("event: shutdown\ndata: {}\n\n");
    this.channels.clear();
    await this.store.close();
  }
}
