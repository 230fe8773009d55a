/**
 * Wildcard patterns for command-like specifiers (`Bash(...)`, `Skill(...)`, and any tool
 * whose subject is a string). `*` matches any run of characters, spaces included. A
 * trailing ` *` (or the older `:*`) is a word boundary with optional arguments:
 * `npm run test *` matches `npm run test` and `npm run test -- x`, not `npm run test:unit`.
 * Without a wildcard a pattern matches exactly (whitespace runs compare as one space).
 */
export interface WildcardPattern {
  /** The specifier as written. */
  readonly source: string;
  test(subject: string): boolean;
}

const REGEX_SPECIAL = /[.+?^${}()|[\]\\]/g;

/** Collapses whitespace runs and trims, so `npm  test` and `npm test` compare equal. */
export function normalizeCommand(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** Compiles a command-like specifier. Never throws: every string is a valid pattern. */
export function compileWildcard(specifier: string): WildcardPattern {
  const source = specifier;
  let body = normalizeCommand(specifier);
  let optionalTail = false;
  if (body.endsWith(":*")) {
    body = body.slice(0, -2);
    optionalTail = true;
  } else if (body.endsWith(" *")) {
    body = body.slice(0, -2);
    optionalTail = true;
  }
  if (body === "" && optionalTail) return { source, test: () => true };
  const core = body
    .split("*")
    .map((piece) => piece.replace(REGEX_SPECIAL, "\\$&"))
    .join("[\\s\\S]*");
  const regex = new RegExp(`^${core}${optionalTail ? "(?: [\\s\\S]*)?" : ""}$`);
  return { source, test: (subject) => regex.test(normalizeCommand(subject)) };
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
