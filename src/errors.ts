/**
 * Errors a caller handles. Taifeng throws only for bugs, bad configuration and misuse of the
 * API; failures during a turn are delivered as events (see ErrorInfo in the protocol).
 */

/** Every code a TaifengError may carry. */
export type TaifengErrorCode =
  /** A configuration value or file is malformed; the message names the file and field. */
  | "invalid_config"
  /** A SimClient script is malformed; the message names the file and step. */
  | "invalid_script"
  /** An op failed schema validation. */
  | "invalid_op"
  /** The engine has shut down and accepts no more submissions. */
  | "engine_closed"
  /** The pool is at its engine limit and no engine is idle enough to evict. */
  | "pool_exhausted"
  /** The pool is closed. */
  | "pool_closed"
  /** No thread with that id exists in the store. */
  | "thread_not_found"
  /** Another writer holds the thread. */
  | "thread_locked"
  /** The store could not read or write. */
  | "store_error"
  /** A model name or provider is unknown. */
  | "unknown_model"
  /** A provider needs an API key that is not set; the message names the variable. */
  | "missing_api_key"
  /** Two tools share a name, or a tool definition is invalid. */
  | "invalid_tool"
  /** No usable skill has that name (unknown, invalid or ineligible; the message says which). */
  | "unknown_skill"
  /** A library function got arguments it cannot work with (e.g. mismatched attempts); the message says which. */
  | "invalid_argument"
  /** `run()`: the turn ended with turn_failed (details.error has the cause). */
  | "turn_failed"
  /** `run()`: the turn was interrupted. */
  | "turn_aborted"
  /** An invariant broke: a bug in Taifeng. */
  | "internal";

/** An error with a stable, typed `code` a caller can switch on. */
export class TaifengError extends Error {
  override readonly name = "TaifengError";
  readonly code: TaifengErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: TaifengErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
}

/** True when `err` is a TaifengError, optionally with the given code. */
export function isTaifengError(err: unknown, code?: TaifengErrorCode): err is TaifengError {
  return err instanceof TaifengError && (code === undefined || err.code === code);
}

/** A one-line description of any thrown value, for model-readable outputs and logs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === "string") return err;
  try {
    return JSON.stringify(err);
  } catch {
    return String(err);
  }
}
