import { z } from "zod";
import { defineTool, type Tool } from "../../define.ts";
import { loadDescription } from "../describe.ts";
import { type BuiltinEnv, failure, workspaceFailure } from "../env.ts";
import { decodeText, formatBytes, imageType, isBinary, numberLines, splitLines } from "../text.ts";

const MAX_LINES = 2000;
const MAX_LINE_CHARS = 2000;
const MAX_IMAGE_BYTES = 5 * 1024 * 1024;
const MAX_TEXT_BYTES = 20 * 1024 * 1024;

const Input = z.object({
  path: z.string().min(1).describe("File path, relative to the workspace root."),
  offset: z.number().int().min(1).optional().describe("First line to read (1-based). Default 1."),
  limit: z.number().int().min(1).max(MAX_LINES).optional().describe(`Lines to read. Default ${MAX_LINES}.`),
});

/** `read_file`: line ranges, images as attachments, binary detection; records the read for safe writes. */
export function readFileTool(env: BuiltinEnv): Tool<z.output<typeof Input>> {
  return defineTool({
    name: "read_file",
    description: loadDescription(import.meta.url),
    schema: Input,
    readOnly: true,
    permission: { rule: "Read", field: "path" },
    async execute(input, ctx) {
      const ws = env.workspace(ctx);
      let rel: string;
      let bytes: Uint8Array;
      try {
        rel = ws.resolve(input.path);
        const stat = await ws.stat(rel, ctx.signal);
        if (!stat) return failure(`File not found: ${input.path}. Use list_files to see what exists.`);
        if (stat.kind === "dir")
          return failure(`${input.path} is a directory. Use list_files to see its contents.`);
        if (stat.size > MAX_TEXT_BYTES) {
          return failure(
            `${input.path} is ${formatBytes(stat.size)}, too large to read. Use grep to find the part you need.`,
          );
        }
        bytes = await ws.readFile(rel, ctx.signal);
      } catch (err) {
        return workspaceFailure(err);
      }
      env.tracker.record(ctx.threadId, ws.root, rel, bytes);
      const media = imageType(bytes);
      if (media) {
        if (bytes.byteLength > MAX_IMAGE_BYTES) {
          return failure(
            `${rel} is an image of ${formatBytes(bytes.byteLength)}, above the ${formatBytes(MAX_IMAGE_BYTES)} limit.`,
          );
        }
        return {
          output: [
            { type: "text", text: `Image ${rel} (${media}, ${formatBytes(bytes.byteLength)})` },
            { type: "image", mediaType: media, data: Buffer.from(bytes).toString("base64") },
          ],
        };
      }
      if (isBinary(bytes)) {
        return `${rel} is a binary file (${formatBytes(bytes.byteLength)}); its content is not shown. Use bash tools such as \`file\` or \`xxd | head\` to inspect it.`;
      }
      const lines = splitLines(decodeText(bytes));
      if (lines.length === 0) return `${rel} is empty.`;
      const first = input.offset ?? 1;
      if (first > lines.length)
        return failure(`${rel} has ${lines.length} lines; offset ${first} is past the end.`);
      const shown = lines.slice(first - 1, first - 1 + (input.limit ?? MAX_LINES));
      const last = first + shown.length - 1;
      let out = numberLines(shown, first, MAX_LINE_CHARS);
      if (first > 1 || last < lines.length) {
        out += `\n[Lines ${first}-${last} of ${lines.length}.${last < lines.length ? ` Call read_file with offset ${last + 1} to continue.` : ""}]`;
      }
      return out;
    },
  });
}
