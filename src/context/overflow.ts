/**
 * Reactive overflow recovery: what a provider's context_overflow error says about the real
 * window, and how a turn recovers from one without ever re-sending the request that failed.
 */
import { describeError } from "../errors.ts";
import type { ErrorInfo, ResponseItem, Usage } from "../protocol/index.ts";
import type { ContextEnv, ContextManager } from "./manager.ts";
import { fitForSummary, summarizeWithModel } from "./summarize.ts";

/** The numbers a context_overflow message gives, when it gives them. */
export interface OverflowFacts {
  /** The model's context window (or prompt limit), in the provider's tokens. */
  readonly limit?: number;
  /** How many tokens the rejected prompt had, in the provider's tokens. */
  readonly prompt?: number;
}

const num = (s: string | undefined): number | undefined => {
  if (s === undefined) return undefined;
  const n = Number(s.replace(/[,_]/g, ""));
  return Number.isFinite(n) && n > 0 ? n : undefined;
};

const N = "(\\d[\\d,_]*)";

// The wordings providers put in their overflow errors, each tried in turn. Sources: the
// OpenAI, Anthropic, Gemini, DeepSeek, Mistral and xAI APIs, and the vLLM, llama.cpp and
// Hugging Face TGI servers behind OpenAI-compatible endpoints.
const LIMIT_PATTERNS: readonly RegExp[] = [
  new RegExp(`maximum (?:context|prompt) length (?:is|of) (?:about )?${N}`, "i"), // OpenAI, DeepSeek, vLLM, OpenRouter, xAI
  new RegExp(`context limit: ${N} \\+ ${N} > ${N}`, "i"), // Anthropic, prompt + max_tokens
  new RegExp(`tokens > ${N} maximum`, "i"), // Anthropic
  new RegExp(`maximum number of tokens allowed \\(?${N}`, "i"), // Gemini
  new RegExp(`${N} maximum context length`, "i"), // Mistral
  new RegExp(`context size \\(${N}`, "i"), // llama.cpp
  new RegExp(`must be <= ${N}`, "i"), // TGI
];

const PROMPT_PATTERNS: readonly RegExp[] = [
  new RegExp(`\\(${N} in the messages`, "i"), // OpenAI, DeepSeek, vLLM (messages part of "you requested")
  new RegExp(`messages resulted in ${N} tokens`, "i"), // OpenAI
  new RegExp(`prompt is too long: ${N} tokens`, "i"), // Anthropic
  new RegExp(`context limit: ${N} \\+`, "i"), // Anthropic, prompt + max_tokens
  new RegExp(`input token count \\(${N}\\)`, "i"), // Gemini
  new RegExp(`request has ${N} input tokens`, "i"), // vLLM
  new RegExp(`prompt contains ${N} tokens`, "i"), // Mistral
  new RegExp(`request contains ${N} tokens`, "i"), // xAI
  new RegExp(`request \\(${N} tokens\\) exceeds`, "i"), // llama.cpp
  new RegExp(`given: ${N} .inputs. tokens`, "i"), // TGI
];

/** Reads the window and the prompt size from a provider's context_overflow message. */
export function parseOverflow(message: string): OverflowFacts {
  let limit: number | undefined;
  for (const re of LIMIT_PATTERNS) {
    const m = re.exec(message);
    if (m) {
      limit = num(m.at(-1));
      break;
    }
  }
  let prompt: number | undefined;
  for (const re of PROMPT_PATTERNS) {
    const m = re.exec(message);
    if (m) {
      prompt = num(m[1]);
      break;
    }
  }
  return {
    ...(limit !== undefined ? { limit } : {}),
    ...(prompt !== undefined ? { prompt } : {}),
  };
}

/** How an overflow recovery ended: retry the (now different, smaller) call, or give up. */
export type OverflowRecovery =
  | { readonly retry: true; readonly usage: Usage | undefined }
  | { readonly retry: false; readonly usage: Usage | undefined; readonly reason: string };

/**
 * Recovers from a context_overflow error of the request the log holds now. Learns the real
 * window (the provider's limit when its message gives it, else a bound below what was just
 * rejected) and the provider's count of that prompt (which calibrates the estimate), then
 * runs the overflow strategies against the learned budget. Says `retry` only when the
 * history really changed, so the next request can never be the one that failed, and, when
 * the provider counted the prompt, only when the estimate now fits its window.
 */
export async function recoverOverflow(
  manager: ContextManager,
  env: ContextEnv,
  error: ErrorInfo,
): Promise<OverflowRecovery> {
  const facts = parseOverflow(error.message);
  const raw = manager.rawPromptTokens(env);
  if (facts.prompt !== undefined) manager.estimator.calibrate(raw, facts.prompt, 1);
  const sent = facts.prompt ?? manager.promptTokens(env);
  // Without a number, the window is below what was just rejected: budget under it.
  manager.learnWindow(env, facts.limit ?? Math.floor(sent * 0.9), facts.limit !== undefined);
  const generation = env.log.generation;
  const usage = await manager.compact(env, "overflow", true);
  if (env.log.generation === generation) {
    return {
      retry: false,
      usage,
      reason: "the history could not be shrunk, so the same request was not sent again",
    };
  }
  const after = manager.promptTokens(env);
  if (facts.prompt !== undefined && facts.limit !== undefined && after >= facts.limit) {
    return {
      retry: false,
      usage,
      reason: `after compaction the prompt still needs about ${after} tokens, over the window of ${facts.limit}`,
    };
  }
  return { retry: true, usage };
}

/**
 * A compaction's summary call, fitted to the manager's budget (`head`: raw tokens of the
 * system prompt and tools). When the summary call itself overflows (the real window is
 * smaller than assumed), the window its error shows is learned and the call is made once
 * more on a history fitted to the smaller budget, but only if that history is really
 * smaller: the failed request is never sent again.
 */
export async function summarizeWithin(
  manager: ContextManager,
  env: ContextEnv,
  items: readonly ResponseItem[],
  instructions: string,
  head: number,
): Promise<{ text: string; usage: Usage | undefined }> {
  const estimator = manager.estimator;
  // Leave room for the instructions and the summary itself.
  const budget = () =>
    (manager.usableWindow * 0.9) / estimator.calibration - head - estimator.text(instructions);
  const first = fitForSummary(items, estimator, budget());
  try {
    return await summarizeWithModel(env, first, instructions);
  } catch (err) {
    const overflow = /\(context_overflow\): (.*)$/s.exec(describeError(err));
    if (!overflow) throw err;
    const facts = parseOverflow(overflow[1] as string);
    const sent = head + estimator.items(first) + estimator.text(instructions);
    manager.learnWindow(
      env,
      facts.limit ?? Math.floor(sent * estimator.calibration * 0.9),
      facts.limit !== undefined,
    );
    const second = fitForSummary(items, estimator, budget());
    if (estimator.items(second) >= estimator.items(first)) throw err;
    return summarizeWithModel(env, second, instructions);
  }
}
