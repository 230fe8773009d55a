/** Applying prompt compilers to a model, opt-in per model id. */
import { TaifengError } from "../errors.ts";
import type { ModelClient } from "../llm/types.ts";
import { compilerOf, type PromptCompiler, type PromptFamily } from "./compilers.ts";

const FAMILIES: readonly PromptFamily[] = ["claude", "glm", "cache_priced", "reasoning"];

/** The model behind `compilers`, applied in order to every request. */
export function withPromptCompiler(
  client: ModelClient,
  compilers: PromptCompiler | readonly PromptCompiler[],
): ModelClient {
  const list = Array.isArray(compilers)
    ? (compilers as readonly PromptCompiler[])
    : [compilers as PromptCompiler];
  if (list.length === 0) return client;
  return {
    id: client.id,
    ...(client.cacheStyle !== undefined ? { cacheStyle: client.cacheStyle } : {}),
    stream(request, options) {
      let compiled = request;
      for (const c of list) compiled = c.compile(compiled);
      return client.stream(compiled, options);
    },
    release: (threadId) => client.release?.(threadId),
  };
}

/**
 * Prompt compilation as configured: `{ "anthropic:*": "claude", "openai-chat:glm-*": "glm",
 * "deepseek:*": ["cache_priced", "reasoning"] }`. Keys are model ids with `*` wildcards; the
 * first matching key wins; a model no key matches is returned unchanged (compilation is off
 * by default). Throws TaifengError `invalid_config` naming an unknown family.
 */
export function compileByModel(
  client: ModelClient,
  config: Readonly<Record<string, PromptFamily | readonly PromptFamily[]>>,
): ModelClient {
  for (const [pattern, value] of Object.entries(config)) {
    const families = (Array.isArray(value) ? value : [value]) as readonly string[];
    for (const f of families)
      if (!FAMILIES.includes(f as PromptFamily))
        throw new TaifengError(
          "invalid_config",
          `prompt compilation for "${pattern}": unknown family "${f}" (known: ${FAMILIES.join(", ")})`,
        );
    if (globMatch(pattern, client.id))
      return withPromptCompiler(
        client,
        families.map((f) => compilerOf(f as PromptFamily)),
      );
  }
  return client;
}

function globMatch(pattern: string, id: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split("*")
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
      .join(".*")}$`,
  );
  return re.test(id);
}
