/**
 * The client under test for the official MCP conformance suite (`conformance client
 * --command "node test/conformance/client.ts"`): the suite appends the server URL and names
 * the scenario in MCP_CONFORMANCE_SCENARIO. It connects with Taifeng's MCP client and has a
 * scripted model call every tool the server lists through a real engine, answering every
 * question (elicitation) with an empty form, so the form's defaults apply.
 *
 * Auth scenarios (`auth/...`): the server is configured with `oauth`; when it needs a login,
 * `mcpLogin` runs the real flow (loopback callback on a free port, the suite's authorization
 * page redirects back at once, as a person clicking Allow would), with tokens kept in a
 * temporary folder. A pre-registered client (the scenario's context) is configured by id and
 * secret.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SimClient } from "../../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../../src/loop/engine.ts";
import { McpManager, parseMcpServers } from "../../src/mcp/index.ts";
import { mcpLogin } from "../../src/mcp/login.ts";

const url = process.argv[2];
if (!url) throw new Error("usage: client.ts <server-url>");
const ARGS: Record<string, Record<string, unknown>> = { add_numbers: { a: 2, b: 3 } };
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? "";
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT ?? "{}") as {
  client_id?: string;
  client_secret?: string;
};

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });

const auth = scenario.startsWith("auth/");
const home = auth ? await mkdtemp(join(tmpdir(), "taifeng-conformance-auth-")) : undefined;
const oauth = auth
  ? {
      redirectUrl: `http://127.0.0.1:${await freePort()}/callback`,
      ...(context.client_id ? { clientId: context.client_id } : {}),
      ...(context.client_secret ? { clientSecretEnv: "CONFORMANCE_CLIENT_SECRET" } : {}),
    }
  : undefined;
const mcp = await McpManager.open({
  servers: parseMcpServers({ s: { type: "http", url, ...(oauth ? { oauth } : {}) } }, "conformance"),
  env: { ...process.env, ...(home ? { HOME: home } : {}), CONFORMANCE_CLIENT_SECRET: context.client_secret },
});
// A login is needed when connecting failed for it, or when the server let the handshake
// through and asked for authorization at the first request (a login is then pending).
const browse = async (page: URL) => {
  // The suite's authorization page answers with a redirect back to the callback at once.
  const res = await fetch(page, { redirect: "manual" });
  const location = res.headers.get("location");
  if (!location) throw new Error(`the authorization page answered ${res.status} without a redirect`);
  await fetch(location);
};
const needsLogin = () =>
  auth &&
  (mcp.status()[0]?.state.status !== "ready" || mcp.servers.get("s")?.pendingAuthorization !== undefined);
const login = async () => {
  const done = await mcpLogin(mcp, "s", { onAuthorizationUrl: browse, timeoutMs: 30_000 });
  process.stderr.write(`login: ${JSON.stringify(done)}\n`);
};
// A login is needed when connecting failed for it, or when the server let the handshake
// through and asked for authorization at the first request (a login is then pending).
if (needsLogin()) await login();
const state = mcp.status()[0]?.state;
process.stderr.write(`server: ${JSON.stringify(state)}\n`);
async function callEveryTool(): Promise<void> {
  const engine = await AgentEngine.open({ model: scripted(), ...mcp.engineOptions() });
  const id = engine.submit("call every tool");
  for await (const ev of engine.subscribe(id)) {
    if (ev.msg.type === "user_input_requested")
      engine.submit({ type: "user_input_answer", requestId: ev.msg.requestId, answer: "{}" });
    if (ev.msg.type === "tool_call_completed")
      process.stdout.write(`${ev.msg.name}: ${JSON.stringify(ev.msg.output)}\n`);
  }
  await engine.close();
}

/** Calls every tool of the server that the turn's request offers (the list as of that turn). */
function scripted(): SimClient {
  return new SimClient({
    script: [
      (req) => {
        const tools = req.tools.filter((t) => t.name.startsWith("mcp__s__"));
        if (tools.length === 0) return { text: "no tools" };
        return {
          toolCalls: tools.map((t, i) => ({
            id: `c${i}`,
            name: t.name,
            arguments: ARGS[t.name.slice(8)] ?? {},
          })),
        };
      },
      { text: "done" },
    ],
  });
}

await callEveryTool();
// A call that needed more (a wider scope) failed with the login URL: log in again and retry,
// as a person would.
if (needsLogin()) {
  await login();
  await callEveryTool();
}
await mcp.close();
if (home) await rm(home, { recursive: true, force: true });
process.exit(state?.status === "ready" ? 0 : 1);
