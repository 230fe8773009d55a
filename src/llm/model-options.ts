/**
 * Model options as text: `key.path=value` assignments (`--model-option`), options inside a
 * model spec (`provider:model?key=value&key=value`), chains of specs, and the check of an
 * options object against a provider's schema.
 */
import type { z } from "zod";
import { TaifengError } from "../errors.ts";

/** Options as given: a JSON object. */
export type ModelOptions = Readonly<Record<string, unknown>>;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Deep-merges `b` over `a` (objects merge, anything else is replaced). */
export function mergeOptions(a: ModelOptions | undefined, b: ModelOptions | undefined): Obj {
  const out: Obj = { ...a };
  for (const [k, v] of Object.entries(b ?? {}))
    out[k] = isObj(v) && isObj(out[k]) ? mergeOptions(out[k] as Obj, v) : v;
  return out;
}

/**
 * Parses one option: `thinking.budget_tokens=4000` (a dotted path; the value is read as
 * JSON when it is JSON — numbers, booleans, arrays, objects, quoted strings — else taken as
 * text), or a whole JSON object `{"thinking": {...}}`. Throws TaifengError `invalid_config`.
 */
export function parseOptionAssignment(text: string): Obj {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (err) {
      throw new TaifengError(
        "invalid_config",
        `model option ${trimmed}: not valid JSON (${(err as Error).message})`,
      );
    }
    if (!isObj(value)) throw new TaifengError("invalid_config", `model option ${trimmed}: not a JSON object`);
    return value;
  }
  const eq = trimmed.indexOf("=");
  const path = eq < 0 ? "" : trimmed.slice(0, eq).trim();
  if (eq < 0 || path === "" || path.split(".").some((p) => p === "")) {
    throw new TaifengError(
      "invalid_config",
      `model option "${text}": expected key=value (e.g. thinking.budget_tokens=4000) or a JSON object`,
    );
  }
  const raw = trimmed.slice(eq + 1).trim();
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // not JSON: the text itself
  }
  const parts = path.split(".");
  let out: Obj = { [parts.at(-1) as string]: value };
  for (let i = parts.length - 2; i >= 0; i--) out = { [parts[i] as string]: out };
  return out;
}

/** Parses and merges several assignments, later ones winning. */
export function parseModelOptions(assignments: readonly string[]): Obj {
  let out: Obj = {};
  for (const a of assignments) out = mergeOptions(out, parseOptionAssignment(a));
  return out;
}

/**
 * Splits a model spec into its chain links at top-level commas (commas inside brackets,
 * braces or quotes belong to option values), each with the options after its `?`.
 */
export function splitModelSpec(spec: string): { spec: string; options: Obj | undefined }[] {
  const links: string[] = [];
  let depth = 0;
  let quote = false;
  let start = 0;
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i];
    if (c === '"' && spec[i - 1] !== "\\") quote = !quote;
    else if (quote) continue;
    else if (c === "[" || c === "{") depth++;
    else if (c === "]" || c === "}") depth--;
    else if (c === "," && depth === 0) {
      links.push(spec.slice(start, i));
      start = i + 1;
    }
  }
  links.push(spec.slice(start));
  return links
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .map((link) => {
      const q = link.indexOf("?");
      if (q < 0) return { spec: link, options: undefined };
      const assignments = link
        .slice(q + 1)
        .split("&")
        .filter((a) => a.trim() !== "");
      return { spec: link.slice(0, q), options: parseModelOptions(assignments) };
    });
}

function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = distance(name.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number;
      row[j] = Math.min(cur + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length] as number;
}

/**
 * Validates options against a provider's schema and returns the parsed value. Throws
 * TaifengError `invalid_config` naming the provider, the option (with the closest known
 * name for a misspelling, and the list of known ones) and what is wrong with its value.
 */
export function checkModelOptions(
  provider: string,
  schema: z.ZodType,
  known: readonly string[],
  options: ModelOptions,
): Obj {
  const parsed = schema.safeParse(options);
  if (parsed.success) return parsed.data as Obj;
  const problems = parsed.error.issues.slice(0, 5).map((issue) => {
    const at = issue.path.map(String).join(".");
    if (issue.code === "unrecognized_keys") {
      return issue.keys
        .map((key) => {
          const full = at === "" ? key : `${at}.${key}`;
          const hint = at === "" ? closest(key, known) : undefined;
          return `unknown option "${full}"${hint ? ` (did you mean "${hint}"?)` : ""}`;
        })
        .join("; ");
    }
    return `option "${at || "(options)"}": ${issue.message}`;
  });
  throw new TaifengError(
    "invalid_config",
    `${provider} model options: ${problems.join("; ")}. Known options: ${known.join(", ") || "none"}`,
  );
}
