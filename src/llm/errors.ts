import type { ErrorInfo } from "../protocol/index.ts";
import type { ModelErrorCode } from "./types.ts";

/** Model error codes a retry can help with. */
export const RETRYABLE_MODEL_ERRORS: ReadonlySet<ModelErrorCode> = new Set([
  "rate_limit",
  "overloaded",
  "server",
  "timeout",
  "network",
]);

/** Builds a classified model error; `retryable` follows from the code. */
export function modelError(
  code: ModelErrorCode,
  message: string,
  extra?: { retryAfterMs?: number; status?: number },
): ErrorInfo {
  const info: ErrorInfo = { code, message, source: "model", retryable: RETRYABLE_MODEL_ERRORS.has(code) };
  if (extra?.retryAfterMs !== undefined) info.retryAfterMs = extra.retryAfterMs;
  if (extra?.status !== undefined) info.status = extra.status;
  return info;
}
