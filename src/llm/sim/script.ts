import { z } from "zod";
import { TaifengError } from "../../errors.ts";
import { readJsonFile } from "../../json-file.ts";
import type { ModelRequest } from "../types.ts";

/**
 * The SimClient script format (documented in docs/guides/simulator.md). A script is an
 * ordered list of steps; each model call of a thread consumes the next step.
 */

const ErrorCode = z.enum([
  "rate_limit",
  "overloaded",
  "server",
  "timeout",
  "network",
  "context_overflow",
  "auth",
  "quota",
  "invalid_request",
  "content_filter",
  "unknown",
]);

/** A tool call the simulated model makes. `arguments` may be an object or raw JSON text. */
export const SimToolCall = z.strictObject({
  id: z.string().min(1).optional(),
  name: z.string().min(1),
  arguments: z.union([z.record(z.string(), z.unknown()), z.string()]).default({}),
  /** How many deltas the arguments are streamed in (default 2). */
  chunks: z.number().int().positive().optional(),
});
export type SimToolCall = z.infer<typeof SimToolCall>;

/** A simulated failure: a classified model error, emitted after `afterChunks` chunks (default 0). */
export const SimError = z.strictObject({
  code: ErrorCode,
  message: z.string().default("simulated failure"),
  afterChunks: z.number().int().nonnegative().default(0),
  retryAfterMs: z.number().nonnegative().optional(),
  status: z.number().int().optional(),
});

const MODEL_EVENT_TYPES = [
  "text_delta",
  "text_end",
  "reasoning_delta",
  "reasoning_end",
  "tool_call_start",
  "tool_call_delta",
  "tool_call_end",
  "usage",
  "retry",
  "notice",
  "finish",
  "error",
] as const;

/**
 * A recorded, normalized model event (a golden shape fixture line): replayed verbatim. Only
 * the `type` is checked here; the engine tolerates what the ModelEvent contract allows.
 */
export const SimEvent = z.looseObject({ type: z.enum(MODEL_EVENT_TYPES) });

/** One model call's worth of output. */
export const SimStep = z.strictObject({
  /**
   * Replay these events exactly (a golden shape fixture), instead of building them from the
   * fields below. The last one must be `finish` or `error`.
   */
  events: z
    .array(SimEvent)
    .min(1)
    .refine((evs) => ["finish", "error"].includes(evs.at(-1)?.type ?? ""), {
      message: "the last replayed event must be finish or error",
    })
    .optional(),
  /** Reasoning streamed before the text. */
  reasoning: z.union([z.string(), z.array(z.string())]).optional(),
  /** Text: a string (split into word chunks) or an explicit list of chunks. */
  text: z.union([z.string(), z.array(z.string())]).optional(),
  toolCalls: z.array(SimToolCall).optional(),
  /** Reported usage; missing counters are estimated from the request and output (chars / 4). */
  usage: z
    .strictObject({
      inputTokens: z.number().int().nonnegative().optional(),
      cachedInputTokens: z.number().int().nonnegative().optional(),
      cacheWriteTokens: z.number().int().nonnegative().optional(),
      outputTokens: z.number().int().nonnegative().optional(),
      reasoningTokens: z.number().int().nonnegative().optional(),
    })
    .optional(),
  /** Wait before the first chunk (time to first token). */
  delayMs: z.number().nonnegative().default(0),
  /** Wait between chunks. */
  chunkDelayMs: z.number().nonnegative().default(0),
  error: SimError.optional(),
  /** Finish reason; default `tool_calls` when the step calls tools, else `stop`. */
  finish: z.enum(["stop", "tool_calls", "length", "content_filter", "refusal"]).optional(),
});
export type SimStep = z.infer<typeof SimStep>;
export type SimStepInput = z.input<typeof SimStep>;

/** A whole script. */
export const SimScript = z.strictObject({
  steps: z.array(SimStep).min(1),
  /** What happens when a thread has used every step: an `invalid_request` error (default) or repeat the last step. */
  onExhausted: z.enum(["error", "repeat_last"]).default("error"),
});
export type SimScript = z.infer<typeof SimScript>;
export type SimScriptInput = z.input<typeof SimScript>;

/** A step computed from the request, for library tests that need to react to tool outputs. */
export type SimStepFn = (request: ModelRequest, call: { index: number }) => SimStepInput;

/**
 * Validates a script value (a `{ steps }` object or a bare array of steps).
 * Throws TaifengError `invalid_script` naming `source` and the offending path.
 */
export function parseSimScript(value: unknown, source = "script"): SimScript {
  const candidate = Array.isArray(value) ? { steps: value } : value;
  const parsed = SimScript.safeParse(candidate);
  if (!parsed.success) throw invalid(source, parsed.error.issues);
  return parsed.data;
}

/** Validates one step. Throws TaifengError `invalid_script` naming `source` and the offending path. */
export function parseSimStep(value: unknown, source: string): SimStep {
  const parsed = SimStep.safeParse(value);
  if (!parsed.success) throw invalid(source, parsed.error.issues);
  return parsed.data;
}

function invalid(source: string, issues: readonly z.core.$ZodIssue[]): TaifengError {
  const detail = issues
    .map((issue) => `${formatPath(issue.path)}: ${issue.message}`)
    .slice(0, 5)
    .join("; ");
  return new TaifengError("invalid_script", `invalid SimClient script ${source}: ${detail}`);
}

/** Reads and validates a JSON script file. */
export async function loadSimScript(path: string): Promise<SimScript> {
  const file = await readJsonFile(path, { code: "invalid_script", label: "SimClient script" });
  return parseSimScript(file?.value, path);
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path)
    out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`;
  return out === "" ? "(root)" : out;
}
