/** One hunk: the lines it expects (context and removed) and the lines that replace them. */
export interface Hunk {
  /** 1-based line in the old file from the `@@ -l` header, when given (a hint). */
  readonly oldStart: number | undefined;
  readonly before: string[];
  readonly after: string[];
  /** Lines added and removed (for the summary). */
  adds: number;
  removes: number;
  /** `\ No newline at end of file` after the new side. */
  noFinalNewline: boolean;
}

/** One file of a patch. */
export interface FilePatch {
  readonly kind: "add" | "delete" | "update" | "rename";
  /** The old path (undefined when added). */
  readonly from: string | undefined;
  /** The new path (undefined when deleted). */
  readonly to: string | undefined;
  readonly hunks: Hunk[];
}

/** A patch that could not be parsed; `line` is 1-based in the patch text. */
export class PatchParseError extends Error {
  override readonly name = "PatchParseError";
  readonly line: number;
  constructor(line: number, message: string) {
    super(`Patch line ${line}: ${message}`);
    this.line = line;
  }
}

const NULL_PATH = "/dev/null";

function pathOf(header: string, marker: "--- " | "+++ ", git: boolean): string | undefined {
  let path = header.slice(marker.length).replace(/\t.*$/, "").trim();
  if (path.startsWith('"') && path.endsWith('"')) path = JSON.parse(path) as string;
  if (path === NULL_PATH) return undefined;
  if (git && /^[ab]\//.test(path)) path = path.slice(2);
  return path;
}

/**
 * Parses a unified diff into file patches. Headers `--- x` + `+++ y` start a file;
 * `diff --git`, `index`, mode and similarity lines are ignored; hunk line counts are not
 * trusted (models get them wrong), so a hunk ends at the next `@@`, file header or
 * `diff --git` line. Throws PatchParseError naming the line.
 */
export function parsePatch(text: string): FilePatch[] {
  const lines = text.replace(/\r\n/g, "\n").split("\n");
  const files: FilePatch[] = [];
  let i = 0;
  const isFileHeader = (k: number) =>
    lines[k]?.startsWith("--- ") === true && lines[k + 1]?.startsWith("+++ ") === true;
  while (i < lines.length) {
    if (!isFileHeader(i)) {
      const line = lines[i] as string;
      if (line.startsWith("@@") || /^[+-]/.test(line)) {
        throw new PatchParseError(
          i + 1,
          `found "${line.slice(0, 40)}" before any "--- path" / "+++ path" file header`,
        );
      }
      i++;
      continue;
    }
    const oldHeader = lines[i] as string;
    const newHeader = lines[i + 1] as string;
    const git = /^--- (a\/|\/dev\/null)/.test(oldHeader) && /^\+\+\+ (b\/|\/dev\/null)/.test(newHeader);
    const from = pathOf(oldHeader, "--- ", git);
    const to = pathOf(newHeader, "+++ ", git);
    if (from === undefined && to === undefined) throw new PatchParseError(i + 1, "both paths are /dev/null");
    i += 2;
    const hunks: Hunk[] = [];
    while (i < lines.length && !isFileHeader(i) && !(lines[i] as string).startsWith("diff --git")) {
      const line = lines[i] as string;
      if (!line.startsWith("@@")) {
        if (line.trim() !== "" && hunks.length === 0)
          throw new PatchParseError(i + 1, `expected a hunk header "@@" but found "${line.slice(0, 40)}"`);
        i++;
        continue;
      }
      const m = /^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@/.exec(line);
      const hunk: Hunk = {
        oldStart: m ? Number(m[1]) : undefined,
        before: [],
        after: [],
        adds: 0,
        removes: 0,
        noFinalNewline: false,
      };
      i++;
      while (i < lines.length) {
        const body = lines[i] as string;
        if (body.startsWith("@@") || isFileHeader(i) || body.startsWith("diff --git")) break;
        if (body.startsWith("\\")) {
          hunk.noFinalNewline = lines[i - 1]?.startsWith("-") !== true;
        } else if (body.startsWith("+")) {
          hunk.after.push(body.slice(1));
          hunk.adds++;
        } else if (body.startsWith("-")) {
          hunk.before.push(body.slice(1));
          hunk.removes++;
        } else if (body.startsWith(" ") || body === "") {
          // Blank lines before the end, a header or the next hunk separate; elsewhere they
          // are context lines whose leading space was lost.
          if (body === "") {
            let k = i + 1;
            while (k < lines.length && lines[k] === "") k++;
            const next = lines[k];
            if (
              next === undefined ||
              next.startsWith("@@") ||
              next.startsWith("diff --git") ||
              isFileHeader(k)
            ) {
              i = k;
              break;
            }
          }
          hunk.before.push(body.slice(1));
          hunk.after.push(body.slice(1));
        } else {
          throw new PatchParseError(
            i + 1,
            `hunk lines must start with " ", "-" or "+", found "${body.slice(0, 40)}"`,
          );
        }
        i++;
      }
      hunks.push(hunk);
    }
    const kind = from === undefined ? "add" : to === undefined ? "delete" : from !== to ? "rename" : "update";
    if (kind === "update" && hunks.length === 0)
      throw new PatchParseError(i, `${from} has a header but no hunks`);
    files.push({ kind, from, to, hunks });
  }
  if (files.length === 0)
    throw new PatchParseError(1, 'no file sections found: a patch needs "--- path" and "+++ path" headers');
  return files;
}
