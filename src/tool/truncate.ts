/** The result of `truncateMiddle`. */
export interface Truncated {
  readonly text: string;
  /** Characters removed from the middle (0 when the text fit). */
  readonly omittedChars: number;
  readonly omittedLines: number;
}

/**
 * Keeps the head and the tail of `text` within `maxChars`, marker included (about 60% head,
 * 40% tail, cut at line boundaries when one is near), replacing the middle with
 * `marker(omitted)`. Text that fits is returned unchanged; the result is never longer than
 * `maxChars` unless the marker alone is.
 */
export function truncateMiddle(
  text: string,
  maxChars: number,
  marker: (omittedChars: number, omittedLines: number) => string = (c, l) =>
    `\n[... ${c} characters (${l} lines) omitted ...]\n`,
): Truncated {
  if (text.length <= maxChars) return { text, omittedChars: 0, omittedLines: 0 };
  // The marker's length depends on what it omits: guess, then shrink by any overshoot.
  let budget = Math.max(0, maxChars - 200);
  let cut = cutAround(text, budget, marker);
  for (let i = 0; i < 3 && cut.text.length > maxChars && budget > 0; i++) {
    budget = Math.max(0, budget - (cut.text.length - maxChars));
    cut = cutAround(text, budget, marker);
  }
  return cut;
}

function cutAround(
  text: string,
  budget: number,
  marker: (omittedChars: number, omittedLines: number) => string,
): Truncated {
  let headEnd = Math.floor(budget * 0.6);
  let tailStart = text.length - (budget - headEnd);
  const nl = text.lastIndexOf("\n", headEnd);
  if (nl > headEnd * 0.8) headEnd = nl + 1;
  const nl2 = text.indexOf("\n", tailStart);
  if (nl2 >= 0 && nl2 < tailStart + (text.length - tailStart) * 0.2) tailStart = nl2 + 1;
  const middle = text.slice(headEnd, tailStart);
  let lines = 0;
  for (let i = middle.indexOf("\n"); i >= 0; i = middle.indexOf("\n", i + 1)) lines++;
  return {
    text: text.slice(0, headEnd) + marker(middle.length, lines) + text.slice(tailStart),
    omittedChars: middle.length,
    omittedLines: lines,
  };
}
