/**
 * Recipes: a serializable description of how to build a thread's engine, resolved by a worker
 * against the registry it was started with. Code (tools, model clients) never travels; names do.
 */
import { z } from "zod";
import type { ThreadStore } from "../conversation/store.ts";
import { TaifengError } from "../errors.ts";
import { createModel } from "../llm/resolve.ts";
import type { ModelClient } from "../llm/types.ts";
import type { EngineOptions } from "../loop/engine-options.ts";
import { PermissionMode } from "../permission/modes.ts";
import type { Tool } from "../tool/define.ts";

/** The recipe of a thread, stored with it. Every field is data. */
export const Recipe = z.strictObject({
  /** A model spec the registry resolves (`sim:...`, `openai:gpt-5`, or a registry name). */
  model: z.string().min(1),
  /** Names of tools in the worker's registry. An unknown name fails the turn (never retried). */
  tools: z.array(z.string()).default([]),
  system: z.string().optional(),
  cwd: z.string().optional(),
  maxSteps: z.number().int().positive().optional(),
  maxParallelTools: z.number().int().positive().optional(),
  toolTimeoutMs: z.number().int().nonnegative().optional(),
  completion: z.enum(["natural", "task_finish"]).optional(),
  /** Permission mode and rules; with them, calls that ask wait for an `approval` op. */
  permissions: z
    .strictObject({
      mode: PermissionMode.optional(),
      allow: z.array(z.string()).optional(),
      deny: z.array(z.string()).optional(),
      ask: z.array(z.string()).optional(),
    })
    .optional(),
  /** False: nobody answers approvals (calls that would ask are denied). Default true. */
  interactive: z.boolean().optional(),
});
export type Recipe = z.input<typeof Recipe>;

/** What a worker can build engines from. */
export interface RecipeRegistry {
  /** Tools by name. */
  readonly tools?: Iterable<Tool>;
  /**
   * Resolves a recipe's model spec; return undefined to fall back to the built-in providers
   * (`createModel`). Default: the built-in providers only.
   */
  readonly model?: (spec: string) => ModelClient | undefined | Promise<ModelClient | undefined>;
}

/** Checks a recipe. Throws TaifengError `invalid_config` naming the field. */
export function parseRecipe(value: unknown): z.output<typeof Recipe> {
  const parsed = Recipe.safeParse(value);
  if (!parsed.success) {
    const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "recipe"}: ${i.message}`).join("; ");
    throw new TaifengError("invalid_config", `invalid recipe: ${detail}`);
  }
  return parsed.data;
}

async function resolveModel(registry: RecipeRegistry, spec: string): Promise<ModelClient> {
  const own = await registry.model?.(spec);
  return own ?? createModel(spec);
}

/**
 * The engine options a recipe describes, on `store`. Throws TaifengError `invalid_config` for
 * a malformed recipe or a tool the registry does not have (the message lists what it has), and
 * `unknown_model` for a model spec nothing resolves.
 */
export async function engineOptionsFor(
  recipe: unknown,
  registry: RecipeRegistry,
  store: ThreadStore,
): Promise<EngineOptions> {
  const r = parseRecipe(recipe);
  const byName = new Map<string, Tool>();
  for (const tool of registry.tools ?? []) byName.set(tool.name, tool);
  const missing = r.tools.filter((name) => !byName.has(name));
  if (missing.length > 0) {
    throw new TaifengError(
      "invalid_config",
      `recipe names tool(s) this worker does not have: ${missing.join(", ")} (registry has: ${[...byName.keys()].join(", ") || "none"})`,
    );
  }
  const options: {
    -readonly [K in keyof EngineOptions]: EngineOptions[K];
  } = {
    model: await resolveModel(registry, r.model),
    resolveModel: (spec) => resolveModel(registry, spec),
    tools: r.tools.map((name) => byName.get(name) as Tool),
    store,
    crashedTurns: "continue",
  };
  if (r.system !== undefined) options.system = r.system;
  if (r.cwd !== undefined) options.cwd = r.cwd;
  if (r.maxSteps !== undefined) options.maxSteps = r.maxSteps;
  if (r.maxParallelTools !== undefined) options.maxParallelTools = r.maxParallelTools;
  if (r.toolTimeoutMs !== undefined) options.toolTimeoutMs = r.toolTimeoutMs;
  if (r.completion !== undefined) options.completion = r.completion;
  if (r.interactive !== undefined) options.interactive = r.interactive;
  if (r.permissions) {
    const { mode, allow, deny, ask } = r.permissions;
    options.permissions = { ...(mode ? { mode } : {}), rules: { allow, deny, ask } };
  }
  return options;
}
