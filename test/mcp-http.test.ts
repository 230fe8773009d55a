import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer, request as httpRequest, type Server } from "node:http";
import { join } from "node:path";
import { McpServer, WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { McpManager } from "../src/mcp/manager.ts";
import { nodeListener, serveMcpHttp } from "../src/mcp/serve-http.ts";
import { SkillRuntime } from "../src/skill/runtime.ts";
import { builtinTools } from "../src/tool/builtin/index.ts";
import { ROOT } from "./helpers/cli.ts";
import { entries, startEverythingHttp } from "./helpers/mcp.ts";

// MCP over Streamable HTTP: the reference server, a server that forgets its sessions, and
// Taifeng's own server with its token and DNS-rebinding checks.

describe("MCP client over Streamable HTTP (server-everything)", () => {
  let everything: Awaited<ReturnType<typeof startEverythingHttp>>;
  let mcp: McpManager;
  beforeAll(async () => {
    everything = await startEverythingHttp();
    mcp = await McpManager.open({ servers: entries({ e: { type: "http", url: everything.url } }) });
  }, 60_000);
  afterAll(async () => {
    await mcp?.close();
    await everything?.stop();
  });

  it("connects, lists and calls tools with progress", async () => {
    expect(mcp.status()[0]?.state).toMatchObject({ status: "ready", transport: "http" });
    expect(mcp.tools().map((t) => t.name)).toContain("mcp__e__get-sum");
    const result = await mcp.call("e", "get-sum", { a: 20, b: 22 });
    expect(result.content).toEqual([{ type: "text", text: "The sum of 20 and 22 is 42." }]);
  });
});

/** A sessionful Streamable HTTP server whose sessions can be dropped (as after a server restart). */
async function forgetfulServer(): Promise<{
  url: string;
  forget: () => void;
  close: () => Promise<void>;
  sessions: () => number;
}> {
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  let created = 0;
  const server: Server = createServer(
    nodeListener(async (request) => {
      const sid = request.headers.get("mcp-session-id");
      if (sid) {
        const known = sessions.get(sid);
        if (!known)
          return new Response(
            JSON.stringify({
              jsonrpc: "2.0",
              error: { code: -32001, message: "Session not found" },
              id: null,
            }),
            {
              status: 404,
              headers: { "content-type": "application/json" },
            },
          );
        return known.handleRequest(request);
      }
      const transport = new WebStandardStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          created++;
          sessions.set(id, transport);
        },
      });
      const mcp = new McpServer({ name: "forgetful", version: "1.0.0" });
      mcp.registerTool("ok", { inputSchema: z.object({ text: z.string() }) }, async ({ text }) => ({
        content: [{ type: "text", text: `ok: ${text}` }],
      }));
      await mcp.connect(transport);
      return transport.handleRequest(request);
    }),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    forget: () => sessions.clear(),
    sessions: () => created,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe("expired HTTP sessions", () => {
  it("reconnects transparently on 404 and retries the call once", async () => {
    const srv = await forgetfulServer();
    const mcp = await McpManager.open({
      servers: entries({ f: { type: "http", url: srv.url, protocol: "legacy" } }),
    });
    try {
      expect((await mcp.call("f", "ok", { text: "one" })).content).toEqual([
        { type: "text", text: "ok: one" },
      ]);
      expect(srv.sessions()).toBe(1);
      srv.forget();
      expect((await mcp.call("f", "ok", { text: "two" })).content).toEqual([
        { type: "text", text: "ok: two" },
      ]);
      expect(srv.sessions()).toBe(2);
      expect(mcp.status()[0]?.stderr).toContain("session expired (HTTP 404): reconnecting");
    } finally {
      await mcp.close();
      await srv.close();
    }
  });
});

describe("taifeng's MCP server over HTTP", () => {
  let served: Awaited<ReturnType<typeof serveMcpHttp>>;
  let skills: SkillRuntime;
  const tools = builtinTools({ only: ["read_file", "write_file"] });
  beforeAll(async () => {
    skills = await SkillRuntime.open({ dirs: [join(ROOT, "examples/skills")] });
    served = await serveMcpHttp({
      port: 0,
      token: "s3cret",
      skills,
      tools: tools.tools,
      engine: {
        model: new SimClient({ script: [{ text: "A Headline From The Skill" }], onExhausted: "repeat_last" }),
        cwd: ROOT,
        permissions: { rules: { allow: ["Read"] } },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await served?.close();
    await tools.close();
    skills?.close();
  });

  it("serves skills as tools run by a real engine, and tools under the permission rules (2026-07-28 era)", async () => {
    const mcp = await McpManager.open({
      servers: entries({
        tf: { type: "http", url: served.url, headers: { Authorization: "Bearer s3cret" } },
      }),
    });
    try {
      expect(mcp.status()[0]?.state).toMatchObject({ status: "ready", protocolVersion: "2026-07-28" });
      expect(mcp.tools().map((t) => t.name)).toEqual(
        expect.arrayContaining([
          "mcp__tf__headline",
          "mcp__tf__read_file",
          "mcp__tf__write_file",
          "read_mcp_resource",
        ]),
      );
      const headline = await mcp.call("tf", "headline", { input: "anything" });
      expect(headline.content).toEqual([{ type: "text", text: "A Headline From The Skill" }]);
      const read = await mcp.call("tf", "read_file", { path: "package.json", limit: 1 });
      expect(read.isError).toBeFalsy();
      // No rule allows edits and nobody can approve here: denied, nothing written.
      const write = await mcp.call("tf", "write_file", { path: "should-not-exist.txt", content: "x" });
      expect(write.isError).toBe(true);
      expect(JSON.stringify(write.content)).toContain(
        "no one can approve it in this session, so it was not run",
      );
      expect(existsSync(join(ROOT, "should-not-exist.txt"))).toBe(false);
      const resource = await mcp.servers.get("tf")?.readResource("skill://headline/SKILL.md");
      expect(JSON.stringify(resource?.contents)).toContain("headline");
    } finally {
      await mcp.close();
    }
  });

  it("refuses requests without the bearer token, and requests with a foreign Host or Origin", async () => {
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" });
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    expect((await fetch(served.url, { method: "POST", headers, body })).status).toBe(401);
    const auth = { ...headers, authorization: "Bearer s3cret" };
    const evil = await fetch(served.url, {
      method: "POST",
      headers: { ...auth, origin: "http://evil.example" },
      body,
    });
    expect(evil.status).toBe(403);
    const port = new URL(served.url).port;
    const rebinding = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        {
          host: "127.0.0.1",
          port: Number(port),
          path: "/mcp",
          method: "POST",
          headers: { ...auth, host: `evil.example:${port}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    expect(rebinding).toBe(403);
  });
});
