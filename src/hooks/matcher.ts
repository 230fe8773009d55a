import { TaifengError } from "../errors.ts";

/** A compiled hook matcher: true when any of the names matches. */
export type NameMatcher = (names: readonly string[]) => boolean;

const NAME_LIST = /^[\w-]+(\|[\w-]+)*$/;

/**
 * Compiles a hook matcher. Empty or `*` matches everything; names joined by `|` match
 * exactly (`Edit|Write`); anything else is a regular expression that must match a whole
 * name (`mcp__github__.*`). Throws TaifengError `invalid_config` for a bad expression.
 */
export function compileMatcher(matcher: string | undefined): NameMatcher {
  const m = matcher?.trim() ?? "";
  if (m === "" || m === "*") return () => true;
  if (NAME_LIST.test(m)) {
    const names = new Set(m.split("|"));
    return (candidates) => candidates.some((c) => names.has(c));
  }
  let regex: RegExp;
  try {
    regex = new RegExp(`^(?:${m})$`);
  } catch (err) {
    throw new TaifengError(
      "invalid_config",
      `hook matcher "${m}" is not a valid regular expression: ${(err as Error).message}`,
    );
  }
  return (candidates) => candidates.some((c) => regex.test(c));
}
