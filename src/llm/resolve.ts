import { TaifengError } from "../errors.ts";
import { loadSimScript } from "./sim/script.ts";
import { SimClient } from "./sim/sim-client.ts";
import type { ModelClient } from "./types.ts";

/** Options that apply when resolving a model spec. */
export interface ResolveOptions {
  /** Base URL for HTTP providers (OpenAI-compatible servers, proxies). */
  readonly baseUrl?: string;
  /** Environment to read keys from. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The script `sim` (with no script path) plays. */
  readonly defaultSimScript?: () => ModelClient;
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
   * Resolves `provider:model` to a client. Throws TaifengError `unknown_model` for an
   * unknown provider, `invalid_script` for a bad sim script, `missing_api_key` when the
   * provider's key variable is unset.
   */
  async resolve(spec: string, options: ResolveOptions = {}): Promise<ModelClient> {
    const { provider, model } = parseModelSpec(spec.trim());
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
