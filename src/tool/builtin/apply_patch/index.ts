import { z } from "zod";
import { introducedMasks, maskRefusal } from "../../../redact/redactor.ts";
import type { FileChange, Workspace } from "../../../workspace/types.ts";
import { isWorkspaceError } from "../../../workspace/types.ts";
import { defineTool, type Tool, type ToolContext } from "../../define.ts";
import { loadDescription } from "../describe.ts";
import { type BuiltinEnv, failure, workspaceFailure } from "../env.ts";
import { decodeText, encodeText } from "../text.ts";
import { applyHunks } from "./apply.ts";
import { type FilePatch, PatchParseError, parsePatch } from "./parse.ts";

const Input = z.object({
  patch: z.string().min(1).describe("The patch, in unified diff format (see the tool description)."),
});

/** The paths a patch touches (for permission rules); unparseable patches touch nothing known. */
export function patchPaths(patch: string): string[] {
  try {
    return [
      ...new Set(
        parsePatch(patch).flatMap((f) => [f.from, f.to].filter((p): p is string => p !== undefined)),
      ),
    ];
  } catch {
    return [];
  }
}

async function readIfExists(
  ws: Workspace,
  rel: string,
  signal: AbortSignal,
): Promise<Uint8Array | undefined> {
  try {
    return await ws.readFile(rel, signal);
  } catch (err) {
    if (isWorkspaceError(err, "not_found")) return undefined;
    throw err;
  }
}

interface Planned {
  readonly changes: FileChange[];
  readonly summary: string[];
  readonly written: { rel: string; content: Uint8Array }[];
  readonly deleted: string[];
}

/** Computes every file's new content in memory; returns an error message on the first problem. */
async function plan(
  env: BuiltinEnv,
  ws: Workspace,
  files: readonly FilePatch[],
  ctx: ToolContext,
): Promise<Planned | string> {
  const out: Planned = { changes: [], summary: [], written: [], deleted: [] };
  for (const file of files) {
    const from = file.from === undefined ? undefined : ws.resolve(file.from);
    const to = file.to === undefined ? undefined : ws.resolve(file.to);
    if (file.kind === "add") {
      const target = to as string;
      if ((await ws.stat(target, ctx.signal)) !== undefined) {
        return `${target} already exists. To change it, read it and send an update diff ("--- a/${target}" / "+++ b/${target}").`;
      }
      const result = applyHunks(target, "", file.hunks);
      if (!result.ok) return result.message;
      const masks = introducedMasks(result.text, "");
      if (masks.length > 0) return maskRefusal(target, masks);
      const content = encodeText(result.text);
      out.changes.push({ path: target, content });
      out.written.push({ rel: target, content });
      out.summary.push(`A ${target} (+${result.added})`);
      continue;
    }
    const source = from as string;
    const current = await readIfExists(ws, source, ctx.signal);
    if (current === undefined) return `${source} does not exist. Use "--- /dev/null" to create a file.`;
    const check = env.tracker.check(ctx.threadId, ws.root, source, current);
    if (!check.ok) return check.message;
    if (file.kind === "delete") {
      out.changes.push({ path: source, content: null });
      out.deleted.push(source);
      out.summary.push(`D ${source}`);
      continue;
    }
    const result =
      file.hunks.length === 0
        ? { ok: true as const, text: decodeText(current), added: 0, removed: 0 }
        : applyHunks(source, decodeText(current), file.hunks);
    if (!result.ok) return result.message;
    const masks = introducedMasks(result.text, decodeText(current));
    if (masks.length > 0) return maskRefusal(source, masks);
    const content = encodeText(result.text);
    const target = to as string;
    if (file.kind === "rename") {
      if ((await ws.stat(target, ctx.signal)) !== undefined)
        return `Cannot rename ${source} to ${target}: ${target} already exists.`;
      out.changes.push({ path: source, content: null }, { path: target, content });
      out.deleted.push(source);
      out.summary.push(`R ${source} -> ${target} (+${result.added} -${result.removed})`);
    } else {
      out.changes.push({ path: target, content });
      out.summary.push(`M ${target} (+${result.added} -${result.removed})`);
    }
    out.written.push({ rel: target, content });
  }
  return out;
}

/** `apply_patch`: a unified diff over several files, applied atomically. */
export function applyPatchTool(env: BuiltinEnv): Tool<z.output<typeof Input>> {
  return defineTool({
    name: "apply_patch",
    description: loadDescription(import.meta.url),
    schema: Input,
    permission: { rule: "Edit", subjects: (input) => patchPaths((input as { patch: string }).patch) },
    async execute(input, ctx) {
      let files: FilePatch[];
      try {
        files = parsePatch(input.patch);
      } catch (err) {
        if (err instanceof PatchParseError)
          return failure(`The patch could not be parsed. ${err.message}. Nothing was changed.`);
        throw err;
      }
      const ws = env.workspace(ctx);
      try {
        const planned = await plan(env, ws, files, ctx);
        if (typeof planned === "string") return failure(`${planned}\nNothing was changed.`);
        await ws.commit(planned.changes, ctx.signal);
        for (const rel of planned.deleted) env.tracker.forget(ctx.threadId, ws.root, rel);
        for (const w of planned.written) env.tracker.record(ctx.threadId, ws.root, w.rel, w.content);
        return `Applied the patch to ${planned.summary.length} file(s):\n${planned.summary.join("\n")}`;
      } catch (err) {
        return workspaceFailure(err);
      }
    },
  });
}
