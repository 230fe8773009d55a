import { z } from "zod";
import { joinRel } from "../../../workspace/paths.ts";
import { defineTool, type Tool } from "../../define.ts";
import { loadDescription } from "../describe.ts";
import { type BuiltinEnv, failure, workspaceFailure } from "../env.ts";
import { IgnoreRules, SUMMARIZED } from "../ignore-rules.ts";

const Input = z.object({
  path: z.string().optional().describe("Directory to list. Default: the workspace root."),
  depth: z.number().int().min(1).max(20).optional().describe("Levels to descend. Default 3."),
  limit: z.number().int().min(1).max(5000).optional().describe("Most entries shown. Default 500."),
  include_ignored: z.boolean().optional().describe("Also show .gitignore'd entries."),
});

/** `list_files`: respects .gitignore, capped, summarizes node_modules/.git instead of expanding them. */
export function listFilesTool(env: BuiltinEnv): Tool<z.output<typeof Input>> {
  return defineTool({
    name: "list_files",
    description: loadDescription(import.meta.url),
    schema: Input,
    readOnly: true,
    permission: { rule: "Read", subjects: (input) => [(input as { path?: string }).path ?? "."] },
    async execute(input, ctx) {
      const ws = env.workspace(ctx);
      const depth = input.depth ?? 3;
      const limit = input.limit ?? 500;
      try {
        const start = ws.resolve(input.path ?? ".");
        const stat = await ws.stat(start, ctx.signal);
        if (!stat) return failure(`Directory not found: ${input.path}.`);
        if (stat.kind === "file") return `${start} is a file.`;
        const rules = new IgnoreRules(ws);
        // Rules of the directories above the starting point apply too.
        const parts = start === "" ? [] : start.split("/");
        for (let k = 0; k <= parts.length; k++) await rules.load(parts.slice(0, k).join("/"), ctx.signal);
        const shown: string[] = [];
        let hidden = 0;
        let more = 0;
        let level: string[] = [start];
        for (let d = 1; d <= depth && level.length > 0; d++) {
          const next: string[] = [];
          for (const dir of level) {
            ctx.signal.throwIfAborted();
            await rules.load(dir, ctx.signal);
            for (const entry of await ws.list(dir, ctx.signal)) {
              const rel = joinRel(dir, entry.name);
              const isDir = entry.kind === "dir";
              if (!input.include_ignored && rules.ignores(rel, isDir)) {
                hidden++;
                continue;
              }
              if (shown.length >= limit) {
                more++;
                continue;
              }
              if (isDir && SUMMARIZED.has(entry.name) && rel !== start) {
                const count = (await ws.list(rel, ctx.signal).catch(() => [])).length;
                shown.push(`${rel}/ (${count} entries, not expanded)`);
                continue;
              }
              shown.push(isDir ? `${rel}/` : rel);
              if (isDir) next.push(rel);
            }
          }
          level = next;
        }
        shown.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        const notes: string[] = [];
        if (more > 0) notes.push(`[${more} more entries not shown: raise limit or list a subdirectory]`);
        if (hidden > 0) notes.push(`[${hidden} entries ignored by .gitignore not shown]`);
        if (shown.length === 0) return [`${start || "."} is empty.`, ...notes].join("\n");
        return [...shown, ...notes].join("\n");
      } catch (err) {
        return workspaceFailure(err);
      }
    },
  });
}
