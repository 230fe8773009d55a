import { z } from "zod";
import { introducedMasks, maskRefusal } from "../../../redact/redactor.ts";
import { isWorkspaceError } from "../../../workspace/types.ts";
import { defineTool, type Tool } from "../../define.ts";
import { loadDescription } from "../describe.ts";
import { type BuiltinEnv, failure, workspaceFailure } from "../env.ts";
import { decodeText, encodeText, formatBytes } from "../text.ts";

const Input = z.object({
  path: z.string().min(1).describe("File path, relative to the workspace root."),
  content: z.string().describe("The complete new content of the file."),
});

/** `write_file`: creates or replaces a file atomically, under the read-before-write contract. */
export function writeFileTool(env: BuiltinEnv): Tool<z.output<typeof Input>> {
  return defineTool({
    name: "write_file",
    description: loadDescription(import.meta.url),
    schema: Input,
    permission: { rule: "Edit", field: "path" },
    async execute(input, ctx) {
      const ws = env.workspace(ctx);
      try {
        const rel = ws.resolve(input.path);
        let current: Uint8Array | undefined;
        try {
          current = await ws.readFile(rel, ctx.signal);
        } catch (err) {
          if (!isWorkspaceError(err, "not_found")) throw err;
        }
        const check = env.tracker.check(ctx.threadId, ws.root, rel, current);
        if (!check.ok) return failure(check.message);
        const masks = introducedMasks(input.content, current ? decodeText(current) : "");
        if (masks.length > 0) return failure(maskRefusal(rel, masks));
        const content = encodeText(input.content);
        await ws.commit([{ path: rel, content }], ctx.signal);
        env.tracker.record(ctx.threadId, ws.root, rel, content);
        return current === undefined
          ? `Created ${rel} (${formatBytes(content.byteLength)}).`
          : `Wrote ${rel} (${formatBytes(content.byteLength)}, was ${formatBytes(current.byteLength)}).`;
      } catch (err) {
        return workspaceFailure(err);
      }
    },
  });
}
