import { TaifengError } from "../errors.ts";
import { RolloutLine, SCHEMA_VERSION } from "../protocol/index.ts";
import { isCommonLine } from "./line-check.ts";

/** A transcript file parsed and validated. */
export interface ParsedTranscript {
  /** Every complete, valid line; the first is `thread_meta`. */
  readonly lines: RolloutLine[];
  /** Bytes of the file those lines occupy: where the next line goes. */
  readonly validBytes: number;
  /** Bytes after `validBytes`: a line cut by a crash (never acknowledged). 0 when the file is clean. */
  readonly tornBytes: number;
}

const NEWLINE = 0x0a;

function corrupt(path: string, lineNo: number, detail: string): TaifengError {
  return new TaifengError(
    "store_error",
    `transcript ${path} is corrupt at line ${lineNo}: ${detail}. Lines before it are intact; ` +
      "fix or remove the line by hand (the file is append-only, so nothing after it was written by Taifeng in that state).",
    { details: { path, line: lineNo } },
  );
}

function issueText(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.map(String).join(".") || "(line)"}: ${i.message}`)
    .join("; ");
}

function tryJson(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

/** Byte offset just after the `count`-th newline of `buf` (0 for count 0). */
function offsetAfterLines(buf: Buffer, count: number): number {
  let at = 0;
  for (let i = 0; i < count; i++) at = buf.indexOf(NEWLINE, at) + 1;
  return at;
}

function checkMeta(path: string, line: RolloutLine): void {
  if (line.type !== "thread_meta")
    throw corrupt(path, 1, `the first line must be thread_meta, got ${line.type}`);
  const version = line.payload.schemaVersion;
  if (version > SCHEMA_VERSION) {
    throw new TaifengError(
      "store_error",
      `transcript ${path} was written with schema version ${version}, newer than this Taifeng reads (up to ${SCHEMA_VERSION}); upgrade Taifeng to open it`,
      { details: { path, schemaVersion: version } },
    );
  }
}

/**
 * Parses a transcript. A line counts only when it ends with a newline: bytes after the last
 * newline are a torn line, and so are trailing lines that are not JSON at all (garbage a
 * power loss can leave); both are reported in `tornBytes`, never returned. A line that is not
 * JSON but is followed by valid lines, or JSON that breaks the RolloutLine schema, is
 * corruption: throws TaifengError `store_error` naming the file and line (every line is
 * validated against the schema; common shapes through a cheaper equivalent check, see
 * line-check.ts). Lines are returned
 * as parsed, not re-built by the schema, so their key order (and a resumed prompt) is exactly
 * what was written. Throws for a file written by a newer schema version.
 */
export function parseTranscript(buf: Buffer, path: string): ParsedTranscript {
  const parsed = parseLines(buf, path, 0);
  const first = parsed.lines[0];
  if (first) checkMeta(path, first);
  return parsed;
}

/**
 * parseTranscript for a part of a transcript that starts at a line boundary after its
 * first line (`linesBefore` lines precede it, for the line numbers of errors): the same rules,
 * without the `thread_meta` check.
 */
export function parseLines(buf: Buffer, path: string, linesBefore: number): ParsedTranscript {
  const lastNewline = buf.lastIndexOf(NEWLINE);
  const complete = lastNewline < 0 ? "" : buf.toString("utf8", 0, lastNewline);
  const texts = complete === "" && lastNewline < 0 ? [] : complete.split("\n");
  const values: unknown[] = [];
  let badAt = -1;
  let badMessage = "";
  for (let i = 0; i < texts.length; i++) {
    const parsed = tryJson(texts[i] as string);
    if (parsed.ok) {
      if (badAt >= 0) throw corrupt(path, linesBefore + badAt + 1, `not JSON (${badMessage})`);
      values.push(parsed.value);
    } else if (badAt < 0) {
      badAt = i;
      badMessage = parsed.message;
    }
  }
  const lines: RolloutLine[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (!isCommonLine(value)) {
      const checked = RolloutLine.safeParse(value);
      if (!checked.success) throw corrupt(path, linesBefore + i + 1, issueText(checked.error));
    }
    lines[i] = value as RolloutLine;
  }
  const validBytes = badAt >= 0 ? offsetAfterLines(buf, badAt) : lastNewline + 1;
  return { lines, validBytes, tornBytes: buf.length - validBytes };
}
