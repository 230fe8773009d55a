import { z } from "zod";
import { defineTool, type Tool } from "../../define.ts";
import { DEFAULT_MAX_TOOL_OUTPUT_CHARS } from "../../output-limit.ts";
import { truncateMiddle } from "../../truncate.ts";
import { loadDescription } from "../describe.ts";
import { type BuiltinEnv, failure } from "../env.ts";
import { numberLines, splitLines } from "../text.ts";

const Input = z.object({
  id: z.string().min(1).describe("Artifact id (art_...)."),
  offset: z.number().int().min(1).optional().describe("First line (1-based). Default 1."),
  limit: z.number().int().min(1).max(5000).optional().describe("Lines to read. Default 500."),
  pattern: z.string().optional().describe("Only lines matching this regular expression."),
});

/** `read_artifact`: reads back the full output of a truncated tool call. */
export function readArtifactTool(env: {
  readonly artifacts: BuiltinEnv["artifacts"];
  readonly options: { readonly maxOutputChars?: number | undefined };
}): Tool<z.output<typeof Input>> {
  const maxChars = env.options.maxOutputChars ?? DEFAULT_MAX_TOOL_OUTPUT_CHARS;
  return defineTool({
    name: "read_artifact",
    description: loadDescription(import.meta.url),
    schema: Input,
    readOnly: true,
    async execute(input, ctx) {
      const store = env.artifacts ?? ctx.artifacts;
      const content = store ? await store.read(ctx.threadId, input.id) : undefined;
      if (content === undefined)
        return failure(`Artifact ${input.id} not found (unknown id, or no longer kept).`);
      const lines = splitLines(content);
      let re: RegExp | undefined;
      try {
        re = input.pattern ? new RegExp(input.pattern) : undefined;
      } catch (err) {
        return failure(`Invalid pattern: ${(err as Error).message}`);
      }
      const first = input.offset ?? 1;
      const limit = input.limit ?? 500;
      let out: string;
      if (re) {
        const hits = lines
          .flatMap((l, i) => (i + 1 >= first && re.test(l) ? [`${i + 1}\t${l}`] : []))
          .slice(0, limit);
        out = hits.length === 0 ? `No lines match /${input.pattern}/.` : hits.join("\n");
      } else {
        if (first > Math.max(lines.length, 1))
          return failure(`Artifact ${input.id} has ${lines.length} lines; offset ${first} is past the end.`);
        const shown = lines.slice(first - 1, first - 1 + limit);
        out = `${numberLines(shown, first, 4000)}\n[Lines ${first}-${first + shown.length - 1} of ${lines.length}]`;
      }
      // Never create artifacts of artifacts: cut instead, and say how to narrow.
      return truncateMiddle(
        out,
        maxChars,
        (c) => `\n[... ${c} characters omitted: use a smaller limit or a pattern ...]\n`,
      ).text;
    },
  });
}
