/**
 * Recovery around one model call: answers cut by the output limit or by a failed stream are
 * continued and stitched into one message, a stream that fails before any output is tried
 * once more and then without streaming, and complete tool calls that arrived before a stream
 * failure are kept (the engine runs each exactly once). Every action is a `model_recovery`
 * event; every action is bounded.
 */

import type { ModelClient, ModelEvent, ModelNotice, ModelRequest, StreamOptions } from "../llm/types.ts";
import type { ErrorInfo, ResponseItem, Usage } from "../protocol/index.ts";
import { addUsage, emptyUsage } from "../protocol/index.ts";

/** Options of `withRecovery`. */
export interface RecoveryOptions {
  /** Continuations of one answer (after `finish: length` or a cut stream). Default 2; 0 disables. */
  readonly maxContinuations?: number;
  /** Retries of a stream that failed before any output. Default 1. */
  readonly streamRetries?: number;
  /**
   * The same model without streaming (e.g. `createOpenAIChat({ ..., streaming: false })`), tried
   * after the stream retries failed before any output. Default: none.
   */
  readonly nonStreaming?: ModelClient;
  /** The user message that asks for the rest of a cut answer. */
  readonly continuePrompt?: string;
  /** Errors that a retry or a continuation may help with. Default: `error.retryable`. */
  readonly recoverable?: (error: ErrorInfo) => boolean;
}

/** The default continuation request. */
export const CONTINUE_PROMPT =
  "Your previous answer was cut off. Continue exactly where it stopped: do not repeat anything, do not add a preamble.";

type Outcome =
  | { readonly kind: "finish"; readonly ev: ModelEvent }
  | { readonly kind: "length" }
  | { readonly kind: "error"; readonly error: ErrorInfo };

const notice = (
  action: Extract<ModelNotice, { kind: "recovery" }>["action"],
  attempt: number,
  message: string,
): ModelEvent => ({
  type: "notice",
  notice: { kind: "recovery", action, attempt, message },
});

/**
 * The client with recovery. Place it outside `withRetry` (which already retries transient
 * errors before output) or use it alone. Usage of every attempt and continuation is summed
 * into one `usage` event before the final `finish`. Never throws; an abort ends it at once.
 */
export function withRecovery(client: ModelClient, options: RecoveryOptions = {}): ModelClient {
  const maxContinuations = options.maxContinuations ?? 2;
  const streamRetries = options.streamRetries ?? 1;
  const prompt = options.continuePrompt ?? CONTINUE_PROMPT;
  const recoverable = options.recoverable ?? ((e: ErrorInfo) => e.retryable === true);

  async function* run(request: ModelRequest, opts: StreamOptions | undefined): AsyncGenerator<ModelEvent> {
    let usage: Usage | undefined;
    let cost: number | undefined;
    let text = "";
    let output = false;
    let openCalls = 0;
    let endedCalls = 0;
    let continuations = 0;
    let retries = 0;
    let triedNonStreaming = false;
    let current = request;
    let source = client;
    // A text_end is held until the answer is known to be whole: a continued answer is one
    // message, and the first part's provider data does not describe it.
    let heldEnd: ModelEvent | undefined;
    for (;;) {
      let outcome: Outcome | undefined;
      for await (const ev of source.stream(current, opts)) {
        switch (ev.type) {
          case "usage":
            usage ??= emptyUsage();
            addUsage(usage, ev.usage);
            if (ev.costUsd !== undefined) cost = (cost ?? 0) + ev.costUsd;
            continue; // summed, sent once at the end
          case "text_delta":
            text += ev.delta;
            output = true;
            break;
          case "text_end":
            heldEnd = ev;
            continue;
          case "reasoning_delta":
            output = true;
            break;
          case "tool_call_start":
            if (heldEnd) yield heldEnd;
            heldEnd = undefined;
            openCalls++;
            output = true;
            break;
          case "tool_call_end":
            openCalls--;
            endedCalls++;
            break;
          case "finish":
            outcome = ev.reason === "length" ? { kind: "length" } : { kind: "finish", ev };
            break;
          case "error":
            outcome = { kind: "error", error: ev.error };
            break;
          default:
            break;
        }
        if (outcome) break;
        yield ev;
      }
      outcome ??= {
        kind: "error",
        error: {
          source: "model",
          code: "network",
          message: `${source.id}: the stream ended without a finish event`,
          retryable: true,
        },
      };
      const aborted = opts?.signal?.aborted === true;
      const usageEvent = (): ModelEvent[] =>
        usage ? [{ type: "usage", usage, ...(cost !== undefined ? { costUsd: cost } : {}) }] : [];

      if (outcome.kind === "finish") {
        if (heldEnd && continuations === 0) yield heldEnd;
        yield* usageEvent();
        yield outcome.ev;
        return;
      }
      const onlyText = endedCalls === 0 && openCalls === 0;
      const canContinue = !aborted && onlyText && text !== "" && continuations < maxContinuations;
      if (outcome.kind === "length") {
        if (canContinue) {
          continuations++;
          yield notice(
            "continuation",
            continuations,
            `output limit reached after ${text.length} characters; continuing`,
          );
          current = continued(request, text, prompt);
          source = client;
          continue;
        }
        yield* usageEvent();
        yield { type: "finish", reason: "length" };
        return;
      }
      const error = outcome.error;
      if (!aborted && recoverable(error)) {
        if (!output) {
          if (retries < streamRetries) {
            retries++;
            yield notice("stream_retry", retries, `${error.message}; retrying before any output`);
            continue;
          }
          if (options.nonStreaming && !triedNonStreaming) {
            triedNonStreaming = true;
            source = options.nonStreaming;
            yield notice("non_streaming", 1, `${error.message}; sending the request without streaming`);
            continue;
          }
        } else if (endedCalls > 0) {
          // Complete calls stand; a call cut in the middle is closed by the engine as unfinished.
          yield notice("cut_after_calls", 1, `${error.message}; keeping ${endedCalls} complete tool call(s)`);
          yield* usageEvent();
          yield { type: "finish", reason: "tool_calls" };
          return;
        } else if (canContinue) {
          continuations++;
          yield notice(
            "continuation",
            continuations,
            `${error.message}; continuing after ${text.length} characters`,
          );
          current = continued(request, text, prompt);
          source = client;
          continue;
        }
      }
      yield* usageEvent();
      yield { type: "error", error };
      return;
    }
  }
  return {
    id: client.id,
    ...(client.cacheStyle !== undefined ? { cacheStyle: client.cacheStyle } : {}),
    stream: (request, opts) => run(request, opts),
    release: (threadId) => {
      client.release?.(threadId);
      options.nonStreaming?.release?.(threadId);
    },
  };
}

/** The request that asks for the rest of `text`: the original history, the partial answer, the prompt. */
function continued(request: ModelRequest, text: string, prompt: string): ModelRequest {
  const items: ResponseItem[] = [
    ...request.items,
    { type: "message", role: "assistant", content: [{ type: "text", text }] },
    { type: "message", role: "user", content: [{ type: "text", text: prompt }] },
  ];
  return { ...request, items };
}
