import { z } from "zod";

/**
 * Token usage of one or more model calls, normalized across providers.
 * `inputTokens` counts every prompt token, including cached reads and cache writes
 * (providers that report them separately are normalized to this convention);
 * `reasoningTokens` is the part of `outputTokens` spent on reasoning.
 */
export const Usage = z.object({
  inputTokens: z.number().int().nonnegative(),
  cachedInputTokens: z.number().int().nonnegative(),
  cacheWriteTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  reasoningTokens: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof Usage>;

/** A usage record with every counter at zero. */
export function emptyUsage(): Usage {
  return { inputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 0, reasoningTokens: 0 };
}

/** Adds `b` into `a` in place and returns `a`. */
export function addUsage(a: Usage, b: Usage): Usage {
  a.inputTokens += b.inputTokens;
  a.cachedInputTokens += b.cachedInputTokens;
  a.cacheWriteTokens += b.cacheWriteTokens;
  a.outputTokens += b.outputTokens;
  a.reasoningTokens += b.reasoningTokens;
  return a;
}

/**
 * Where an error came from. `model` errors carry a classified `code` (see ModelErrorCode);
 * the others carry engine codes documented on TaifengErrorCode.
 */
export const ErrorSource = z.enum(["model", "tool", "engine", "store", "hook", "permission", "config"]);
export type ErrorSource = z.infer<typeof ErrorSource>;

/** A failure as data: what went wrong, where, and whether trying again can help. */
export const ErrorInfo = z.object({
  code: z.string(),
  message: z.string(),
  source: ErrorSource,
  retryable: z.boolean().optional(),
  /** Server-requested wait before retrying, when the provider sent one. */
  retryAfterMs: z.number().nonnegative().optional(),
  /** HTTP status, when the failure was an HTTP response. */
  status: z.number().int().optional(),
});
export type ErrorInfo = z.infer<typeof ErrorInfo>;
