/**
 * Multi-agent patterns as plain functions over runners. A runner turns an input into an
 * answer; `agentRunner` makes one from a definition (a fresh engine per call, through `run`).
 * Failures reject with the runner's error (`run` throws TaifengError `turn_failed`).
 */
import { TaifengError } from "../errors.ts";
import type { ModelClient } from "../llm/types.ts";
import { run } from "../loop/run.ts";
import type { Tool } from "../tool/define.ts";
import type { SharedEngineOptions } from "./tree.ts";
import type { AgentDefinition } from "./types.ts";

/** Turns an input into an answer. */
export type AgentRunner = (input: string, signal?: AbortSignal) => Promise<string>;

/** A runner for a definition: one turn on a fresh engine (its model, or `model`; its tools from `tools`). */
export function agentRunner(
  definition: AgentDefinition,
  options: { model: ModelClient; tools?: readonly Tool[]; engine?: SharedEngineOptions },
): AgentRunner {
  if (typeof definition.model === "string")
    throw new TaifengError(
      "invalid_config",
      `agentRunner: resolve the model spec "${definition.model}" of "${definition.name}" first`,
    );
  const model = definition.model ?? options.model;
  const pool = options.tools ?? [];
  const tools = definition.tools ? pool.filter((t) => definition.tools?.includes(t.name)) : pool;
  return async (input, signal) => {
    const result = await run(input, {
      ...options.engine,
      model,
      system: definition.instructions,
      tools,
      title: definition.name,
      ...(signal ? { signal } : {}),
    });
    return result.text;
  };
}

/** Each runner gets the previous one's answer; resolves with the last answer. */
export async function sequential(
  runners: readonly AgentRunner[],
  input: string,
  signal?: AbortSignal,
): Promise<string> {
  let text = input;
  for (const r of runners) text = await r(text, signal);
  return text;
}

/**
 * Fan-out/fan-in: every runner gets `input` at once; resolves with their answers in order, or
 * with `merge`'s answer to them (labelled `[1] ...`). The first failure cancels the others.
 */
export async function parallel(
  runners: readonly AgentRunner[],
  input: string,
  options: { merge?: AgentRunner; signal?: AbortSignal } = {},
): Promise<string[]> {
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
  let answers: string[];
  try {
    answers = await Promise.all(runners.map((r) => r(input, signal)));
  } catch (err) {
    controller.abort();
    throw err;
  }
  if (!options.merge) return answers;
  return [await options.merge(answers.map((a, i) => `[${i + 1}] ${a}`).join("\n\n"), options.signal)];
}

/**
 * Sends the input to the route `pick` names: a function, or a runner whose answer is a route
 * name (a model as the classifier). An unknown route rejects with TaifengError `invalid_config`.
 */
export async function router(
  routes: Readonly<Record<string, AgentRunner>>,
  pick: ((input: string) => string | Promise<string>) | { classifier: AgentRunner },
  input: string,
  signal?: AbortSignal,
): Promise<{ route: string; text: string }> {
  const raw = typeof pick === "function" ? await pick(input) : await pick.classifier(input, signal);
  const route = raw.trim();
  const target = routes[route];
  if (!target)
    throw new TaifengError(
      "invalid_config",
      `router: no route "${route}" (routes: ${Object.keys(routes).join(", ")})`,
    );
  return { route, text: await target(input, signal) };
}

/**
 * Generator–critic loop: the generator drafts, `accept` judges the draft (a function or a
 * critic runner whose answer starts with `ACCEPT`); otherwise the critic's feedback goes back
 * to the generator. Stops at acceptance or after `maxRounds`.
 */
export async function loop(options: {
  readonly generator: AgentRunner;
  readonly critic: AgentRunner;
  readonly accept?: (draft: string, critique: string) => boolean;
  readonly maxRounds?: number;
  readonly signal?: AbortSignal;
  readonly input: string;
}): Promise<{ text: string; rounds: number; accepted: boolean }> {
  const max = options.maxRounds ?? 3;
  let prompt = options.input;
  let draft = "";
  for (let round = 1; round <= max; round++) {
    draft = await options.generator(prompt, options.signal);
    const critique = await options.critic(draft, options.signal);
    const accepted = options.accept ? options.accept(draft, critique) : critique.trim().startsWith("ACCEPT");
    if (accepted) return { text: draft, rounds: round, accepted: true };
    prompt = `${options.input}\n\nYour previous draft:\n${draft}\n\nA reviewer's critique:\n${critique}\n\nWrite an improved draft.`;
  }
  return { text: draft, rounds: max, accepted: false };
}
