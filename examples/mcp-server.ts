// MCP server: Taifeng's skills and chosen built-in tools served over Streamable HTTP, then
// used from an MCP client. The skills run on the simulator (no API key).
// Run: node examples/mcp-server.ts
import { join } from "node:path";
import { builtinTools, SimClient, SkillRuntime } from "../src/index.ts";
import { McpManager, parseMcpServers, serveMcpHttp } from "../src/mcp/index.ts";

const root = join(import.meta.dirname, "..");
const skills = await SkillRuntime.open({ dirs: [join(import.meta.dirname, "skills")] });
const tools = builtinTools({ only: ["read_file"] });

// 1. Serve: port 0 picks a free port; 127.0.0.1 only; Host/Origin checked.
const server = await serveMcpHttp({
  port: 0,
  skills,
  tools: tools.tools,
  engine: {
    model: new SimClient({
      script: [{ text: "Taifeng Serves Skills Over MCP" }],
      onExhausted: "repeat_last",
    }),
    cwd: root,
    // The same permission rules as any engine: read_file is allowed, nothing else is.
    permissions: { rules: { allow: ["Read"] } },
  },
});
console.log(`[server] listening on ${server.url}`);

// 2. Any MCP client can use it; here, Taifeng's own.
const client = await McpManager.open({
  servers: parseMcpServers({ taifeng: { type: "http", url: server.url } }, "example"),
});
const state = client.status()[0]?.state;
console.log(
  `[client] ${state?.status} over ${state?.status === "ready" ? `${state.transport} ${state.protocolVersion}` : "?"}`,
);
console.log(
  `[client] tools: ${client
    .tools()
    .map((t) => t.name)
    .join(", ")}`,
);
const headline = await client.call("taifeng", "headline", {
  input: "Taifeng now speaks MCP in both directions.",
});
console.log(`[headline] ${headline.content.map((c) => (c.type === "text" ? c.text : c.type)).join("")}`);
const file = await client.call("taifeng", "read_file", { path: "package.json", limit: 2 });
console.log(`[read_file] ${file.content.map((c) => (c.type === "text" ? c.text : c.type)).join("")}`);

await client.close();
await server.close();
await tools.close();
skills.close();
