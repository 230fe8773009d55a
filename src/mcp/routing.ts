/**
 * Which tool call a server's own request (an elicitation, a sampling request) belongs to.
 *
 * Over Streamable HTTP the request arrives on the call's own response stream, and with the
 * 2026 protocol it is an `input_required` result of the call itself: either way it reaches the
 * client in the call's async context, so the match is exact. Over stdio with a 2025-era
 * server nothing on the wire links the request to the call it serves, so calls to such a
 * server are admitted one at a time (`exclusive`): whatever it asks belongs to the one call in
 * flight. A request that still cannot be matched (several calls, no context) is declined,
 * never shown to the wrong conversation.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { ToolContext } from "../tool/define.ts";

/** One tool call in flight: what server-initiated requests during it may use. */
export interface CallScope {
  readonly ctx: Pick<ToolContext, "askUser" | "signal"> & { readonly threadId?: string | undefined };
  /** Waiting on a person (or on the server's turn): the call's own timeout stops counting. */
  readonly pause: () => void;
  readonly resume: () => void;
}

/** The calls in flight on one connection, and the lock exclusive calls take. */
export class CallRouter {
  private readonly active = new Set<CallScope>();
  private readonly store = new AsyncLocalStorage<CallScope>();
  private tail: Promise<void> = Promise.resolve();

  /** How many calls are in flight. */
  get inFlight(): number {
    return this.active.size;
  }

  /**
   * Runs `op` as `scope`'s call, in its async context. With `exclusive`, waits until every
   * earlier exclusive call has finished (the scope's timer is paused meanwhile; its signal
   * still cancels the wait).
   */
  async run<T>(scope: CallScope, exclusive: boolean, op: () => Promise<T>): Promise<T> {
    let release: (() => void) | undefined;
    if (exclusive) {
      const previous = this.tail;
      const mine = new Promise<void>((resolve) => {
        release = resolve;
      });
      this.tail = previous.then(() => mine);
      scope.pause();
      try {
        await untilDone(previous, scope.ctx.signal);
      } catch (err) {
        release?.();
        throw err;
      }
      scope.resume();
    }
    this.active.add(scope);
    try {
      return await this.store.run(scope, op);
    } finally {
      this.active.delete(scope);
      release?.();
    }
  }

  /** The call a server request belongs to: the async context's, else the only call in flight. */
  scopeFor(): CallScope | undefined {
    const own = this.store.getStore();
    if (own) return own;
    if (this.active.size !== 1) return undefined;
    return this.active.values().next().value;
  }
}

function untilDone(previous: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    void previous.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
