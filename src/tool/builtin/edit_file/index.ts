import { z } from "zod";
import { introducedMasks, maskRefusal } from "../../../redact/redactor.ts";
import { defineTool, type Tool } from "../../define.ts";
import { loadDescription } from "../describe.ts";
import { type BuiltinEnv, failure, workspaceFailure } from "../env.ts";
import { decodeText, encodeText } from "../text.ts";

const Input = z.object({
  path: z.string().min(1).describe("File path, relative to the workspace root."),
  old_string: z.string().describe("The exact text to replace."),
  new_string: z.string().describe("The replacement text."),
  replace_all: z.boolean().optional().describe("Replace every occurrence instead of requiring exactly one."),
});

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < index; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

function occurrences(text: string, needle: string): number[] {
  const out: number[] = [];
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + needle.length)) out.push(i);
  return out;
}

/** Why `old_string` was not found, with a hint the model can act on. */
function notFound(rel: string, text: string, old: string): string {
  let hint = "";
  if (/^\s*\d+\t/m.test(old))
    hint = " It looks like it contains line-number prefixes from read_file; remove them.";
  else {
    const squash = (s: string) => s.replace(/\s+/g, " ").trim();
    const firstLine = squash(old.split("\n").find((l) => l.trim() !== "") ?? "");
    const lines = text.split("\n");
    const near =
      firstLine === ""
        ? -1
        : lines.findIndex((l) => squash(l) === firstLine || squash(l).includes(firstLine));
    if (near >= 0)
      hint = ` A similar line exists at line ${near + 1} but the whitespace or the following lines differ; copy the text exactly from read_file.`;
  }
  return `old_string was not found in ${rel}.${hint} Read the file again if you are unsure of its current content.`;
}

/** `edit_file`: exact replacement with a uniqueness check, under the read-before-write contract. */
export function editFileTool(env: BuiltinEnv): Tool<z.output<typeof Input>> {
  return defineTool({
    name: "edit_file",
    description: loadDescription(import.meta.url),
    schema: Input,
    permission: { rule: "Edit", field: "path" },
    async execute(input, ctx) {
      if (input.old_string === "") return failure("old_string is empty. To create a file use write_file.");
      if (input.old_string === input.new_string)
        return failure("old_string and new_string are identical; nothing would change.");
      const ws = env.workspace(ctx);
      try {
        const rel = ws.resolve(input.path);
        const stat = await ws.stat(rel, ctx.signal);
        if (!stat) return failure(`File not found: ${input.path}. To create it use write_file.`);
        const bytes = await ws.readFile(rel, ctx.signal);
        const check = env.tracker.check(ctx.threadId, ws.root, rel, bytes);
        if (!check.ok) return failure(check.message);
        const text = decodeText(bytes);
        const masks = introducedMasks(input.new_string, `${input.old_string}\n${text}`);
        if (masks.length > 0) return failure(maskRefusal(rel, masks));
        // Files with CRLF endings: match the model's LF text against them.
        const crlf = text.includes("\r\n") && !input.old_string.includes("\r");
        const old = crlf ? input.old_string.replaceAll("\n", "\r\n") : input.old_string;
        const replacement = crlf ? input.new_string.replaceAll("\n", "\r\n") : input.new_string;
        const found = occurrences(text, old);
        if (found.length === 0) return failure(notFound(rel, text, input.old_string));
        if (found.length > 1 && !input.replace_all) {
          const where = found
            .slice(0, 10)
            .map((i) => lineOf(text, i))
            .join(", ");
          return failure(
            `old_string matches ${found.length} places in ${rel} (lines ${where}). Include more surrounding context to make it unique, or set replace_all to change them all.`,
          );
        }
        const updated = input.replace_all
          ? text.split(old).join(replacement)
          : text.replace(old, () => replacement);
        const content = encodeText(updated);
        await ws.commit([{ path: rel, content }], ctx.signal);
        env.tracker.record(ctx.threadId, ws.root, rel, content);
        const lines = found.map((i) => lineOf(text, i));
        return found.length === 1
          ? `Edited ${rel}: replaced 1 occurrence at line ${lines[0]}.`
          : `Edited ${rel}: replaced ${found.length} occurrences (lines ${lines.slice(0, 10).join(", ")}${found.length > 10 ? ", ..." : ""}).`;
      } catch (err) {
        return workspaceFailure(err);
      }
    },
  });
}
