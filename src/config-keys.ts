import { distance } from "fastest-levenshtein";

/**
 * The known key closest to a misspelled one: a case-insensitive match, else the nearest by
 * edit distance when it is close enough to be a typo (at most 2 edits, or a third of the
 * key's length for longer keys). Undefined when nothing is close.
 */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const exact = known.find((k) => k.toLowerCase() === lower);
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const limit = Math.max(2, Math.floor(key.length / 3));
  return bestDistance <= limit ? best : undefined;
}

/**
 * Checks the keys of one object of a configuration file. Returns one message per unknown
 * key, naming where it is (`permissions.Deny`) and the key it probably meant, or listing the
 * known keys when none is close.
 */
export function unknownKeys(
  value: Readonly<Record<string, unknown>>,
  known: readonly string[],
  where: string,
): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const at = where === "" ? key : `${where}.${key}`;
    const suggestion = suggestKey(key, known);
    problems.push(
      suggestion !== undefined
        ? `unknown key "${at}"; did you mean "${suggestion}"?`
        : `unknown key "${at}"; known keys${where === "" ? "" : ` of ${where}`}: ${known.join(", ")}`,
    );
  }
  return problems;
}
