/** Resolution of a pending request, or why it ended without one. */
export type Pending<T> =
  | { readonly kind: "answered"; readonly value: T }
  | { readonly kind: "aborted" }
  | { readonly kind: "timeout" };

interface Waiter {
  readonly kind: string;
  readonly resolve: (value: unknown) => void;
  readonly abort: () => void;
}

/**
 * Requests a turn is waiting on (permission approvals, answers to ask_user), keyed by id.
 * An op resolves a request by id; the turn's signal or a timeout ends the wait otherwise.
 */
export class PendingRequests {
  // Created on the first wait: most engines never wait on a person.
  private waiting: Map<string, Waiter> | undefined;

  /** Number of requests waiting. */
  get size(): number {
    return this.waiting?.size ?? 0;
  }

  /**
   * Waits for `resolve(kind, id, value)`; ends early on abort, `abortAll` or after
   * `timeoutMs` (0 = no timeout). `onSettle` runs synchronously the moment the wait ends,
   * before any other code observes the outcome (so the answer's event precedes its effects).
   */
  wait<T>(
    kind: string,
    id: string,
    signal: AbortSignal,
    timeoutMs = 0,
    onSettle?: (result: Pending<T>) => void,
  ): Promise<Pending<T>> {
    if (signal.aborted) {
      onSettle?.({ kind: "aborted" });
      return Promise.resolve({ kind: "aborted" });
    }
    return new Promise<Pending<T>>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const done = (result: Pending<T>) => {
        if (settled) return;
        settled = true;
        this.waiting?.delete(id);
        signal.removeEventListener("abort", onAbort);
        if (timer) clearTimeout(timer);
        onSettle?.(result);
        resolve(result);
      };
      const onAbort = () => done({ kind: "aborted" });
      signal.addEventListener("abort", onAbort, { once: true });
      if (timeoutMs > 0) timer = setTimeout(() => done({ kind: "timeout" }), timeoutMs);
      this.waiting ??= new Map<string, Waiter>();
      this.waiting.set(id, {
        kind,
        resolve: (value) => done({ kind: "answered", value: value as T }),
        abort: () => done({ kind: "aborted" }),
      });
    });
  }

  /** True while a request with this id is waiting. */
  has(id: string): boolean {
    return this.waiting?.has(id) ?? false;
  }

  /**
   * Ends every wait as aborted, synchronously (each `onSettle` runs before this returns).
   * The engine calls it before cancelling a turn, so a request's resolution is observed
   * before the cancellation of the call that waited on it.
   */
  abortAll(): void {
    if (!this.waiting?.size) return;
    for (const waiter of [...this.waiting.values()]) waiter.abort();
  }

  /** Delivers an answer; false when no request of that kind has that id. */
  resolve(kind: string, id: string, value: unknown): boolean {
    const waiter = this.waiting?.get(id);
    if (!waiter || waiter.kind !== kind) return false;
    waiter.resolve(value);
    return true;
  }
}
