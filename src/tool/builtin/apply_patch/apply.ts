import type { Hunk } from "./parse.ts";

/** The result of applying hunks to one file's text. */
export type HunkResult =
  | { readonly ok: true; readonly text: string; readonly added: number; readonly removed: number }
  | { readonly ok: false; readonly message: string };

type Compare = (a: string, b: string) => boolean;

const STRICTNESS: readonly Compare[] = [
  (a, b) => a === b,
  (a, b) => a.trimEnd() === b.trimEnd(),
  (a, b) => a.trim() === b.trim(),
];

function matchesAt(lines: readonly string[], at: number, block: readonly string[], eq: Compare): boolean {
  for (let k = 0; k < block.length; k++) if (!eq(lines[at + k] as string, block[k] as string)) return false;
  return true;
}

/** Where `block` occurs at or after `from`: the strictest comparison that finds it wins. */
function locate(lines: readonly string[], block: readonly string[], from: number): number[] {
  for (const eq of STRICTNESS) {
    const found: number[] = [];
    for (let at = from; at + block.length <= lines.length; at++)
      if (matchesAt(lines, at, block, eq)) found.push(at);
    if (found.length > 0) return found;
  }
  return [];
}

function preview(block: readonly string[]): string {
  return block
    .slice(0, 4)
    .map((l) => `  ${l}`)
    .join("\n");
}

/**
 * Applies hunks in order. Each hunk's expected lines (context and removed) are searched
 * from the end of the previous hunk, exactly first, then ignoring trailing and then all
 * surrounding whitespace; several matches are resolved by the `@@ -line` hint (closest
 * wins) and are an error without one. Keeps the file's line ending style.
 */
export function applyHunks(path: string, original: string, hunks: readonly Hunk[]): HunkResult {
  const eol = original.includes("\r\n") ? "\r\n" : "\n";
  const hadFinalNewline = original === "" || original.endsWith("\n");
  const lines = original === "" ? [] : original.replace(/\r\n/g, "\n").replace(/\n$/, "").split("\n");
  let cursor = 0;
  let added = 0;
  let removed = 0;
  let finalNewline = hadFinalNewline;
  for (const [n, hunk] of hunks.entries()) {
    const label = `hunk ${n + 1} of ${path}`;
    let at: number;
    if (hunk.before.length === 0) {
      if (hunk.oldStart === undefined && lines.length > 0) {
        return {
          ok: false,
          message: `${label} has no context or removed lines, so there is nothing to locate it by. Add context lines.`,
        };
      }
      at =
        hunk.oldStart === undefined ? lines.length : Math.min(Math.max(hunk.oldStart, cursor), lines.length);
    } else {
      const found = locate(lines, hunk.before, cursor);
      if (found.length === 0) {
        return {
          ok: false,
          message: `${label} does not match the file: these lines were not found${cursor > 0 ? ` after line ${cursor}` : ""}:\n${preview(hunk.before)}\nRead the file again and regenerate the hunk from its current content.`,
        };
      }
      if (found.length > 1 && hunk.oldStart === undefined) {
        return {
          ok: false,
          message: `${label} matches ${found.length} places (lines ${found
            .slice(0, 5)
            .map((f) => f + 1)
            .join(", ")}). Add more context lines or an "@@ -<line>" header.`,
        };
      }
      const hint = (hunk.oldStart ?? 1) - 1;
      at = found.reduce(
        (best, f) => (Math.abs(f - hint) < Math.abs(best - hint) ? f : best),
        found[0] as number,
      );
    }
    lines.splice(at, hunk.before.length, ...hunk.after);
    cursor = at + hunk.after.length;
    removed += hunk.removes;
    added += hunk.adds;
    if (at + hunk.after.length >= lines.length) finalNewline = !hunk.noFinalNewline;
  }
  const body = lines.join(eol);
  return { ok: true, text: lines.length === 0 ? "" : finalNewline ? body + eol : body, added, removed };
}
