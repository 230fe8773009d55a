// MCP client: an MCP server's tools inside a Taifeng engine, with the simulator as the model
// (no API key). The server is the official reference server, started over stdio.
// Run: node examples/mcp-client.ts
import { createRequire } from "node:module";
import { AgentEngine, SimClient, toolOutputText } from "../src/index.ts";
import { McpManager, parseMcpServers } from "../src/mcp/index.ts";

// 1. Servers in Claude Code's .mcp.json shape (loadMcpConfig reads the files; here, inline).
const everything = createRequire(import.meta.url).resolve(
  "@modelcontextprotocol/server-everything/dist/index.js",
);
const mcp = await McpManager.open({
  servers: parseMcpServers(
    { everything: { command: process.execPath, args: [everything, "stdio"] } },
    "example",
  ),
});
for (const s of mcp.status()) console.log(`[mcp] ${s.name}: ${s.state.status}, ${s.tools.length} tools`);

// 2. The model calls two of the server's tools, then answers from their outputs.
const model = new SimClient({
  script: [
    {
      toolCalls: [
        { name: "mcp__everything__get-sum", arguments: { a: 19, b: 23 } },
        { name: "mcp__everything__echo", arguments: { message: "hello from Taifeng" } },
      ],
    },
    (request) => {
      const outputs = request.items.flatMap((i) =>
        i.type === "function_call_output" ? [toolOutputText(i.output)] : [],
      );
      return { text: `The server said: ${outputs.join(" / ")}` };
    },
  ],
});

// 3. The MCP tools join the engine's tools and are refreshed at every turn boundary.
const engine = await AgentEngine.open({ model, ...mcp.engineOptions() });
const id = engine.submit("Add 19 and 23, then say hello.");
for await (const ev of engine.subscribe(id)) {
  if (ev.msg.type === "tool_call_started")
    console.log(`[tool] ${ev.msg.name} ${JSON.stringify(ev.msg.input)}`);
  if (ev.msg.type === "tool_call_completed") console.log(`  -> ${toolOutputText(ev.msg.output)}`);
  if (ev.msg.type === "turn_completed") console.log(`[assistant] ${ev.msg.text}`);
}
await engine.close();
await mcp.close();
