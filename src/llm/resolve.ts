import { z } from "zod";
import { TaifengError } from "../errors.ts";
import { type FallbackOptions, withFallback } from "./fallback.ts";
import { checkModelOptions, mergeOptions, splitModelSpec } from "./model-options.ts";
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

/**
 * Builds a client for one provider from the part of the spec after `provider:`.
 * `options.modelOptions` holds the options meant for this link (validate them: an option
 * the provider does not know is an error).
 */
export type ProviderFactory = (model: string, options: ResolveOptions) => Promise<ModelClient>;

/** A `provider:model` spec split in two. `sim` alone is `{ provider: "sim", model: "" }`. */
export function parseModelSpec(spec: string): { provider: string; model: string } {
  const at = spec.indexOf(":");
  if (at < 0) return { provider: spec, model: "" };
  return { provider: spec.slice(0, at), model: spec.slice(at + 1) };
}

const simFactory: ProviderFactory = async (model, options) => {
  if (options.modelOptions && Object.keys(options.modelOptions).length > 0) {
    checkModelOptions("sim", z.strictObject({}), [], options.modelOptions);
  }
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
  /** Top-level model option names per provider (absent: the provider takes any). */
  private readonly optionNames = new Map<string, readonly string[]>([["sim", []]]);

  constructor() {
    for (const [name, provider] of Object.entries(BUILTIN_PROVIDERS)) {
      this.factories.set(name, (model, options) => createBuiltinModel(name, provider, model, options));
      this.optionNames.set(name, provider.options.names);
    }
    this.factories.set("gemini", this.factories.get("google") as ProviderFactory);
    this.optionNames.set("gemini", BUILTIN_PROVIDERS.google?.options.names ?? []);
  }

  /**
   * Adds or replaces a provider. `optionNames` lists the top-level model options it
   * accepts, so that options shared by a fallback chain go only to the links that know them.
   */
  register(provider: string, factory: ProviderFactory, optionNames?: readonly string[]): this {
    this.factories.set(provider, factory);
    if (optionNames) this.optionNames.set(provider, optionNames);
    else this.optionNames.delete(provider);
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
    const links = splitModelSpec(spec);
    const shared = options.modelOptions;
    if (links.length > 1) {
      const unknown = Object.keys(shared ?? {}).filter((key) =>
        links.every((l) => {
          const names = this.optionNames.get(parseModelSpec(l.spec).provider);
          return names !== undefined && !names.includes(key);
        }),
      );
      if (unknown.length > 0) {
        throw new TaifengError(
          "invalid_config",
          `no model of the chain "${spec}" takes the option(s) ${unknown.map((k) => `"${k}"`).join(", ")}`,
        );
      }
      const clients: ModelClient[] = [];
      for (const link of links) clients.push(await this.resolveOne(link.spec, options, link.options, true));
      return withFallback(clients, options.fallback);
    }
    const link = links[0] ?? { spec: "", options: undefined };
    return this.resolveOne(link.spec, options, link.options, false);
  }

  private async resolveOne(
    spec: string,
    options: ResolveOptions,
    inline: Readonly<Record<string, unknown>> | undefined,
    inChain: boolean,
  ): Promise<ModelClient> {
    const { provider, model } = parseModelSpec(spec);
    const factory = this.factories.get(provider);
    if (!factory) {
      throw new TaifengError(
        "unknown_model",
        `unknown model provider "${provider}" in "${spec}"; known providers: ${this.providers.join(", ")}`,
      );
    }
    // Options shared by a chain go to the links that know them; a link's own options must all fit it.
    let shared = options.modelOptions;
    const names = this.optionNames.get(provider);
    if (inChain && shared && names) {
      shared = Object.fromEntries(Object.entries(shared).filter(([k]) => names.includes(k)));
    }
    const modelOptions = inline ? mergeOptions(shared, inline) : shared;
    if (modelOptions === options.modelOptions) return factory(model, options);
    return factory(model, { ...options, modelOptions });
  }
}

/**
 * Resolves a `provider:model` spec (or a comma-separated fallback chain) with a fresh
 * registry of the built-in providers: the library face of `--model`, `--base-url` and
 * `--model-option`. A link may carry its own model options after `?`
 * (`anthropic:claude-sonnet-4-5?thinking.budget_tokens=4000&max_tokens=16000`); they merge
 * over `options.modelOptions`.
 */
export function createModel(spec: string, options: ResolveOptions = {}): Promise<ModelClient> {
  return new ModelRegistry().resolve(spec, options);
}
