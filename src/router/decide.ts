/**
 * The router's decision as a pure function: the same input always gives the same choice, so a
 * decision can be replayed from its event and unit-tested without any model.
 */

/** A kind of input beyond text that a model must read. */
export type Modality = "image" | "audio" | "file";

/** What the router knows about one candidate when it decides. */
export interface Candidate {
  /** The model's client id (`provider:model`). */
  readonly id: string;
  readonly modalities: ReadonlySet<Modality>;
  /** Context window in tokens; undefined: unknown (never excluded for length). */
  readonly contextWindow: number | undefined;
  /** Intent labels this model serves; undefined: any. */
  readonly intents: ReadonlySet<string> | undefined;
  /** Relative price (USD per million input tokens by default); undefined: unknown (treated as dearest). */
  readonly cost: number | undefined;
  /** Breaker state; `open` means calls would fail fast. */
  readonly breaker: "closed" | "open" | "half_open";
  /** Provider failures in the router's recent-error window. */
  readonly recentErrors: number;
}

/** Everything one decision depends on. */
export interface RouteInput {
  readonly profile: string;
  /** Candidates in the profile's preference order. */
  readonly candidates: readonly Candidate[];
  /** Modalities the request carries. */
  readonly needs: ReadonlySet<Modality>;
  /** Estimated prompt tokens plus the reserved answer. */
  readonly tokens: number;
  /** The intent or stage label of this call, if any. */
  readonly label: string | undefined;
  /** Fraction of the tightest budget left (0..1); undefined: no budget known. */
  readonly budgetLeft: number | undefined;
  /** Below this fraction of budget left, the cheapest remaining candidate is chosen. */
  readonly downgradeBelow: number;
  /** A model with this many recent provider failures is passed over (when another remains). */
  readonly errorThreshold: number;
}

/** The outcome: the chosen model (or none) and why. */
export interface RouteDecision {
  readonly chosen: string | undefined;
  /** The rules that narrowed the field, in the order they applied. */
  readonly reasons: readonly string[];
  readonly skipped: readonly { readonly model: string; readonly reason: string }[];
}

type Skip = { model: string; reason: string };

/**
 * Applies the routing rules in order: modality, context length, intent label, budget,
 * availability; then takes the first remaining candidate in profile order (or the cheapest one
 * when the budget runs low). A rule that would leave nobody is skipped only where that is
 * safe: an intent label with no matching model, or models with recent errors when all have
 * some, fall back to the wider field; modality, length and an open breaker never do.
 */
export function decideRoute(input: RouteInput): RouteDecision {
  const reasons: string[] = [];
  const skipped: Skip[] = [];
  let field = input.candidates.slice();
  const drop = (keep: (c: Candidate) => boolean, why: (c: Candidate) => string): void => {
    const next: Candidate[] = [];
    for (const c of field) {
      if (keep(c)) next.push(c);
      else skipped.push({ model: c.id, reason: why(c) });
    }
    field = next;
  };
  if (input.needs.size > 0) {
    const needs = [...input.needs].sort();
    drop(
      (c) => needs.every((m) => c.modalities.has(m)),
      (c) => `cannot read ${needs.filter((m) => !c.modalities.has(m)).join(", ")}`,
    );
    reasons.push(`modality: needs ${needs.join(", ")}`);
  }
  drop(
    (c) => c.contextWindow === undefined || c.contextWindow >= input.tokens,
    (c) => `context window ${c.contextWindow} < ${input.tokens} tokens needed`,
  );
  reasons.push(`context: ~${input.tokens} tokens`);
  if (input.label !== undefined) {
    const label = input.label;
    const matching = field.filter((c) => c.intents === undefined || c.intents.has(label));
    if (matching.length > 0) {
      drop(
        (c) => c.intents === undefined || c.intents.has(label),
        () => `does not serve intent "${label}"`,
      );
      reasons.push(`intent: ${label}`);
    } else reasons.push(`intent: ${label} (no model declares it; ignored)`);
  }
  drop(
    (c) => c.breaker !== "open",
    () => "circuit open",
  );
  const healthy = field.filter((c) => c.recentErrors < input.errorThreshold);
  if (healthy.length > 0 && healthy.length < field.length) {
    drop(
      (c) => c.recentErrors < input.errorThreshold,
      (c) => `${c.recentErrors} recent errors`,
    );
    reasons.push("availability: passed over models with recent errors");
  }
  if (field.length === 0) return { chosen: undefined, reasons, skipped };
  let chosen = field[0] as Candidate;
  if (input.budgetLeft !== undefined && input.budgetLeft < input.downgradeBelow) {
    for (const c of field) if (costOf(c) < costOf(chosen)) chosen = c;
    reasons.push(
      `budget: ${Math.round(input.budgetLeft * 100)}% left < ${Math.round(input.downgradeBelow * 100)}%: cheapest`,
    );
  } else reasons.push(`profile ${input.profile}: first eligible`);
  return { chosen: chosen.id, reasons, skipped };
}

const costOf = (c: Candidate): number => c.cost ?? Number.POSITIVE_INFINITY;
