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
import { type Event, newId } from "../protocol/index.ts";
import { ThreadChannel } from "./channel.ts";
import { CountingStore } from "./positions.ts";

/** Options of a ThreadHub: the pool's, plus channel limits. */
export interface ThreadHubOptions extends Omit<PoolOptions, "store" | "listeners"> {
  /** A store to use instead of a JSONL store in `storageDir` (closed by the hub). */
  readonly store?: ThreadStore;
  /** Live events retained per thread for resume. Default 4096. */
  readonly retainEvents?: number;
  /** Bytes a slow viewer may have unsent before it is paused. Default 256 KiB. */
  readonly maxBufferedBytes?: number;
}

/** Counters for `/metrics`. */
export interface HubCounters {
  events: number;
  turns: Record<"completed" | "failed" | "aborted", number>;
  tokens: Record<"input" | "cached_input" | "output", number>;
  costUsd: number;
}

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
  }

  /** Opens the store and the pool. */
  static async create(options: ThreadHubOptions): Promise<ThreadHub> {
    const { store: given, storageDir, durability, retainEvents: _r, maxBufferedBytes: _m, ...rest } = options;
    const inner =
      given ??
      (storageDir !== undefined
        ? new JsonlThreadStore({ dir: storageDir, ...(durability !== undefined ? { durability } : {}) })
        : new MemoryThreadStore());
    const store = new CountingStore(inner);
    let hub: ThreadHub | undefined;
    const listener = (ev: Event) => hub?.onEvent(ev);
    const pool = await EnginePool.create({ ...rest, store, listeners: [listener] });
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
    this.counters.events++;
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
        this.counters.turns.completed++;
        break;
      case "turn_failed":
        this.counters.turns.failed++;
        break;
      case "turn_aborted":
        this.counters.turns.aborted++;
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
    await this.pool.close({ drainMs });
    for (const ch of this.channels.values()) ch.endAll("event: shutdown\ndata: {}\n\n");
    this.channels.clear();
    await this.store.close();
  }
}
