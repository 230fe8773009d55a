/** `list_mcp_resources` and `read_mcp_resource`: the model's way to MCP servers' resources. */
import { z } from "zod";
import { describeError } from "../errors.ts";
import { defineTool, type Tool } from "../tool/define.ts";
import type { McpConnection } from "./connection.ts";
import { toToolOutput } from "./results.ts";

/** The names of the resource tools. */
export const RESOURCE_TOOL_NAMES = ["list_mcp_resources", "read_mcp_resource"] as const;

const ListInput = z.object({
  server: z.string().optional().describe("Only this server's resources (default: every server)."),
});
const ReadInput = z.object({
  server: z.string().describe("The MCP server that has the resource."),
  uri: z.string().min(1).describe("The resource URI, as listed or linked."),
});

/** Builds the two resource tools over the connections `lookup` returns (by server name). */
export function resourceTools(lookup: () => ReadonlyMap<string, McpConnection>): Tool[] {
  const list = defineTool({
    name: "list_mcp_resources",
    description:
      "Lists the resources (files, records, documents) that connected MCP servers offer, with their URIs. Read one with read_mcp_resource.",
    schema: ListInput,
    readOnly: true,
    async execute(input, ctx) {
      const conns = [...lookup().values()].filter(
        (c) => input.server === undefined || c.name === input.server,
      );
      if (conns.length === 0) return { output: `No MCP server named "${input.server}".`, isError: true };
      const lines: string[] = [];
      for (const conn of conns) {
        try {
          const resources = await conn.listResources(ctx.signal);
          for (const r of resources)
            lines.push(
              `${conn.name}\t${r.uri}\t${r.name}${r.mimeType ? `\t${r.mimeType}` : ""}${r.description ? `\t${r.description}` : ""}`,
            );
        } catch (err) {
          lines.push(`${conn.name}\t(unavailable: ${describeError(err)})`);
        }
      }
      return lines.length > 0 ? `server\turi\tname\tmime\tdescription\n${lines.join("\n")}` : "No resources.";
    },
  });
  const read = defineTool({
    name: "read_mcp_resource",
    description:
      "Reads one resource of an MCP server by URI (as listed by list_mcp_resources or linked in a tool result).",
    schema: ReadInput,
    readOnly: true,
    async execute(input, ctx) {
      const conn = lookup().get(input.server);
      if (!conn) return { output: `No MCP server named "${input.server}".`, isError: true };
      try {
        const result = await conn.readResource(input.uri, ctx.signal);
        const content = result.contents.map((c) =>
          "text" in c && typeof c.text === "string"
            ? { type: "text" as const, text: c.text }
            : { type: "resource" as const, resource: c },
        );
        return await toToolOutput(conn.name, { content } as never, ctx);
      } catch (err) {
        return {
          output: `Could not read ${input.uri} from MCP server "${input.server}": ${describeError(err)}`,
          isError: true,
        };
      }
    },
  });
  return [list as Tool, read as Tool];
}
