/** What an MCP tool result becomes for the model: text and image parts, nothing lost silently. */
import type { CallToolResult, ContentBlock } from "@modelcontextprotocol/client";
import type { ToolOutput } from "../protocol/index.ts";
import type { ToolContext } from "../tool/define.ts";

type Part = Exclude<ToolOutput, string>[number];

/**
 * Maps a `tools/call` result to a tool output. Text stays text; images become image parts;
 * audio (which no provider accepts in a tool output) and binary resources are saved to the
 * engine's artifact store and named in a text line; resource links become a line telling the
 * model how to read them with `read_mcp_resource`. A result with `structuredContent` and no
 * text gets the JSON as text, so the model always sees the data.
 */
export async function toToolOutput(
  server: string,
  result: CallToolResult,
  ctx: Pick<ToolContext, "artifacts" | "threadId" | "callId">,
): Promise<{ output: ToolOutput; isError: boolean }> {
  const parts: Part[] = [];
  for (const block of result.content ?? []) parts.push(...(await blockParts(server, block, ctx)));
  const hasText = parts.some((p) => p.type === "text" && p.text !== "");
  if (!hasText && result.structuredContent !== undefined)
    parts.push({ type: "text", text: JSON.stringify(result.structuredContent) });
  const isError = result.isError === true;
  if (parts.every((p) => p.type === "text")) {
    const text = parts.map((p) => (p as { text: string }).text).join("\n");
    return { output: text, isError };
  }
  return { output: parts, isError };
}

async function blockParts(
  server: string,
  block: ContentBlock,
  ctx: Pick<ToolContext, "artifacts" | "threadId" | "callId">,
): Promise<Part[]> {
  switch (block.type) {
    case "text":
      return [{ type: "text", text: block.text }];
    case "image":
      return [{ type: "image", mediaType: block.mimeType, data: block.data }];
    case "audio":
      return [{ type: "text", text: await saveBinary("audio", block.mimeType, block.data, ctx) }];
    case "resource_link": {
      const mime = block.mimeType ? `, ${block.mimeType}` : "";
      const about = block.description ? `: ${block.description}` : "";
      return [
        {
          type: "text",
          text: `[resource ${block.name} <${block.uri}>${mime}${about}] read it with read_mcp_resource {"server":"${server}","uri":"${block.uri}"}`,
        },
      ];
    }
    case "resource": {
      const r = block.resource;
      if ("text" in r && typeof r.text === "string")
        return [{ type: "text", text: `[resource <${r.uri}>]\n${r.text}` }];
      const blob = (r as { blob?: string }).blob ?? "";
      const mime = r.mimeType ?? "application/octet-stream";
      if (mime.startsWith("image/")) return [{ type: "image", mediaType: mime, data: blob }];
      return [
        { type: "text", text: `[resource <${r.uri}>] ${await saveBinary("resource", mime, blob, ctx)}` },
      ];
    }
    default:
      return [{ type: "text", text: `[unsupported content: ${JSON.stringify(block).slice(0, 200)}]` }];
  }
}

async function saveBinary(
  kind: string,
  mime: string,
  base64: string,
  ctx: Pick<ToolContext, "artifacts" | "threadId" | "callId">,
): Promise<string> {
  const bytes = Math.floor((base64.length * 3) / 4);
  const size = bytes >= 1024 ? `${Math.round(bytes / 1024)} KB` : `${bytes} bytes`;
  const saved = ctx.artifacts
    ? await ctx.artifacts
        .save(ctx.threadId, base64, { tool: `mcp:${kind}`, callId: ctx.callId })
        .catch(() => undefined)
    : undefined;
  return saved
    ? `[${kind} ${mime}, ${size}, kept as artifact ${saved.id} (base64)]`
    : `[${kind} ${mime}, ${size}: not shown, the model cannot take ${kind} here]`;
}

/** A model-readable description of an error thrown by an MCP call. */
export function callError(server: string, tool: string, message: string): { output: string; isError: true } {
  return { output: `MCP server "${server}" could not run ${tool}: ${message}`, isError: true };
}
