import { MIN_SECRET_LENGTH, type SecretValue, secretsFromEnv } from "./env.ts";
import { SECRET_PATTERNS, type SecretPattern } from "./patterns.ts";
import type { Redactor } from "./types.ts";
import { redactJson } from "./walk.ts";

/** How a redactor is built. */
export interface RedactorOptions {
  /**
   * The environment whose secret-looking variables are masked (see `secretsFromEnv`).
   * Default `process.env`; `false` reads none.
   */
  readonly env?: Readonly<Record<string, string | undefined>> | false;
  /** More values to mask, named or bare (a bare value is masked as `[REDACTED:secret]`). */
  readonly values?: readonly (string | SecretValue)[];
  /**
   * Token formats recognized anywhere: `true` (default) the built-in `SECRET_PATTERNS`,
   * `false` none, or a list (e.g. `[...SECRET_PATTERNS, myPattern]`).
   */
  readonly patterns?: boolean | readonly SecretPattern[];
}

/** A redactor plus what it was built from (names only: the values are never exposed). */
export interface BuiltRedactor extends Redactor {
  /** The names of the values it masks (variable names, or `secret`). */
  readonly names: readonly string[];
  /** The ids of the formats it recognizes. */
  readonly patternIds: readonly string[];
}

/** The mask put in place of a secret. Contains no quote or backslash, so JSON text stays valid. */
export function mask(name: string): string {
  return `[REDACTED:${name}]`;
}

/** A redactor that masks nothing (for hosts that turn redaction off). */
export const NO_REDACTION: BuiltRedactor = {
  redact: (text) => text,
  redactValue: (value) => value,
  names: [],
  patternIds: [],
};

/**
 * Builds a redactor: every secret value (from the environment and `values`) and every
 * known token format is compiled into one regular expression, so a text is scanned once
 * whatever the number of secrets. Values are matched as written and in their JSON-escaped
 * and URL-encoded forms. The fast path (nothing matches) costs one scan and returns the
 * very same string.
 */
export function createRedactor(options: RedactorOptions = {}): BuiltRedactor {
  const env = options.env === undefined ? process.env : options.env;
  const secrets: SecretValue[] = env === false ? [] : secretsFromEnv(env);
  for (const v of options.values ?? []) {
    const secret = typeof v === "string" ? { name: "secret", value: v } : v;
    if (secret.value.length >= MIN_SECRET_LENGTH) secrets.push(secret);
  }
  const patterns =
    options.patterns === false
      ? []
      : options.patterns === true || !options.patterns
        ? SECRET_PATTERNS
        : options.patterns;
  return compile(secrets, patterns);
}

function compile(secrets: readonly SecretValue[], patterns: readonly SecretPattern[]): BuiltRedactor {
  // Every written form of every value -> the name it is masked as (first name wins).
  const literals = new Map<string, string>();
  for (const { name, value } of secrets) {
    for (const form of forms(value)) if (!literals.has(form)) literals.set(form, name);
  }
  const alternatives: string[] = [];
  // Longest first: a value that contains another is masked whole.
  const sorted = [...literals.keys()].sort((a, b) => b.length - a.length);
  if (sorted.length > 0) alternatives.push(`(${sorted.map(escapeRegExp).join("|")})`);
  // Each pattern is wrapped in a group; its own groups follow it. Record where each starts.
  const starts: { pattern: SecretPattern; index: number }[] = [];
  let next = sorted.length > 0 ? 2 : 1;
  for (const pattern of patterns) {
    starts.push({ pattern, index: next });
    alternatives.push(`(${pattern.source})`);
    next += 1 + countGroups(pattern.source);
  }
  if (alternatives.length === 0) {
    return { ...NO_REDACTION, names: [], patternIds: [] };
  }
  const re = new RegExp(alternatives.join("|"), "g");
  const literalGroup = sorted.length > 0;
  // No match can be shorter than the shortest literal or `://a:b@` (the shortest pattern match).
  const shortest = Math.min(
    sorted.at(-1)?.length ?? Number.POSITIVE_INFINITY,
    patterns.length > 0 ? 7 : Number.POSITIVE_INFINITY,
  );
  const replace = (match: string, ...groups: unknown[]): string => {
    if (literalGroup && groups[0] !== undefined) return mask(literals.get(match) ?? "secret");
    for (const { pattern, index } of starts) {
      if (groups[index - 1] === undefined) continue;
      if (pattern.group === undefined) return mask(pattern.id);
      const inner = groups[index - 1 + pattern.group];
      if (typeof inner !== "string" || inner === "") return match;
      // The masked group is the last thing the pattern's match ends with, bar a delimiter.
      const at = match.lastIndexOf(inner);
      return `${match.slice(0, at)}${mask(pattern.id)}${match.slice(at + inner.length)}`;
    }
    return mask("secret");
  };
  // The same text often passes twice in a row (an event, then the history item holding it).
  let lastIn = "";
  let lastOut = "";
  const redact = (text: string): string => {
    if (text.length < shortest) return text;
    if (text === lastIn) return lastOut;
    re.lastIndex = 0;
    let out = text;
    if (re.test(text)) {
      re.lastIndex = 0;
      out = text.replace(re, replace);
    }
    // Remember small texts only: the memo must not keep a large output alive.
    if (text.length <= 65_536) {
      lastIn = text;
      lastOut = out;
    }
    return out;
  };
  const redactor: BuiltRedactor = {
    redact,
    redactValue: <T>(value: T): T => redactJson(value, redact),
    names: [...new Set(secrets.map((s) => s.name))],
    patternIds: patterns.map((p) => p.id),
  };
  return redactor;
}

/** The forms a value may be written in: as is, JSON-escaped, URL-encoded. */
function forms(value: string): string[] {
  const out = new Set([value]);
  const json = JSON.stringify(value).slice(1, -1);
  out.add(json);
  out.add(encodeURIComponent(value));
  return [...out].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}

/** Capturing groups in a regular-expression source (named groups are not allowed there). */
function countGroups(source: string): number {
  let count = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === "\\") {
      i++;
      continue;
    }
    if (inClass) {
      if (ch === "]") inClass = false;
      continue;
    }
    if (ch === "[") inClass = true;
    else if (ch === "(" && source[i + 1] !== "?") count++;
  }
  return count;
}

let fromProcess: BuiltRedactor | undefined;

/**
 * The redactor built from `process.env` and the built-in formats, made once per process at
 * first use ("at startup"): the engine's default. A host that changes its environment later,
 * or wants other values, builds its own with `createRedactor`.
 */
export function defaultRedactor(): BuiltRedactor {
  fromProcess ??= createRedactor();
  return fromProcess;
}
