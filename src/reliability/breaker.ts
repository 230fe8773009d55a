/** Circuit breakers per model: consecutive provider failures open it; calls then fail fast. */
import { TaifengError } from "../errors.ts";
import type { ModelClient, ModelEvent, ModelRequest, StreamOptions } from "../llm/types.ts";
import type { EventListener } from "../loop/event-hub.ts";
import type { ErrorInfo, EventMsgOf } from "../protocol/index.ts";

/** Where a model's breaker is. */
export type BreakerState = "closed" | "open" | "half_open";

/** A state change or a slow call, as the breaker reports it. */
export interface BreakerNotice {
  readonly model: string;
  readonly kind: "opened" | "half_opened" | "closed" | "slow_call";
  readonly message: string;
}

/** Options of `createCircuitBreaker`. */
export interface BreakerOptions {
  /** Consecutive failures that open a model's breaker. Default 5. */
  readonly failureThreshold?: number;
  /** How long an open breaker fails fast before letting one probe call through. Default 30 s. */
  readonly cooldownMs?: number;
  /**
   * Which errors count as provider failures. Default: `rate_limit`, `overloaded`, `server`,
   * `timeout`, `network` (a bad request or a content filter says nothing about the provider).
   */
  readonly isFailure?: (error: ErrorInfo) => boolean;
  /** Advisory: a call slower than this (to its last event) is reported, never counted. */
  readonly slowCallMs?: number;
  /** Clock in ms. Default `Date.now`. */
  readonly now?: () => number;
  /** Told about every state change and slow call. */
  readonly onNotice?: (notice: BreakerNotice) => void;
}

const MAX_PENDING_PER_THREAD = 16;
const MAX_PENDING_THREADS = 1_024;

const PROVIDER_FAILURES = new Set(["rate_limit", "overloaded", "server", "timeout", "network"]);

interface ModelCircuit {
  state: BreakerState;
  failures: number;
  openedAt: number;
  probing: boolean;
}

/**
 * Circuit breakers for any number of models (keyed by client id). Wrap each model with
 * `wrap`; compose with `withRetry` inside and `withFallback` outside
 * (`withFallback([withRetry(breaker.wrap(a)), withRetry(breaker.wrap(b))])`): while a model's
 * breaker is open its calls end at once with a `circuit_open` error (not retryable), which
 * the fallback chain answers by moving to the next model. After `cooldownMs` one probe call
 * goes through (half-open): success closes the breaker, a failure opens it again. Attach
 * `listener` to engines to get state changes and slow calls as `warning` events
 * (`circuit_open`, `circuit_half_open`, `circuit_closed`, `slow_model_call`) in the turn
 * whose call caused them.
 */
export class CircuitBreaker {
  readonly listener: EventListener;
  private readonly circuits = new Map<string, ModelCircuit>();
  private readonly threshold: number;
  private readonly cooldownMs: number;
  private readonly isFailure: (error: ErrorInfo) => boolean;
  private readonly slowCallMs: number | undefined;
  private readonly now: () => number;
  private readonly onNotice: ((notice: BreakerNotice) => void) | undefined;
  /** Notices waiting for the next event of the thread whose call raised them. */
  private readonly pending = new Map<string, BreakerNotice[]>();

  constructor(options: BreakerOptions = {}) {
    this.threshold = options.failureThreshold ?? 5;
    if (!(this.threshold >= 1))
      throw new TaifengError("invalid_config", "failureThreshold must be at least 1");
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.isFailure = options.isFailure ?? ((e) => PROVIDER_FAILURES.has(e.code));
    this.slowCallMs = options.slowCallMs;
    this.now = options.now ?? Date.now;
    this.onNotice = options.onNotice;
    this.listener = (event, ctx) => {
      if (this.pending.size === 0) return;
      const t = event.msg.type;
      if (t !== "model_call_completed" && t !== "model_retry") return;
      const notices = this.pending.get(event.threadId);
      if (!notices) return;
      this.pending.delete(event.threadId);
      for (const n of notices) ctx.emit(warningOf(n), event);
    };
  }

  /** The breaker state of a model id (`closed` for a model never seen). */
  state(modelId: string): BreakerState {
    const c = this.circuits.get(modelId);
    if (c?.state === "open" && this.now() - c.openedAt >= this.cooldownMs) return "half_open";
    return c?.state ?? "closed";
  }

  /** The model behind this model's breaker. */
  wrap(client: ModelClient): ModelClient {
    const breaker = this;
    async function* run(
      request: ModelRequest,
      options: StreamOptions | undefined,
    ): AsyncGenerator<ModelEvent> {
      const admitted = breaker.admit(client.id, request.threadId);
      if (admitted !== true) {
        yield { type: "error", error: admitted };
        return;
      }
      const started = breaker.now();
      let settled = false;
      // Settled before the last event is passed on: the engine reports the call as soon as it
      // sees it, and the breaker's notices must be waiting by then.
      const settle = (outcome: "success" | "failure" | "neutral") => {
        if (settled) return;
        settled = true;
        breaker.settle(client.id, request.threadId, outcome, breaker.now() - started);
      };
      try {
        for await (const ev of client.stream(request, options)) {
          if (ev.type === "finish") settle("success");
          else if (ev.type === "error")
            settle(ev.error.code !== "aborted" && breaker.isFailure(ev.error) ? "failure" : "neutral");
          yield ev;
          if (ev.type === "finish" || ev.type === "error") return;
        }
        settle(options?.signal?.aborted ? "neutral" : "failure");
      } finally {
        settle("neutral");
      }
    }
    return {
      id: client.id,
      stream: (request, options) => run(request, options),
      release: (threadId) => client.release?.(threadId),
    };
  }

  private circuit(modelId: string): ModelCircuit {
    let c = this.circuits.get(modelId);
    if (!c) {
      c = { state: "closed", failures: 0, openedAt: 0, probing: false };
      this.circuits.set(modelId, c);
    }
    return c;
  }

  /** True to let a call through, else the fail-fast error. */
  private admit(modelId: string, threadId: string | undefined): true | ErrorInfo {
    const c = this.circuit(modelId);
    if (c.state === "closed") return true;
    if (c.state === "open" && this.now() - c.openedAt >= this.cooldownMs) {
      c.state = "half_open";
      this.notify(threadId, {
        model: modelId,
        kind: "half_opened",
        message: `${modelId}: cooldown over, trying one call`,
      });
    }
    if (c.state === "half_open" && !c.probing) {
      c.probing = true;
      return true;
    }
    const wait = Math.max(0, this.cooldownMs - (this.now() - c.openedAt));
    return {
      source: "model",
      code: "circuit_open",
      message: `${modelId}: circuit open after ${c.failures} consecutive failures; failing fast${c.state === "open" ? ` for ${Math.ceil(wait / 1000)} s more` : " while a probe call runs"}`,
      retryable: false,
    };
  }

  private settle(
    modelId: string,
    threadId: string | undefined,
    outcome: "success" | "failure" | "neutral",
    durationMs: number,
  ): void {
    const c = this.circuit(modelId);
    const probe = c.state === "half_open" && c.probing;
    if (probe) c.probing = false;
    if (this.slowCallMs !== undefined && durationMs > this.slowCallMs)
      this.notify(threadId, {
        model: modelId,
        kind: "slow_call",
        message: `${modelId}: the call took ${Math.round(durationMs)} ms (advisory limit ${this.slowCallMs} ms)`,
      });
    if (outcome === "success") {
      c.failures = 0;
      if (c.state !== "closed") {
        c.state = "closed";
        this.notify(threadId, {
          model: modelId,
          kind: "closed",
          message: `${modelId}: circuit closed, calls flow again`,
        });
      }
      return;
    }
    if (outcome === "neutral") return;
    c.failures++;
    if (probe || (c.state === "closed" && c.failures >= this.threshold)) {
      c.state = "open";
      c.openedAt = this.now();
      this.notify(threadId, {
        model: modelId,
        kind: "opened",
        message: `${modelId}: circuit open after ${c.failures} consecutive failure(s); calls fail fast for ${Math.round(this.cooldownMs / 1000)} s`,
      });
    }
  }

  private notify(threadId: string | undefined, notice: BreakerNotice): void {
    try {
      this.onNotice?.(notice);
    } catch {
      // A host callback never changes the breaker.
    }
    if (threadId === undefined) return;
    const list = this.pending.get(threadId);
    if (list) {
      // Bounded: a breaker used without its listener must not collect notices forever.
      if (list.length < MAX_PENDING_PER_THREAD) list.push(notice);
      return;
    }
    if (this.pending.size >= MAX_PENDING_THREADS) {
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    this.pending.set(threadId, [notice]);
  }
}

function warningOf(n: BreakerNotice): EventMsgOf<"warning"> {
  const code =
    n.kind === "opened"
      ? "circuit_open"
      : n.kind === "half_opened"
        ? "circuit_half_open"
        : n.kind === "closed"
          ? "circuit_closed"
          : "slow_model_call";
  return { type: "warning", code, message: n.message };
}

/** Creates a CircuitBreaker. Throws TaifengError `invalid_config` for a threshold below 1. */
export function createCircuitBreaker(options: BreakerOptions = {}): CircuitBreaker {
  return new CircuitBreaker(options);
}
