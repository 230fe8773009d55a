/**
 * Wildcard patterns for command-like specifiers (`Bash(...)`, `Skill(...)`, and any tool
 * whose subject is a string). `*` matches any run of characters, spaces included. A
 * trailing ` *` (or the older `:*`) is a word boundary with optional arguments:
 * `npm run test *` matches `npm run test` and `npm run test -- x`, not `npm run test:unit`.
 * Without a wildcard a pattern matches exactly (whitespace runs compare as one space).
 *
 * Patterns are written as shell words: quotes and backslashes are removed the way the
 * shell removes them (`Bash('rm':*)` is `Bash(rm:*)`), and a quoted `*` is a literal star.
 * Subjects may hold HOLE characters where the command's text is unknown: `test` (for allow
 * rules) lets only a wildcard cover a hole; `couldMatch` (for deny and ask rules) asks
 * whether some value of the holes would match.
 */
export interface WildcardPattern {
  /** The specifier as written. */
  readonly source: string;
  /** The text before the first wildcard, dequoted and normalized. */
  readonly literalPrefix: string;
  /** True when the pattern has no wildcard at all. */
  readonly exact: boolean;
  test(subject: string): boolean;
  couldMatch(subject: string): boolean;
}

const REGEX_SPECIAL = /[.+?^${}()|[\]\\]/g;
/** Marks a part of a subject that is not statically known (see shell/words.ts). */
const HOLE = "\u0000";
/** A wildcard in a dequoted pattern. */
const STAR = "\u0001";
const MAX_CELLS = 2_000_000;

/** Collapses whitespace runs and trims, so `npm  test` and `npm test` compare equal. */
export function normalizeCommand(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** Removes shell quoting; unquoted `*` becomes STAR. */
function dequote(spec: string): string {
  let out = "";
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i] as string;
    if (c === "\\" && i + 1 < spec.length) out += spec[++i];
    else if (c === "'") {
      const end = spec.indexOf("'", i + 1);
      if (end < 0) out += spec.slice(i);
      else out += spec.slice(i + 1, end);
      i = end < 0 ? spec.length : end;
    } else if (c === '"') {
      let j = i + 1;
      while (j < spec.length && spec[j] !== '"') {
        if (spec[j] === "\\" && /["\\$`]/.test(spec[j + 1] ?? "")) j++;
        out += spec[j];
        j++;
      }
      i = j;
    } else out += c === "*" ? STAR : c;
  }
  return out.replaceAll(HOLE, "");
}

/** Compiles a command-like specifier. Never throws: every string is a valid pattern. */
export function compileWildcard(specifier: string): WildcardPattern {
  const source = specifier;
  let body = normalizeCommand(dequote(specifier));
  let optionalTail = false;
  if (body.endsWith(`:${STAR}`)) {
    body = body.slice(0, -2);
    optionalTail = true;
  } else if (body.endsWith(` ${STAR}`)) {
    body = body.slice(0, -2);
    optionalTail = true;
  }
  const star = body.indexOf(STAR);
  const literalPrefix = (star < 0 ? body : body.slice(0, star)).trim();
  const exact = star < 0 && !optionalTail;
  if (body === "" && optionalTail)
    return { source, literalPrefix, exact, test: () => true, couldMatch: () => true };
  const core = body
    .split(STAR)
    .map((piece) => piece.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("[\\s\\S]*");
  const regex = new RegExp(`^${core}${optionalTail ? "(?: [\\s\\S]*)?" : ""}$`);
  const variants = optionalTail ? [body, `${body} ${STAR}`] : [body];
  return {
    source,
    literalPrefix,
    exact,
    test: (subject) => regex.test(normalizeCommand(subject)),
    couldMatch: (subject) => {
      const s = normalizeCommand(subject);
      if (!s.includes(HOLE)) return regex.test(s);
      return variants.some((p) => intersects(p, s));
    },
  };
}

/**
 * True when some string matches both `p` (STAR = any run) and `s` (HOLE = any run): two
 * star patterns intersect. Dynamic programming over positions; very long inputs are
 * assumed to intersect (the safe answer for deny and ask rules).
 */
function intersects(p: string, s: string): boolean {
  const n = p.length;
  const m = s.length;
  if ((n + 1) * (m + 1) > MAX_CELLS) return true;
  // reach[i][j]: p[i..] and s[j..] intersect. Computed from the ends backwards.
  let next = new Uint8Array(m + 1);
  let row = new Uint8Array(m + 1);
  for (let i = n; i >= 0; i--) {
    for (let j = m; j >= 0; j--) {
      let ok = false;
      const pc = p[i];
      const sc = s[j];
      if (i === n && j === m) ok = true;
      if (!ok && pc === STAR) ok = next[j] === 1 || (j < m && row[j + 1] === 1);
      if (!ok && sc === HOLE) ok = row[j + 1] === 1 || (i < n && pc !== STAR && next[j] === 1);
      if (!ok && i < n && j < m && pc !== STAR && sc !== HOLE && pc === sc) ok = next[j + 1] === 1;
      row[j] = ok ? 1 : 0;
    }
    [next, row] = [row, next];
  }
  return next[0] === 1;
}

/**
 * Matches a tool name against a rule's tool name, where `*` in the rule is a wildcard
 * (used for MCP names such as `mcp__github__list_*`). Case-sensitive.
 */
export function matchName(ruleName: string, toolName: string): boolean {
  if (!ruleName.includes("*")) return ruleName === toolName;
  const regex = new RegExp(`^${ruleName.split("*").map(escapeRegex).join(".*")}$`);
  return regex.test(toolName);
}

/** Escapes a string for use inside a regular expression. */
export function escapeRegex(text: string): string {
  return text.replace(REGEX_SPECIAL, "\\$&").replace(/\*/g, "\\*");
}
