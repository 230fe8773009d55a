/**
 * Intent classification: each turn's user message is classified (a function or a model call)
 * into one of the host's intents; the turn runs with that intent's tool subset, and an intent
 * marked `confirm` runs only after the host's confirmation.
 */
import { TaifengError } from "../errors.ts";
import type { ModelClient } from "../llm/types.ts";
import type { PrepareTurn } from "../loop/prefix.ts";
import { type Tool, ToolSet } from "../tool/define.ts";

/** One intent: its tools (by name) and whether it needs a confirmation before it runs. */
export interface Intent {
  readonly name: string;
  readonly description: string;
  readonly tools: readonly string[];
  /** Costly or risky: the turn runs only when `confirm` agrees. */
  readonly confirm?: boolean;
}

/** Options of `intentRouting`. */
export interface IntentOptions {
  readonly intents: readonly Intent[];
  /** A function of the message, or a model asked to answer with one intent name. */
  readonly classify: ((text: string) => string | Promise<string>) | { readonly model: ModelClient };
  /** The intent used when the classifier names none of them. Default: the first. */
  readonly fallback?: string;
  /** Asked before a turn of an intent marked `confirm`; false fails the turn (nothing runs). */
  readonly confirm?: (intent: Intent, text: string) => boolean | Promise<boolean>;
  /** Told the intent of every turn. */
  readonly onIntent?: (intent: Intent, text: string) => void;
}

/** Engine options that route each turn by intent: give `prepareTurn` to `AgentEngine.open`. */
export interface IntentRouting {
  readonly prepareTurn: PrepareTurn;
}

/**
 * Builds intent routing. The tools of every intent must be among the engine's tools (the
 * prefix narrows them per turn; a name the engine lacks is skipped). Throws TaifengError
 * `invalid_config` for no intents or an unknown fallback.
 */
export function intentRouting(options: IntentOptions): IntentRouting {
  if (options.intents.length === 0)
    throw new TaifengError("invalid_config", "intentRouting needs at least one intent");
  const byName = new Map(options.intents.map((i) => [i.name, i]));
  const fallback = byName.get(options.fallback ?? (options.intents[0] as Intent).name);
  if (!fallback) throw new TaifengError("invalid_config", `unknown fallback intent "${options.fallback}"`);
  const classify = async (text: string, signal: AbortSignal): Promise<Intent> => {
    const c = options.classify;
    const raw =
      typeof c === "function" ? await c(text) : await askModel(c.model, options.intents, text, signal);
    return byName.get(raw.trim()) ?? fallback;
  };
  return {
    prepareTurn: async (turn) => {
      const text = turn.input ?? "";
      const intent = await classify(text, turn.signal);
      options.onIntent?.(intent, text);
      if (intent.confirm && options.confirm && !(await options.confirm(intent, text)))
        throw new Error(`the "${intent.name}" request was not confirmed, so nothing ran`);
      const tools = intent.tools.map((n) => turn.tools.get(n)).filter((t): t is Tool => t !== undefined);
      return {
        system: `${turn.system}\n\nThe request was classified as: ${intent.name} (${intent.description}).`,
        tools: new ToolSet(tools),
      };
    },
  };
}

async function askModel(
  model: ModelClient,
  intents: readonly Intent[],
  text: string,
  signal: AbortSignal,
): Promise<string> {
  let answer = "";
  const list = intents.map((i) => `- ${i.name}: ${i.description}`).join("\n");
  for await (const ev of model.stream(
    {
      system: `Classify the user's message into exactly one intent. Answer with the intent's name only.\n${list}`,
      items: [{ type: "message", role: "user", content: [{ type: "text", text }] }],
      tools: [],
    },
    { signal },
  )) {
    if (ev.type === "text_delta") answer += ev.delta;
    if (ev.type === "error") throw new Error(`the intent classifier failed: ${ev.error.message}`);
  }
  return answer;
}
