/**
 * The client under test for the official MCP conformance suite (`conformance client
 * --command "node test/conformance/client.ts"`): the suite appends the server URL and names
 * the scenario in MCP_CONFORMANCE_SCENARIO. It connects with Taifeng's MCP client and has a
 * scripted model call every tool the server lists through a real engine, answering every
 * question (elicitation) with an empty form, so the form's defaults apply.
 */
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import { McpManager, parseMcpServers } from "../../src/mcp/index.ts";

const url = process.argv[2];
if (!url) throw new Error("usage: client.ts <server-url>");
const ARGS: Record<string, Record<string, unknown>> = { add_numbers: { a: 2, b: 3 } };

const mcp = await McpManager.open({ servers: parseMcpServers({ s: { type: "http", url } }, "conformance") });
const state = mcp.status()[0]?.state;
process.stderr.write(`server: ${JSON.stringify(state)}\n`);
const tools = mcp.tools().filter((t) => t.name.startsWith("mcp__s__"));
const model = new SimClient({
  script: [
    tools.length > 0
      ? {
          toolCalls: tools.map((t, i) => ({
            id: `c${i}`,
            name: t.name,
            arguments: ARGS[t.name.slice(8)] ?? {},
          })),
        }
      : { text: "no tools" },
    { text: "done" },
  ],
});
const engine = await AgentEngine.open({ model, ...mcp.engineOptions() });
const id = engine.submit("call every tool");
for await (const ev of engine.subscribe(id)) {
  if (ev.msg.type === "user_input_requested")
    engine.submit({ type: "user_input_answer", requestId: ev.msg.requestId, answer: "{}" });
  if (ev.msg.type === "tool_call_completed")
    process.stdout.write(`${ev.msg.name}: ${JSON.stringify(ev.msg.output)}\n`);
}
await engine.close();
await mcp.close();
process.exit(state?.status === "ready" ? 0 : 1);
