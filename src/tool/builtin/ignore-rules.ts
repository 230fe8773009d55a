import ignore, { type Ignore } from "ignore";
import { isWorkspaceError, type Workspace } from "../../workspace/types.ts";
import { decodeText } from "./text.ts";

/** Directories summarized instead of expanded (their size would drown the listing). */
export const SUMMARIZED = new Set(["node_modules", ".git", ".venv", "__pycache__"]);

/**
 * `.gitignore` rules of a workspace, loaded per directory as a walk reaches it; a path is
 * ignored when any ancestor directory's rules ignore it (relative to that directory).
 */
export class IgnoreRules {
  private readonly ws: Workspace;
  private readonly byDir = new Map<string, Ignore | null>();

  constructor(ws: Workspace) {
    this.ws = ws;
  }

  /** Loads the `.gitignore` of `dir` (workspace-relative), once. */
  async load(dir: string, signal?: AbortSignal): Promise<void> {
    if (this.byDir.has(dir)) return;
    this.byDir.set(dir, null);
    const path = dir === "" ? ".gitignore" : `${dir}/.gitignore`;
    try {
      const text = decodeText(await this.ws.readFile(path, signal));
      this.byDir.set(dir, ignore().add(text));
    } catch (err) {
      if (!isWorkspaceError(err)) throw err;
    }
  }

  /** True when `rel` (a file, or a directory when `dir`) is ignored. */
  ignores(rel: string, dir: boolean): boolean {
    for (const [base, rules] of this.byDir) {
      if (!rules) continue;
      if (base !== "" && !rel.startsWith(`${base}/`)) continue;
      const sub = base === "" ? rel : rel.slice(base.length + 1);
      if (sub !== "" && rules.ignores(dir ? `${sub}/` : sub)) return true;
    }
    return false;
  }
}

/** A glob matcher with .gitignore semantics (`*.ts` matches at any depth, `src/**` a subtree). */
export function globMatcher(glob: string): (rel: string) => boolean {
  const rules = ignore().add(glob);
  return (rel) => rules.ignores(rel);
}
