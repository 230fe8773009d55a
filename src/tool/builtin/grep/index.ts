import { z } from "zod";
import { defineTool, type Tool } from "../../define.ts";
import { loadDescription } from "../describe.ts";
import { type BuiltinEnv, failure, workspaceFailure } from "../env.ts";
import { ripgrepPath, type SearchRequest, searchWithJs, searchWithRipgrep } from "./search.ts";

const Input = z.object({
  pattern: z.string().min(1).describe("Regular expression to search for."),
  path: z.string().optional().describe("File or directory to search. Default: the workspace root."),
  glob: z.string().optional().describe('Only search files matching this glob, e.g. "*.ts".'),
  output: z.enum(["content", "files", "count"]).optional().describe("content (default), files or count."),
  ignore_case: z.boolean().optional(),
  context: z
    .number()
    .int()
    .min(0)
    .max(10)
    .optional()
    .describe("Lines of context around matches (content only)."),
  max_results: z.number().int().min(1).max(2000).optional().describe("Most result lines. Default 200."),
});

/** `grep`: ripgrep (from @vscode/ripgrep) on local workspaces, a JavaScript search elsewhere. */
export function grepTool(
  env: BuiltinEnv,
  options: { useRipgrep?: boolean } = {},
): Tool<z.output<typeof Input>> {
  return defineTool({
    name: "grep",
    description: loadDescription(import.meta.url),
    schema: Input,
    readOnly: true,
    permission: { rule: "Read", subjects: (input) => [(input as { path?: string }).path ?? "."] },
    async execute(input, ctx) {
      const ws = env.workspace(ctx);
      try {
        const req: SearchRequest = {
          pattern: input.pattern,
          path: ws.resolve(input.path ?? "."),
          glob: input.glob,
          ignoreCase: input.ignore_case ?? false,
          output: input.output ?? "content",
          context: input.context ?? 0,
          maxResults: input.max_results ?? 200,
        };
        const root = ws.localPath("");
        const rg = options.useRipgrep === false ? null : ripgrepPath();
        if (root !== undefined && (await ws.stat(req.path, ctx.signal)) === undefined) {
          return failure(`Path not found: ${input.path}.`);
        }
        const result =
          root !== undefined && rg !== null
            ? await searchWithRipgrep(rg, root, req, ctx.signal)
            : await searchWithJs(ws, req, ctx.signal);
        if (!result.ok) return failure(result.message);
        if (result.lines.length === 0)
          return `No matches for /${input.pattern}/ in ${req.path === "" ? "the workspace" : req.path}.`;
        const out = result.lines.join("\n");
        return result.capped
          ? `${out}\n[Stopped at ${req.maxResults} results: narrow the pattern, path or glob, or raise max_results.]`
          : out;
      } catch (err) {
        return workspaceFailure(err);
      }
    },
  });
}
