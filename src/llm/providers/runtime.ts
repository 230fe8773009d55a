import { TaifengError } from "../../errors.ts";
import { costOf, type ModelPrices } from "../catalog.ts";
import { type AbortCause, classifyError } from "../classify.ts";
import { modelError } from "../errors.ts";
import type { ModelEvent } from "../types.ts";

/**
 * What every provider shares: one streaming loop that owns timeouts, cancellation, error
 * classification and the ModelEvent contract, so each provider only translates chunks.
 */

/** Time limits of one model call. 0 disables a limit. */
export interface ProviderTimeouts {
  /** From sending the request to the first stream chunk. Default 60 s. */
  readonly firstByteMs?: number;
  /** Longest silence between two chunks once streaming. Default 300 s (reasoning can be quiet). */
  readonly idleMs?: number;
}

/** The limits used when none are given. */
export const DEFAULT_TIMEOUTS = { firstByteMs: 60_000, idleMs: 300_000 } as const;

/**
 * Turns provider chunks into ModelEvents. `push` handles one chunk; `end` runs when the
 * source is exhausted and must return a terminal event (`finish`, or an `error` when the
 * provider's own end marker never came). Translators may throw; the loop classifies it.
 */
export interface Translator<T> {
  push(chunk: T): readonly ModelEvent[];
  end(): readonly ModelEvent[];
}

/** One call for `providerStream`. */
export interface ProviderCall<T> {
  /** Names the provider in error messages. */
  readonly provider: string;
  readonly signal: AbortSignal | undefined;
  readonly timeouts: ProviderTimeouts | undefined;
  /** Prices for `costUsd` on the usage event. */
  readonly prices: ModelPrices | undefined;
  /** Sends the request with the SDK; resolves to the chunk stream. Must honour `signal`. */
  open(signal: AbortSignal): Promise<AsyncIterable<T>>;
  readonly translator: Translator<T>;
}

const isTerminal = (ev: ModelEvent) => ev.type === "finish" || ev.type === "error";

/**
 * Runs one provider call and yields its events. Guarantees the ModelEvent contract: never
 * throws, ends with exactly one `finish` or `error`, yields nothing after it. A caller
 * abort ends it with `aborted`; a first chunk later than `firstByteMs` or a silence longer
 * than `idleMs` aborts the HTTP request and ends it with `timeout`. Stopping iteration
 * early aborts the request, so no socket is left open.
 */
export async function* providerStream<T>(call: ProviderCall<T>): AsyncGenerator<ModelEvent> {
  const firstByteMs = call.timeouts?.firstByteMs ?? DEFAULT_TIMEOUTS.firstByteMs;
  const idleMs = call.timeouts?.idleMs ?? DEFAULT_TIMEOUTS.idleMs;
  if (call.signal?.aborted) {
    yield { type: "error", error: modelError("aborted", "model call aborted") };
    return;
  }
  const ctl = new AbortController();
  let cause: AbortCause;
  const stop = (why: AbortCause) => {
    cause ??= why;
    ctl.abort();
  };
  const onUserAbort = () => stop("user");
  call.signal?.addEventListener("abort", onUserAbort, { once: true });
  const stopped = new Promise<never>((_, reject) => {
    ctl.signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
  });
  stopped.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (ms: number, why: AbortCause) => {
    clearTimeout(timer);
    timer = ms > 0 ? setTimeout(() => stop(why), ms) : undefined;
  };
  const price = (ev: ModelEvent): ModelEvent =>
    ev.type === "usage" && ev.costUsd === undefined && call.prices
      ? { ...ev, costUsd: costOf(ev.usage, call.prices) }
      : ev;
  let iterator: AsyncIterator<T> | undefined;
  try {
    arm(firstByteMs, "first_byte_timeout");
    const source = await Promise.race([call.open(ctl.signal), stopped]);
    iterator = source[Symbol.asyncIterator]();
    let first = true;
    for (;;) {
      if (!first) arm(idleMs, "idle_timeout");
      const next = await Promise.race([iterator.next(), stopped]);
      clearTimeout(timer);
      first = false;
      if (next.done) break;
      for (const ev of call.translator.push(next.value)) {
        yield price(ev);
        if (isTerminal(ev)) return;
      }
    }
    for (const ev of call.translator.end()) {
      yield price(ev);
      if (isTerminal(ev)) return;
    }
    yield {
      type: "error",
      error: modelError("network", `${call.provider}: the stream ended before the response finished`),
    };
  } catch (err) {
    yield { type: "error", error: classifyError(err, cause, call.provider) };
  } finally {
    clearTimeout(timer);
    call.signal?.removeEventListener("abort", onUserAbort);
    // Releases the connection when the stream was abandoned or failed; a no-op once the
    // body has been read to the end.
    ctl.abort();
    iterator?.return?.()?.catch(() => {});
  }
}

/**
 * Reads an API key from the environment: the first of `vars` that is set and non-empty.
 * Throws TaifengError `missing_api_key` naming the variables when none is set.
 */
export function apiKeyFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  vars: readonly string[],
  provider: string,
): string {
  for (const name of vars) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  throw new TaifengError(
    "missing_api_key",
    `the ${provider} provider needs an API key: set ${vars.join(" or ")} in the environment`,
    { details: { variables: [...vars] } },
  );
}

/**
 * Imports an optional SDK. Throws TaifengError `invalid_config` telling how to install it
 * when it is missing, so the core package does not depend on every provider SDK.
 */
export async function loadSdk<T>(pkg: string, provider: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
      throw new TaifengError(
        "invalid_config",
        `the ${provider} provider needs the "${pkg}" package: npm install ${pkg}`,
        { cause: err },
      );
    }
    throw err;
  }
}
