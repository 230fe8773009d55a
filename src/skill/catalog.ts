import type { Skill } from "./types.ts";

/** Options for rendering the catalog. */
export interface CatalogOptions {
  /** Most tokens the catalog may take in the prompt prefix. Default 2,000. */
  readonly budgetTokens?: number;
  /** Token estimate for a text. Default: characters / 4, rounded up. */
  readonly estimateTokens?: (text: string) => number;
  /** Names of the tools the model uses on skills (shown in the header). */
  readonly tools?: { readonly read: string; readonly call: string };
}

/** A rendered catalog and how it fit the budget. */
export interface Catalog {
  /** The text for the system prompt; empty when there is no skill to list. */
  readonly text: string;
  /** Skills listed with their description (possibly shortened). */
  readonly listed: number;
  /** Skills listed by name only. */
  readonly namesOnly: number;
  /** Skills left out entirely (only counted). */
  readonly omitted: number;
  /** The per-description character cap applied (undefined = descriptions in full). */
  readonly descriptionCap: number | undefined;
  readonly tokens: number;
}

export const DEFAULT_CATALOG_BUDGET = 2000;
const MIN_DESCRIPTION = 60;

/** Characters / 4, rounded up: a stable, provider-neutral estimate. */
export function estimateTokensByChars(text: string): number {
  return Math.ceil(text.length / 4);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function shorten(text: string, cap: number | undefined): string {
  if (cap === undefined || text.length <= cap) return text;
  return `${text.slice(0, Math.max(0, cap - 1)).trimEnd()}…`;
}

/**
 * Renders the skill catalog for the stable prompt prefix: one line per skill with its name,
 * description (plus `when_to_use`) and location, sorted by name so that the same skills
 * always give the same bytes. To fit `budgetTokens`, descriptions are shortened to the
 * largest common length that fits (down to 60 characters); if that is not enough, the first
 * skills keep a short description and the rest are listed by name only; if even the names do
 * not fit, as many names as fit are listed and the rest counted. Pass only the
 * skills the model may see (usable, not `disable-model-invocation`).
 */
export function renderCatalog(skills: readonly Skill[], options: CatalogOptions = {}): Catalog {
  const budget = options.budgetTokens ?? DEFAULT_CATALOG_BUDGET;
  const estimate = options.estimateTokens ?? estimateTokensByChars;
  const read = options.tools?.read ?? "read_skill";
  const call = options.tools?.call ?? "call_skill";
  const sorted = [...skills].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (sorted.length === 0) {
    return { text: "", listed: 0, namesOnly: 0, omitted: 0, descriptionCap: undefined, tokens: 0 };
  }
  const header =
    "# Skills\n" +
    "Skills are packaged instructions for specific tasks. When a request matches a skill's " +
    `description, call ${read} with its name to load the instructions (its bundled files are ` +
    `read on demand), or ${call} to run it as a self-contained sub-task and get its result.\n`;
  const described = sorted.map((s) => {
    const when = s.manifest.whenToUse ? ` ${oneLine(s.manifest.whenToUse)}` : "";
    return { name: s.name, text: oneLine(s.manifest.description) + when, location: s.file };
  });
  const line = (d: (typeof described)[number], cap: number | undefined) =>
    `- ${d.name}: ${shorten(d.text, cap)} (${d.location})`;
  const render = (count: number, cap: number | undefined, names: number): string => {
    const lines = described.slice(0, count).map((d) => line(d, cap));
    const rest = described.slice(count, count + names).map((d) => d.name);
    if (rest.length > 0) lines.push(`- Also available (call ${read} for details): ${rest.join(", ")}`);
    const omitted = described.length - count - rest.length;
    if (omitted > 0) lines.push(`- ${omitted} more skill(s) not listed for space.`);
    return `${header}\n${lines.join("\n")}\n`;
  };
  const fits = (text: string) => estimate(text) <= budget;
  const result = (count: number, cap: number | undefined, names: number): Catalog => {
    const text = render(count, cap, names);
    return {
      text,
      listed: count,
      namesOnly: names,
      omitted: described.length - count - names,
      descriptionCap: cap,
      tokens: estimate(text),
    };
  };
  const n = described.length;
  if (fits(render(n, undefined, 0))) return result(n, undefined, 0);
  const longest = Math.max(...described.map((d) => d.text.length));
  if (fits(render(n, MIN_DESCRIPTION, 0))) {
    return result(
      n,
      largest(MIN_DESCRIPTION, longest, (cap) => fits(render(n, cap, 0))),
      0,
    );
  }
  // Even short descriptions overflow: describe as many as fit, then names, then a count.
  // Every skill should stay discoverable: keep all names and describe as many as still fit;
  // only when the names alone overflow, list as many names as fit and count the rest. Both
  // searches are binary: the rendered size grows with each count.
  if (fits(render(0, MIN_DESCRIPTION, n))) {
    const count = largest(0, n, (k) => fits(render(k, MIN_DESCRIPTION, n - k)));
    return result(count, MIN_DESCRIPTION, n - count);
  }
  return result(
    0,
    MIN_DESCRIPTION,
    largest(0, n, (k) => fits(render(0, MIN_DESCRIPTION, k))),
  );
}

/** The largest k in [lo, hi] with ok(k), given ok is true up to some point and false after (ok(lo) assumed). */
function largest(lo: number, hi: number, ok: (k: number) => boolean): number {
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
