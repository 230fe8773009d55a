import { TaifengError } from "../errors.ts";
import { type FallbackOptions, withFallback } from "./fallback.ts";
import { BUILTIN_PROVIDERS, createBuiltinModel } from "./providers/index.ts";
import type { ProviderFactoryOptions } from "./providers/shared.ts";
import { loadSimScript } from "./sim/script.ts";
import { SimClient } from "./sim/sim-client.ts";
import type { ModelClient } from "./types.ts";

/**
 * Options that apply when resolving a model spec: `baseUrl` (passed to the SDK as its base
 * URL), `env` (where keys are read; default `process.env`), `apiKeyEnv` (read the key from
 * this variable instead), `timeouts`, `catalog`, and `retry` (the policy wrapped around
 * real providers; `false` for none).
 */
export interface ResolveOptions extends ProviderFactoryOptions {
  /** The script `sim` (with no script path) plays. */
  readonly defaultSimScript?: () => ModelClient;
  /** How a comma-separated chain falls back (see withFallback). */
  readonly fallback?: FallbackOptions;
}

/** Builds a client for one provider from the part of the spec after `provider:`. */
export type ProviderFactory = (model: string, options: ResolveOptions) => Promise<ModelClient>;

/** A `provider:model` spec split in two. `sim` alone is `{ provider: "sim", model: "" }`. */
export function parseModelSpec(spec: string): { provider: string; model: string } {
  const at = spec.indexOf(":");
  if (at < 0) return { provider: spec, model: "" };
  return { provider: spec.slice(0, at), model: spec.slice(at + 1) };
}

const simFactory: ProviderFactory = async (model, options) => {
  if (model === "" || model === "demo") {
    if (!options.defaultSimScript) {
      throw new TaifengError("unknown_model", "sim needs a script: use sim:<script.json>");
    }
    return options.defaultSimScript();
  }
  return new SimClient({ script: await loadSimScript(model), name: model });
};

/**
 * Maps provider names to factories. Hosts may register their own providers; each registry
 * is independent (no global state).
 */
export class ModelRegistry {
  private readonly factories = new Map<string, ProviderFactory>([["sim", simFactory]]);

  constructor() {
    for (const [name, provider] of Object.entries(BUILTIN_PROVIDERS)) {
      this.factories.set(name, (model, options) => createBuiltinModel(name, provider, model, options));
    }
    this.factories.set("gemini", this.factories.get("google") as ProviderFactory);
  }

  /** Adds or replaces a provider. */
  register(provider: string, factory: ProviderFactory): this {
    this.factories.set(provider, factory);
    return this;
  }

  /** Registered provider names. */
  get providers(): string[] {
    return [...this.factories.keys()].sort();
  }

  /**
   * Resolves `provider:model` to a client; a comma-separated list (`openai:gpt-5-mini,
   * anthropic:claude-haiku-4-5`) becomes a fallback chain tried in order. Throws
   * TaifengError `unknown_model` for an unknown provider, `invalid_script` for a bad sim
   * script, `missing_api_key` when the provider's key variable is unset.
   */
  async resolve(spec: string, options: ResolveOptions = {}): Promise<ModelClient> {
    const specs = spec
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    if (specs.length > 1) {
      const clients: ModelClient[] = [];
      for (const one of specs) clients.push(await this.resolveOne(one, options));
      return withFallback(clients, options.fallback);
    }
    return this.resolveOne(specs[0] ?? "", options);
  }

  private async resolveOne(spec: string, options: ResolveOptions): Promise<ModelClient> {
    const { provider, model } = parseModelSpec(spec);
    const factory = this.factories.get(provider);
    if (!factory) {
      throw new TaifengError(
        "unknown_model",
        `unknown model provider "${provider}" in "${spec}"; known providers: ${this.providers.join(", ")}`,
      );
    }
    return factory(model, options);
  }
}

/**
 * Resolves a `provider:model` spec (or a comma-separated fallback chain) with a fresh
 * registry of the built-in providers: the library face of `--model` and `--base-url`.
 */
export function createModel(spec: string, options: ResolveOptions = {}): Promise<ModelClient> {
  return new ModelRegistry().resolve(spec, options);
}
