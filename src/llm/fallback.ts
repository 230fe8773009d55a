import { TaifengError } from "../errors.ts";
import type { ErrorInfo } from "../protocol/index.ts";
import { modelError } from "./errors.ts";
import type { ModelClient, ModelEvent, ModelRequest, StreamOptions } from "./types.ts";

/** Options for a fallback chain. */
export interface FallbackOptions {
  /**
   * Whether an error moves the call to the next model. Default: every error except
   * `aborted` (the caller gave up) and `content_filter` (a policy decision that another
   * model should not be used to get around).
   */
  readonly shouldFallback?: (error: ErrorInfo) => boolean;
}

const defaultShouldFallback = (e: ErrorInfo) => e.code !== "aborted" && e.code !== "content_filter";

/**
 * A chain of models tried in order: when a model fails before streaming anything (after
 * its own retries, if it is wrapped in `withRetry`), the call moves to the next one and a
 * `retry` event with `delayMs: 0` names the model it falls back to. A failure after output
 * has started is final, for the same reason retries are: the caller already saw it.
 * The chain reports the first model's id. Throws TaifengError `invalid_config` for an
 * empty chain.
 */
export function withFallback(clients: readonly ModelClient[], options: FallbackOptions = {}): ModelClient {
  const first = clients[0];
  if (!first) throw new TaifengError("invalid_config", "a fallback chain needs at least one model");
  if (clients.length === 1) return first;
  const shouldFallback = options.shouldFallback ?? defaultShouldFallback;
  async function* run(request: ModelRequest, opts: StreamOptions | undefined): AsyncGenerator<ModelEvent> {
    for (let i = 0; i < clients.length; i++) {
      const client = clients[i] as ModelClient;
      const next = clients[i + 1];
      let streamed = false;
      let failure: ErrorInfo | undefined;
      for await (const ev of client.stream(request, opts)) {
        if (ev.type === "error" && !streamed) {
          failure = ev.error;
          break;
        }
        if (ev.type !== "usage" && ev.type !== "retry" && ev.type !== "notice") streamed = true;
        yield ev;
        if (ev.type === "finish" || ev.type === "error") return;
      }
      // Ended without finish or error after output: the consumer reports the cut stream.
      if (streamed) return;
      failure ??= modelError("network", `${client.id}: the model stream ended without a finish event`);
      if (!next || opts?.signal?.aborted || !shouldFallback(failure)) {
        yield { type: "error", error: failure };
        return;
      }
      yield {
        type: "retry",
        attempt: i + 1,
        delayMs: 0,
        error: { ...failure, message: `${failure.message}; falling back to ${next.id}` },
      };
    }
  }
  return {
    id: first.id,
    stream: (request, opts) => run(request, opts),
    release: (threadId) => {
      for (const client of clients) client.release?.(threadId);
    },
  };
}
