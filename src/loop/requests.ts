/** Resolution of a pending request, or why it ended without one. */
export type Pending<T> =
  | { readonly kind: "answered"; readonly value: T }
  | { readonly kind: "aborted" }
  | { readonly kind: "timeout" };

interface Waiter {
  readonly kind: string;
  readonly resolve: (value: unknown) => void;
}

/**
 * Requests a turn is waiting on (permission approvals, answers to ask_user), keyed by id.
 * An op resolves a request by id; the turn's signal or a timeout ends the wait otherwise.
 */
export class PendingRequests {
  private readonly waiting = new Map<string, Waiter>();

  /** Number of requests waiting. */
  get size(): number {
    return this.waiting.size;
  }

  /** Waits for `resolve(kind, id, value)`; ends early on abort or after `timeoutMs` (0 = no timeout). */
  wait<T>(kind: string, id: string, signal: AbortSignal, timeoutMs = 0): Promise<Pending<T>> {
    if (signal.aborted) return Promise.resolve({ kind: "aborted" });
    return new Promise<Pending<T>>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (result: Pending<T>) => {
        this.waiting.delete(id);
        signal.removeEventListener("abort", onAbort);
        if (timer) clearTimeout(timer);
        resolve(result);
      };
      const onAbort = () => done({ kind: "aborted" });
      signal.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs > 0) timer = setTimeout(() => done({ kind: "timeout" }), timeoutMs);
      this.waiting.set(id, { kind, resolve: (value) => done({ kind: "answered", value: value as T }) });
    });
  }

  /** Delivers an answer; false when no request of that kind has that id. */
  resolve(kind: string, id: string, value: unknown): boolean {
    const waiter = this.waiting.get(id);
    if (!waiter || waiter.kind !== kind) return false;
    waiter.resolve(value);
    return true;
  }
}
