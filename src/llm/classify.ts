import type { ErrorInfo } from "../protocol/index.ts";
import { modelError } from "./errors.ts";
import type { ModelErrorCode } from "./types.ts";

/**
 * Error classification shared by every provider: SDK exceptions, HTTP statuses, error
 * bodies and mid-stream error events all become one ErrorInfo with a ModelErrorCode, so
 * the retry policy and the engine never look at provider-specific shapes.
 */

/** What a failure looked like, extracted from whatever the SDK threw. */
export interface ErrorFacts {
  readonly message: string;
  readonly status?: number | undefined;
  /** Response headers (for Retry-After). */
  readonly headers?: HeaderSource | undefined;
  /** Provider error type (`overloaded_error`, `rate_limit_exceeded`, `RESOURCE_EXHAUSTED`...). */
  readonly type?: string | undefined;
  /** Provider error code (`insufficient_quota`, `context_length_exceeded`...). */
  readonly code?: string | undefined;
  /** Node/undici system error code of the cause (`ECONNRESET`...). */
  readonly systemCode?: string | undefined;
  /** Server-requested wait parsed from the body (Gemini RetryInfo), in ms. */
  readonly retryAfterMs?: number | undefined;
}

/** Headers as a Fetch `Headers` object or a plain record. */
export type HeaderSource = { get(name: string): string | null } | Record<string, string | undefined>;

/** Why the provider's own abort fired, when it did. */
export type AbortCause = "user" | "first_byte_timeout" | "idle_timeout" | undefined;

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
]);
const TIMEOUT_CODES = new Set([
  "ETIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

const CONTEXT_OVERFLOW =
  /context[ _-]?length|context window|context size|maximum context|maximum prompt length|prompt is too long|input is too long|too many (input )?tokens|exceeds the (maximum|max)[a-z ]*tokens|request[ _]too[ _]large|input token count/i;
const QUOTA =
  /insufficient[ _]quota|exceeded your current quota|billing|credit balance|insufficient balance|payment required/i;
const CONTENT_FILTER = /content[ _-]?(policy|filter|management)|safety system|responsible ai policy/i;

const TYPE_CODES: Readonly<Record<string, ModelErrorCode>> = {
  overloaded_error: "overloaded",
  rate_limit_error: "rate_limit",
  rate_limit_exceeded: "rate_limit",
  api_error: "server",
  server_error: "server",
  internal_error: "server",
  timeout_error: "timeout",
  authentication_error: "auth",
  permission_error: "auth",
  invalid_api_key: "auth",
  billing_error: "quota",
  insufficient_quota: "quota",
  request_too_large: "context_overflow",
  context_length_exceeded: "context_overflow",
  exceed_context_size_error: "context_overflow",
  not_found_error: "invalid_request",
  invalid_request_error: "invalid_request",
  invalid_prompt: "content_filter",
  content_filter: "content_filter",
  UNAVAILABLE: "overloaded",
  INTERNAL: "server",
  DEADLINE_EXCEEDED: "timeout",
  UNAUTHENTICATED: "auth",
  PERMISSION_DENIED: "auth",
  INVALID_ARGUMENT: "invalid_request",
  NOT_FOUND: "invalid_request",
};

/** Classifies extracted facts. Status wins over body type; message patterns refine 4xx. */
export function classifyFacts(facts: ErrorFacts): ErrorInfo {
  const code = codeFor(facts);
  const retryAfterMs = facts.retryAfterMs ?? retryAfterFromHeaders(facts.headers);
  const extra: { retryAfterMs?: number; status?: number } = {};
  if (retryAfterMs !== undefined) extra.retryAfterMs = retryAfterMs;
  if (facts.status !== undefined) extra.status = facts.status;
  return modelError(code, facts.message || code, extra);
}

function codeFor(f: ErrorFacts): ModelErrorCode {
  const text = `${f.message} ${f.code ?? ""} ${f.type ?? ""}`;
  const byType = (f.code && TYPE_CODES[f.code]) || (f.type && TYPE_CODES[f.type]) || undefined;
  const s = f.status;
  if (s === undefined) {
    if (f.systemCode && TIMEOUT_CODES.has(f.systemCode)) return "timeout";
    if (f.systemCode && NETWORK_CODES.has(f.systemCode)) return "network";
    if (byType === "invalid_request" && CONTEXT_OVERFLOW.test(text)) return "context_overflow";
    if (byType === "rate_limit" && QUOTA.test(text)) return "quota";
    if (byType) return byType;
    if (CONTEXT_OVERFLOW.test(text)) return "context_overflow";
    return "unknown";
  }
  if (s === 429) {
    // A 429 that says when to come back is a rate limit even if it mentions quota (Gemini).
    if (byType === "quota") return "quota";
    if (f.retryAfterMs !== undefined || retryAfterFromHeaders(f.headers) !== undefined) return "rate_limit";
    return QUOTA.test(text) ? "quota" : "rate_limit";
  }
  if (s === 402) return "quota";
  if (s === 529 || s === 503) return "overloaded";
  if (s === 408 || s === 504) return "timeout";
  if (s >= 500) return byType === "overloaded" ? "overloaded" : "server";
  if (s === 401 || s === 403) return QUOTA.test(text) ? "quota" : "auth";
  if (s === 413 || CONTEXT_OVERFLOW.test(text) || byType === "context_overflow") return "context_overflow";
  if (QUOTA.test(text) || byType === "quota") return "quota";
  if (byType === "content_filter" || CONTENT_FILTER.test(text)) return "content_filter";
  return "invalid_request";
}

function header(headers: HeaderSource | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as { get?: unknown }).get === "function") {
    return (headers as { get(n: string): string | null }).get(name) ?? undefined;
  }
  const rec = headers as Record<string, string | undefined>;
  return rec[name] ?? rec[name.toLowerCase()];
}

/**
 * Reads the server's requested wait: `retry-after-ms` (OpenAI), then `retry-after` as
 * seconds or an HTTP date. Returns undefined when absent or unparsable.
 */
export function retryAfterFromHeaders(
  headers: HeaderSource | undefined,
  now = Date.now(),
): number | undefined {
  const ms = header(headers, "retry-after-ms");
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const value = header(headers, "retry-after")?.trim();
  if (value === undefined || value === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Parses a protobuf Duration string such as `"37s"` or `"1.5s"` into ms. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(value.trim());
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** Finds a Node system error code on an error or along its `cause` chain. */
function systemCodeOf(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 5 && cur; depth++) {
    const rec = asRecord(cur);
    const code = str(rec?.code);
    if (code && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code)) return code;
    cur = rec?.cause;
  }
  return undefined;
}

/**
 * Extracts facts from anything an official SDK throws: OpenAI and Anthropic `APIError`
 * (status, headers, `error` body), Google `ApiError` (status, JSON body as message), AI SDK
 * `APICallError` (statusCode, responseHeaders, responseBody) and plain network errors.
 */
export function errorFacts(err: unknown): ErrorFacts {
  const rec = asRecord(err) ?? {};
  const status =
    typeof rec.status === "number"
      ? rec.status
      : typeof rec.statusCode === "number"
        ? rec.statusCode
        : undefined;
  const headers = (rec.headers ?? rec.responseHeaders) as HeaderSource | undefined;
  let body = asRecord(rec.error);
  let message = err instanceof Error ? err.message : typeof err === "string" ? err : JSON.stringify(err);
  // Google puts the JSON error body in the message; the AI SDK keeps it as responseBody.
  const rawBody = str(rec.responseBody) ?? (message.trimStart().startsWith("{") ? message : undefined);
  if (!body && rawBody) {
    try {
      body = asRecord(JSON.parse(rawBody));
    } catch {
      // not JSON: keep the message as it is
    }
  }
  const inner = asRecord(body?.error) ?? body;
  const innerMessage = str(inner?.message);
  if (innerMessage && (message === "" || message.trimStart().startsWith("{") || rawBody))
    message = innerMessage;
  const type = str(rec.type) ?? str(inner?.type) ?? str(inner?.status);
  const code = str(typeof rec.code === "string" ? rec.code : undefined) ?? str(inner?.code);
  let retryAfterMs: number | undefined;
  const details = inner?.details;
  if (Array.isArray(details)) {
    for (const d of details) {
      const delay = parseDuration(asRecord(d)?.retryDelay);
      if (delay !== undefined) retryAfterMs = delay;
    }
  }
  return {
    message,
    status,
    headers,
    type,
    code: code && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code) ? undefined : code,
    systemCode: systemCodeOf(err),
    retryAfterMs,
  };
}

/**
 * Classifies a thrown error. `abort` says why the provider's own signal fired, so that
 * a timeout the provider imposed is not mistaken for the caller's cancellation.
 */
export function classifyError(err: unknown, abort: AbortCause = undefined, provider = "model"): ErrorInfo {
  if (abort === "user") return modelError("aborted", "model call aborted");
  if (abort === "first_byte_timeout")
    return modelError("timeout", `${provider}: no response before the first-byte timeout`);
  if (abort === "idle_timeout")
    return modelError("timeout", `${provider}: the stream stalled longer than the idle timeout`);
  if (err instanceof SyntaxError) {
    return modelError("server", `${provider}: malformed stream data: ${err.message}`);
  }
  const name = err instanceof Error ? err.name : "";
  if (name === "APIConnectionTimeoutError") return modelError("timeout", `${provider}: request timed out`);
  const facts = errorFacts(err);
  const info = classifyFacts(facts);
  if (
    info.code === "unknown" &&
    (name === "APIConnectionError" ||
      name === "TypeError" ||
      /terminated|socket|fetch failed|network/i.test(facts.message))
  ) {
    return { ...info, code: "network", retryable: true, message: `${provider}: ${facts.message}` };
  }
  return { ...info, message: `${provider}: ${info.message}` };
}
