import { type Document, isMap, isScalar, LineCounter, parseDocument } from "yaml";
import type { SkillProblem } from "./types.ts";

/** A 1-based position in a file. */
export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Front matter parsed into a value, with a way back to the file lines of its parts. */
export interface FrontMatter {
  /** The YAML value (plain JS: maps become objects). */
  readonly data: unknown;
  /** The Markdown after the closing delimiter. */
  readonly body: string;
  /** The file line the body starts on. */
  readonly bodyLine: number;
  /**
   * Where a value sits in the file: `["taifeng", "plan", "steps", 2]` -> its position. With
   * `key: true`, the position of the last segment's key instead of its value.
   */
  locate(path: readonly (string | number)[], options?: { key?: boolean }): Position | undefined;
}

/** The result of splitting and parsing a SKILL.md. */
export type FrontMatterResult =
  | { readonly ok: true; readonly value: FrontMatter }
  | { readonly ok: false; readonly problem: SkillProblem };

const OPEN = /^---[ \t]*$/;
const CLOSE = /^(?:---|\.\.\.)[ \t]*$/;

/**
 * Splits a SKILL.md into YAML front matter and Markdown body and parses the YAML (YAML 1.2
 * core schema: `yes` stays a string). Fails with a located problem when the file does not
 * start with `---`, the block is not closed, or the YAML does not parse (first error only).
 */
export function parseFrontMatter(text: string, file: string): FrontMatterResult {
  const lines = text
    .replace(/^\uFEFF/, "")
    .replace(/\r\n?/g, "\n")
    .split("\n");
  if (!OPEN.test(lines[0] ?? "")) {
    return fail(
      file,
      "no_front_matter",
      "SKILL.md must start with a '---' line opening the YAML front matter",
      1,
    );
  }
  let close = -1;
  for (let i = 1; i < lines.length; i++) {
    if (CLOSE.test(lines[i] as string)) {
      close = i;
      break;
    }
  }
  if (close < 0) {
    return fail(file, "no_front_matter", "the front matter opened on line 1 is never closed with '---'", 1);
  }
  const yamlText = lines.slice(1, close).join("\n");
  const counter = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  // YAML line n is file line n + 1 (the opening delimiter is line 1).
  const toFile = (offset: number): Position => {
    const pos = counter.linePos(offset);
    return { line: pos.line + 1, column: pos.col };
  };
  const first = doc.errors[0];
  if (first) {
    const at = toFile(first.pos[0]);
    const message = (first.message.split(":\n")[0] ?? first.message).trim();
    return fail(file, "yaml_syntax", `the front matter is not valid YAML: ${message}`, at.line, at.column);
  }
  return {
    ok: true,
    value: {
      data: doc.toJS({ maxAliasCount: 100 }),
      body: lines.slice(close + 1).join("\n"),
      bodyLine: close + 2,
      locate: (path, options) => locate(doc, path, options?.key === true, toFile),
    },
  };
}

function locate(
  doc: Document,
  path: readonly (string | number)[],
  key: boolean,
  toFile: (offset: number) => Position,
): Position | undefined {
  if (path.length === 0) return doc.contents?.range ? toFile(doc.contents.range[0]) : undefined;
  if (key) {
    const parent = path.length === 1 ? doc.contents : doc.getIn(path.slice(0, -1), true);
    if (isMap(parent)) {
      const last = path[path.length - 1];
      for (const pair of parent.items) {
        if (isScalar(pair.key) && pair.key.value === last && pair.key.range) return toFile(pair.key.range[0]);
      }
    }
  }
  // Walk down as far as the path exists: a missing leaf is reported at its closest parent.
  for (let n = path.length; n > 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node && typeof node === "object" && node.range) return toFile(node.range[0]);
  }
  return doc.contents?.range ? toFile(doc.contents.range[0]) : undefined;
}

function fail(file: string, code: string, message: string, line: number, column?: number): FrontMatterResult {
  return { ok: false, problem: { severity: "error", code, message, file, line, column } };
}
