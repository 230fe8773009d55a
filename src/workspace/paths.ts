import { WorkspaceError } from "./types.ts";

/**
 * Characters that look like a dot, slash or backslash but are not. A model (or an attacker
 * writing into a prompt) can use them to make a path look like it stays inside the
 * workspace, or to slip `..` past a human reviewer; we refuse them instead of guessing.
 */
const LOOKALIKES = new Set([
  "\u2215", // DIVISION SLASH
  "\u2044", // FRACTION SLASH
  "\u29f8", // BIG SOLIDUS
  "\u2216", // SET MINUS
  "\u29f5", // REVERSE SOLIDUS OPERATOR
  "\u29f9", // BIG REVERSE SOLIDUS
  "\u3002", // IDEOGRAPHIC FULL STOP
  "\uff61", // HALFWIDTH IDEOGRAPHIC FULL STOP
  "\u0701", // SYRIAC SUPRALINEAR FULL STOP
  "\u0702", // SYRIAC SUBLINEAR FULL STOP
  "\ua60e", // VAI FULL STOP
  "\u2e31", // WORD SEPARATOR MIDDLE DOT
]);

function isLookalike(ch: string): boolean {
  if (ch.charCodeAt(0) < 0x80) return false;
  if (LOOKALIKES.has(ch)) return true;
  // Compatibility forms (fullwidth solidus, one dot leader, small full stop...) fold to ASCII.
  return /[./\\]/.test(ch.normalize("NFKC"));
}

/**
 * Checks a raw path for characters no workspace path may hold: NUL and other control
 * characters, and look-alikes of `.`, `/` and `\`. Throws WorkspaceError `invalid_path`.
 */
export function checkPathCharacters(input: string): void {
  for (const ch of input) {
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) {
      throw new WorkspaceError(
        "invalid_path",
        input,
        `Invalid path ${JSON.stringify(input)}: it contains a control character (code ${code}).`,
      );
    }
    if (isLookalike(ch)) {
      const hex = code.toString(16).toUpperCase().padStart(4, "0");
      throw new WorkspaceError(
        "invalid_path",
        input,
        `Invalid path ${JSON.stringify(input)}: it contains U+${hex}, which looks like a path separator or dot. Use plain ASCII "/" and ".".`,
      );
    }
  }
}

/**
 * Normalizes a path relative to a workspace root into a workspace-relative POSIX path
 * ("" = the root). `\` counts as a separator; `.` segments vanish; `..` may not climb
 * above the root. `absoluteRoot` is the root as an absolute POSIX path: absolute inputs
 * under it are accepted, others refused. Without one (virtual workspaces) an absolute
 * path is read as rooted at the workspace. Throws WorkspaceError `path_escape` /
 * `invalid_path`.
 */
export function normalizeRelative(input: string, absoluteRoot?: string): string {
  checkPathCharacters(input);
  let path = input.replaceAll("\\", "/").trim();
  if (path === "~" || path.startsWith("~/")) {
    throw new WorkspaceError(
      "path_escape",
      input,
      `Path ${JSON.stringify(input)} points into the home directory, outside the workspace. Use a path relative to the workspace root.`,
    );
  }
  if (/^[A-Za-z]:\//.test(path)) {
    throw new WorkspaceError("path_escape", input, `Path ${JSON.stringify(input)} is outside the workspace.`);
  }
  if (path.startsWith("/")) {
    if (absoluteRoot !== undefined) {
      const root = absoluteRoot.endsWith("/") ? absoluteRoot : `${absoluteRoot}/`;
      if (path === absoluteRoot || `${path}/` === root) path = "";
      else if (path.startsWith(root)) path = path.slice(root.length);
      else {
        throw new WorkspaceError(
          "path_escape",
          input,
          `Path ${JSON.stringify(input)} is outside the workspace (${absoluteRoot}). Use a path inside it.`,
        );
      }
    } else {
      path = path.replace(/^\/+/, "");
    }
  }
  const out: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (out.length === 0) {
        throw new WorkspaceError(
          "path_escape",
          input,
          `Path ${JSON.stringify(input)} climbs above the workspace root with "..". Use a path inside the workspace.`,
        );
      }
      out.pop();
      continue;
    }
    out.push(segment);
  }
  return out.join("/");
}

/** The parent of a workspace-relative path ("" for top-level entries and the root). */
export function parentOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i < 0 ? "" : rel.slice(0, i);
}

/** The last segment of a workspace-relative path. */
export function baseName(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i < 0 ? rel : rel.slice(i + 1);
}

/** Joins a workspace-relative directory and a child name. */
export function joinRel(dir: string, name: string): string {
  return dir === "" ? name : `${dir}/${name}`;
}
