/** A ModelClient that picks, per call, among configured models (see decideRoute). */
import { TaifengError } from "../errors.ts";
import { builtinCatalog, type ModelCatalog } from "../llm/catalog.ts";
import type { ModelClient, ModelEvent, ModelRequest, StreamOptions } from "../llm/types.ts";
import type { ErrorInfo, ResponseItem } from "../protocol/index.ts";
import { type Candidate, decideRoute, type Modality, type RouteDecision, type RouteInput } from "./decide.ts";

/** One model the router may choose. */
export interface RoutedModel {
  readonly client: ModelClient;
  /** Inputs beyond text the model reads. Default: none (text only). */
  readonly modalities?: readonly Modality[];
  /** Context window in tokens. Default: the catalog's entry for the client id. */
  readonly contextWindow?: number;
  /** Intent or stage labels the model serves (`code`, `summarize`...). Default: any. */
  readonly intents?: readonly string[];
  /** Relative price for budget downgrades. Default: the catalog's input price per million tokens. */
  readonly cost?: number;
}

/** Options of `createRouter`. */
export interface RouterOptions {
  /** The models, in the default profile's order of preference. */
  readonly models: readonly RoutedModel[];
  /**
   * Named profiles: model ids in order of preference (e.g. `budget`, `deep`). `default` is the
   * models' own order unless given here. Switch with `client(name)` or an `override_context`
   * op whose model is `router:<name>` (through `resolveModel`).
   */
  readonly profiles?: Readonly<Record<string, readonly string[]>>;
  readonly catalog?: ModelCatalog;
  /** Prompt tokens of a request. Default: a conservative character estimate, memoized per item. */
  readonly estimateTokens?: (request: ModelRequest) => number;
  /** Labels a call when the host set no label for its thread (a classifier). */
  readonly classify?: (request: ModelRequest) => string | undefined;
  /**
   * Fraction of budget left for a thread (0..1), e.g. from a SpendBudget or a monthly account;
   * undefined when unknown.
   */
  readonly budgetLeft?: (threadId: string | undefined) => number | undefined;
  /** Below this fraction the cheapest eligible model is chosen. Default 0.2. */
  readonly downgradeBelow?: number;
  /** Breaker state per model id, e.g. `breaker.state.bind(breaker)` of a CircuitBreaker. */
  readonly breakerState?: (modelId: string) => "closed" | "open" | "half_open";
  /** Provider failures within `errorWindowMs` that make a model passed over. Default 3. */
  readonly errorThreshold?: number;
  /** Default 60 s. */
  readonly errorWindowMs?: number;
  readonly now?: () => number;
}

const PROVIDER_FAILURES = new Set(["rate_limit", "overloaded", "server", "timeout", "network"]);
const NO_MODALITIES: ReadonlySet<Modality> = new Set();
const CHARS_PER_TOKEN = 3;

/**
 * Routes each model call of any number of engines. Hand `client()` (or `client("budget")`) to
 * an engine as its model and `resolveModel` as its resolver; every call then starts with a
 * `model_routed` event naming the profile, the chosen model, the rules that applied and every
 * model passed over. Calls with no eligible model end with error `no_model_available`.
 * The router keeps per-thread labels and a short error memory per model; nothing global.
 */
export class ModelRouter {
  private readonly models = new Map<string, RoutedModel>();
  private readonly profiles = new Map<string, readonly string[]>();
  private readonly labels = new Map<string, string>();
  private readonly errors = new Map<string, number[]>();
  private readonly sizes = new WeakMap<ResponseItem, number>();
  private readonly options: RouterOptions;
  private readonly catalog: ModelCatalog;
  private readonly now: () => number;
  private readonly clients = new Map<string, ModelClient>();
  private readonly statics = new Map<string, Omit<Candidate, "breaker" | "recentErrors">>();

  constructor(options: RouterOptions) {
    this.options = options;
    this.catalog = options.catalog ?? builtinCatalog();
    this.now = options.now ?? Date.now;
    if (options.models.length === 0)
      throw new TaifengError("invalid_config", "a router needs at least one model");
    for (const m of options.models) {
      if (this.models.has(m.client.id))
        throw new TaifengError("invalid_config", `router: model ${m.client.id} is listed twice`);
      this.models.set(m.client.id, m);
    }
    this.profiles.set(
      "default",
      options.models.map((m) => m.client.id),
    );
    for (const [name, ids] of Object.entries(options.profiles ?? {})) {
      for (const id of ids)
        if (!this.models.has(id))
          throw new TaifengError("invalid_config", `router profile "${name}" names unknown model ${id}`);
      this.profiles.set(name, ids);
    }
  }

  /** Profile names. */
  get profileNames(): readonly string[] {
    return [...this.profiles.keys()];
  }

  /** Sets (or clears, with undefined) the intent label of a thread's following calls. */
  setLabel(threadId: string, label: string | undefined): void {
    if (label === undefined) this.labels.delete(threadId);
    else this.labels.set(threadId, label);
  }

  /** The routing client of a profile (id `router:<profile>`). Throws `invalid_config` for an unknown one. */
  client(profile = "default"): ModelClient {
    const known = this.clients.get(profile);
    if (known) return known;
    if (!this.profiles.has(profile))
      throw new TaifengError(
        "invalid_config",
        `unknown router profile "${profile}" (known: ${this.profileNames.join(", ")})`,
      );
    const c: ModelClient = {
      id: `router:${profile}`,
      stream: (request, options) => this.run(profile, request, options),
      release: (threadId) => {
        this.labels.delete(threadId);
        for (const m of this.models.values()) m.client.release?.(threadId);
      },
    };
    this.clients.set(profile, c);
    return c;
  }

  /**
   * An engine `resolveModel` that answers `router:<profile>` with that profile's client and
   * hands any other spec to `fallback` (e.g. the provider registry). Throws `invalid_config`
   * for an unknown profile or a spec it cannot resolve.
   */
  resolver(fallback?: (spec: string) => Promise<ModelClient>): (spec: string) => Promise<ModelClient> {
    return async (spec) => {
      if (spec.startsWith("router:")) return this.client(spec.slice("router:".length));
      if (this.models.has(spec)) return (this.models.get(spec) as RoutedModel).client;
      if (fallback) return fallback(spec);
      throw new TaifengError("invalid_config", `the router cannot resolve model "${spec}"`);
    };
  }

  /** The decision input for one request, from the request and the router's live state. */
  inputFor(profile: string, request: ModelRequest): RouteInput {
    const ids = this.profiles.get(profile) ?? [];
    const candidates: Candidate[] = ids.map((id) => this.candidate(id));
    const tokens =
      (this.options.estimateTokens ?? ((r) => this.estimate(r)))(request) + (request.maxOutputTokens ?? 0);
    const label =
      (request.threadId !== undefined ? this.labels.get(request.threadId) : undefined) ??
      this.options.classify?.(request);
    return {
      profile,
      candidates,
      needs: needsOf(request.items),
      tokens,
      label,
      budgetLeft: this.options.budgetLeft?.(request.threadId),
      downgradeBelow: this.options.downgradeBelow ?? 0.2,
      errorThreshold: this.options.errorThreshold ?? 3,
    };
  }

  /** Decides one request (no side effects). */
  decide(profile: string, request: ModelRequest): RouteDecision {
    return decideRoute(this.inputFor(profile, request));
  }

  private candidate(id: string): Candidate {
    let fixed = this.statics.get(id);
    if (!fixed) {
      const m = this.models.get(id) as RoutedModel;
      const info = this.catalog.forClient(id);
      fixed = {
        id,
        modalities: m.modalities ? new Set(m.modalities) : NO_MODALITIES,
        contextWindow: m.contextWindow ?? info?.contextWindow,
        intents: m.intents ? new Set(m.intents) : undefined,
        cost: m.cost ?? info?.prices?.input,
      };
      this.statics.set(id, fixed);
    }
    return {
      ...fixed,
      breaker: this.options.breakerState?.(id) ?? "closed",
      recentErrors: this.errors.has(id) ? this.recentErrors(id) : 0,
    };
  }

  private recentErrors(id: string): number {
    const list = this.errors.get(id);
    if (!list) return 0;
    const since = this.now() - (this.options.errorWindowMs ?? 60_000);
    while (list.length > 0 && (list[0] as number) < since) list.shift();
    return list.length;
  }

  private noteOutcome(id: string, error: ErrorInfo | undefined): void {
    if (error === undefined) {
      this.errors.delete(id);
      return;
    }
    if (!PROVIDER_FAILURES.has(error.code)) return;
    const list = this.errors.get(id) ?? [];
    list.push(this.now());
    if (list.length > 32) list.shift();
    this.errors.set(id, list);
  }

  private estimate(request: ModelRequest): number {
    let chars = request.system.length;
    for (const t of request.tools) chars += t.name.length + t.description.length + 64;
    for (const item of request.items) {
      let n = this.sizes.get(item);
      if (n === undefined) {
        n = JSON.stringify(item).length;
        this.sizes.set(item, n);
      }
      chars += n;
    }
    return Math.ceil(chars / CHARS_PER_TOKEN);
  }

  private async *run(
    profile: string,
    request: ModelRequest,
    options: StreamOptions | undefined,
  ): AsyncGenerator<ModelEvent> {
    const decision = this.decide(profile, request);
    yield {
      type: "notice",
      notice: {
        kind: "routed",
        profile,
        chosen: decision.chosen ?? "",
        reasons: decision.reasons,
        skipped: decision.skipped,
      },
    };
    if (decision.chosen === undefined) {
      yield {
        type: "error",
        error: {
          source: "model",
          code: "no_model_available",
          message: `router:${profile}: no model can take this call (${decision.skipped.map((s) => `${s.model}: ${s.reason}`).join("; ")})`,
          retryable: false,
        },
      };
      return;
    }
    const client = (this.models.get(decision.chosen) as RoutedModel).client;
    for await (const ev of client.stream(request, options)) {
      if (ev.type === "finish") this.noteOutcome(client.id, undefined);
      else if (ev.type === "error") this.noteOutcome(client.id, ev.error);
      yield ev;
      if (ev.type === "finish" || ev.type === "error") return;
    }
  }
}

/** Modalities carried by the history's messages. */
export function needsOf(items: readonly ResponseItem[]): ReadonlySet<Modality> {
  let needs: Set<Modality> | undefined;
  for (const item of items) {
    if (item.type === "message") {
      for (const p of item.content) {
        if (p.type === "text") continue;
        needs ??= new Set();
        if (p.type === "image") needs.add("image");
        else needs.add(p.mediaType.startsWith("audio/") ? "audio" : "file");
      }
    } else if (item.type === "function_call_output" && typeof item.output !== "string") {
      for (const p of item.output) {
        if (p.type !== "image") continue;
        needs ??= new Set();
        needs.add("image");
      }
    }
  }
  return needs ?? NO_MODALITIES;
}

/** Creates a ModelRouter. Throws TaifengError `invalid_config` for no models, duplicates or unknown profile entries. */
export function createRouter(options: RouterOptions): ModelRouter {
  return new ModelRouter(options);
}
