import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HookDefinition } from "../src/hooks/types.ts";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import type { ModelRequest } from "../src/llm/types.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { McpManager } from "../src/mcp/manager.ts";
import type { Event, FunctionCallOutputItem } from "../src/protocol/index.ts";
import { shape } from "./helpers/events.ts";
import { driveTurn } from "./helpers/hitl.ts";
import { entries, nodeServer, serverScript } from "./helpers/mcp.ts";

// The MCP client against the official reference server (stdio), through a real engine.

let mcp: McpManager;

beforeAll(async () => {
  mcp = await McpManager.open({
    servers: entries({ everything: nodeServer(serverScript("server-everything"), ["stdio"]) }),
  });
}, 60_000);

afterAll(async () => {
  await mcp?.close();
});

function outputs(req: ModelRequest): FunctionCallOutputItem[] {
  return req.items.filter((i): i is FunctionCallOutputItem => i.type === "function_call_output");
}

async function engineFor(script: ConstructorParameters<typeof SimClient>[0]["script"], extra = {}) {
  const model = new SimClient({ script });
  const events: Event[] = [];
  const engine = await AgentEngine.open({
    model,
    cwd: "/tmp",
    ...mcp.engineOptions(),
    ...extra,
    listeners: [(ev) => events.push(ev)],
  });
  return { engine, events, model };
}

describe("MCP client against server-everything (stdio)", () => {
  it("exposes the server's tools as mcp__everything__* in name order, with resource tools", () => {
    const status = mcp.status()[0];
    expect(status?.state.status).toBe("ready");
    const names = mcp.tools().map((t) => t.name);
    expect(names).toEqual([...names].sort());
    expect(names).toContain("mcp__everything__echo");
    expect(names).toContain("mcp__everything__get-sum");
    expect(names).toContain("read_mcp_resource");
    // readOnlyHint is only a concurrency hint unless the operator trusts the server.
    const echo = mcp.tools().find((t) => t.name === "mcp__everything__echo");
    expect(echo?.readOnly).toBe(false);
    expect(echo?.concurrencySafe).toBe(true);
  });

  it("runs a turn whose tool calls reach the real server; the transcript holds the real outputs", async () => {
    let seen: string[] = [];
    const { engine } = await engineFor([
      {
        toolCalls: [
          { id: "c1", name: "mcp__everything__echo", arguments: { message: "hello mcp" } },
          { id: "c2", name: "mcp__everything__get-sum", arguments: { a: 2, b: 40 } },
        ],
      },
      (req) => {
        seen = outputs(req).map((o) => String(o.output));
        return { text: "done" };
      },
    ]);
    const events = await driveTurn(engine, "go", () => undefined);
    expect(shape(events).filter((l) => l.startsWith("tool_call"))).toEqual([
      "tool_call_started mcp__everything__echo c1",
      "tool_call_started mcp__everything__get-sum c2",
      "tool_call_completed mcp__everything__echo c1 ok",
      "tool_call_completed mcp__everything__get-sum c2 ok",
    ]);
    expect(seen).toEqual(["Echo: hello mcp", "The sum of 2 and 40 is 42."]);
    await engine.close();
  });

  it("turns progress notifications into tool_call_progress events", async () => {
    const { engine } = await engineFor([
      {
        toolCalls: [
          {
            id: "p1",
            name: "mcp__everything__trigger-long-running-operation",
            arguments: { duration: 0.3, steps: 3 },
          },
        ],
      },
      { text: "done" },
    ]);
    const events = await driveTurn(engine, "go", () => undefined);
    const progress = events
      .filter((e) => e.msg.type === "tool_call_progress")
      .map((e) => (e.msg as { data: unknown }).data);
    expect(progress).toEqual([
      { server: "everything", progress: 1, total: 3, message: undefined },
      { server: "everything", progress: 2, total: 3, message: undefined },
      { server: "everything", progress: 3, total: 3, message: undefined },
    ]);
    await engine.close();
  });

  it("passes images through as image parts and structured content as text", async () => {
    let image: unknown;
    let structured = "";
    const { engine } = await engineFor([
      {
        toolCalls: [
          { id: "i1", name: "mcp__everything__get-tiny-image", arguments: {} },
          { id: "s1", name: "mcp__everything__get-structured-content", arguments: { location: "Chicago" } },
        ],
      },
      (req) => {
        const [img, st] = outputs(req);
        image = img?.output;
        structured = String(st?.output);
        return { text: "done" };
      },
    ]);
    await driveTurn(engine, "go", () => undefined);
    expect(Array.isArray(image)).toBe(true);
    expect((image as { type: string; mediaType?: string }[]).find((p) => p.type === "image")?.mediaType).toBe(
      "image/png",
    );
    expect(JSON.parse(structured)).toHaveProperty("temperature");
    await engine.close();
  });

  it("asks the user for an elicitation through user_input_requested and sends the answer back", async () => {
    let seen = "";
    const { engine } = await engineFor([
      { toolCalls: [{ id: "e1", name: "mcp__everything__trigger-elicitation-request", arguments: {} }] },
      (req) => {
        seen = String(outputs(req)[0]?.output);
        return { text: "done" };
      },
    ]);
    const questions: string[] = [];
    const answers = [
      // Not one of the choices: asked again, saying why.
      JSON.stringify({ name: "Ada Lovelace", untitledSingleSelectEnum: "Sheldon" }),
      JSON.stringify({ name: "Ada Lovelace", check: "yes", integer: 7, untitledSingleSelectEnum: "Joey" }),
    ];
    const events = await driveTurn(engine, "go", (msg) => {
      if (msg.type !== "user_input_requested") return undefined;
      questions.push(msg.question);
      return { type: "user_input_answer", requestId: msg.requestId, answer: answers.shift() ?? "cancel" };
    });
    expect(
      shape(events).filter((l) => !l.startsWith("model_call") && !l.startsWith("assistant_text")),
    ).toEqual([
      "turn_started",
      'user_message input "go"',
      "tool_call_started mcp__everything__trigger-elicitation-request e1",
      "user_input_requested",
      "user_input_requested",
      "tool_call_completed mcp__everything__trigger-elicitation-request e1 ok",
      'assistant_message "done"',
      "turn_completed",
    ]);
    expect(questions[0]).toMatch(/^MCP server "everything" asks: /);
    expect(questions[0]).toContain("- name (string, required): Your full, legal name");
    expect(questions[1]).toMatch(
      /^That answer did not fit the form \(untitledSingleSelectEnum must be one of Monica, /,
    );
    expect(seen).toContain("Ada Lovelace");
    expect(seen).toContain('"check": true');
    await engine.close();
  });

  it("declines an elicitation when the user says decline", async () => {
    let seen = "";
    const { engine } = await engineFor([
      { toolCalls: [{ id: "e2", name: "mcp__everything__trigger-elicitation-request", arguments: {} }] },
      (req) => {
        seen = String(outputs(req)[0]?.output);
        return { text: "done" };
      },
    ]);
    await driveTurn(engine, "go", (msg) =>
      msg.type === "user_input_requested"
        ? { type: "user_input_answer", requestId: msg.requestId, answer: "decline" }
        : undefined,
    );
    expect(seen.toLowerCase()).toContain("decline");
    await engine.close();
  });

  it("runs a sampling request on the engine's model after the user approves it", async () => {
    let seen = "";
    const { engine } = await engineFor([
      {
        toolCalls: [
          {
            id: "s1",
            name: "mcp__everything__trigger-sampling-request",
            arguments: { prompt: "Say hi", maxTokens: 50 },
          },
        ],
      },
      { text: "a sampled answer" },
      (req) => {
        seen = String(outputs(req)[0]?.output);
        return { text: "done" };
      },
    ]);
    const asked: string[] = [];
    await driveTurn(engine, "go", (msg) => {
      if (msg.type !== "user_input_requested") return undefined;
      asked.push(msg.question);
      return { type: "user_input_answer", requestId: msg.requestId, answer: "allow" };
    });
    expect(asked[0]).toMatch(/asks to use the model/);
    expect(seen).toContain("a sampled answer");
    await engine.close();
  });

  it("reads a linked resource with read_mcp_resource", async () => {
    let seen = "";
    const { engine } = await engineFor([
      {
        toolCalls: [
          {
            id: "r1",
            name: "read_mcp_resource",
            arguments: { server: "everything", uri: "demo://resource/static/document/architecture.md" },
          },
        ],
      },
      (req) => {
        seen = String(outputs(req)[0]?.output);
        return { text: "done" };
      },
    ]);
    await driveTurn(engine, "go", () => undefined);
    expect(seen.length).toBeGreaterThan(20);
    expect(seen).not.toMatch(/Could not read/);
    await engine.close();
  });

  it("applies permission rules mcp__server and mcp__server__tool through the same gate", async () => {
    const { engine } = await engineFor(
      [
        {
          toolCalls: [
            { id: "d1", name: "mcp__everything__echo", arguments: { message: "x" } },
            { id: "d2", name: "mcp__everything__get-sum", arguments: { a: 1, b: 2 } },
          ],
        },
        { text: "done" },
      ],
      {
        permissions: {
          rules: { deny: ["mcp__everything__echo"], allow: ["mcp__everything"] },
          interactive: false,
        },
      },
    );
    const events = await driveTurn(engine, "go", () => undefined);
    const done = events
      .filter((e) => e.msg.type === "tool_call_completed")
      .map((e) => {
        const m = e.msg as { name: string; status: string };
        return `${m.name} ${m.status}`;
      });
    expect(done.sort()).toEqual(["mcp__everything__echo denied", "mcp__everything__get-sum ok"]);
    await engine.close();
  });

  it("does not let a server's readOnlyHint skip the ask in default mode", async () => {
    const { engine } = await engineFor(
      [
        { toolCalls: [{ id: "a1", name: "mcp__everything__echo", arguments: { message: "x" } }] },
        { text: "done" },
      ],
      { permissions: { mode: "default" } },
    );
    const asked: string[] = [];
    await driveTurn(engine, "go", (msg) => {
      if (msg.type !== "permission_requested") return undefined;
      asked.push(msg.tool);
      return { type: "approval", requestId: msg.requestId, decision: "deny" };
    });
    expect(asked).toEqual(["mcp__everything__echo"]);
    await engine.close();
  });

  it("runs pre_tool and post_tool hooks on MCP tools, matched by the mcp__ name", async () => {
    const seen: string[] = [];
    const hooks: HookDefinition[] = [
      {
        point: "pre_tool",
        matcher: "mcp__everything__echo",
        run: (e) => void seen.push(`pre ${(e as { tool: string }).tool}`),
      },
      {
        point: "post_tool",
        run: (e) =>
          void seen.push(`post ${(e as { tool: string }).tool} ${(e as { status: string }).status}`),
      },
    ];
    const { engine } = await engineFor(
      [
        { toolCalls: [{ id: "h1", name: "mcp__everything__echo", arguments: { message: "hooked" } }] },
        { text: "done" },
      ],
      { hooks: { hooks } },
    );
    await driveTurn(engine, "go", () => undefined);
    expect(seen).toEqual(["pre mcp__everything__echo", "post mcp__everything__echo ok"]);
    await engine.close();
  });
});

describe("a stdio server's environment", () => {
  it("gets the allowlisted environment plus its configured env, never the host's secrets", async () => {
    const planted = {
      OPENAI_API_KEY: "sk-proj-planted0000000000000000000000",
      DATABASE_URL: "postgres://app:hunter2@db.internal/prod",
      GH_PAT: "ghp_planted000000000000000000000000000000",
    };
    const saved = Object.fromEntries(Object.keys(planted).map((k) => [k, process.env[k]]));
    Object.assign(process.env, planted);
    const env = await McpManager.open({
      servers: entries({
        envcheck: nodeServer(serverScript("server-everything"), ["stdio"], { env: { SERVER_SETTING: "on" } }),
      }),
    }).finally(() => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });
    try {
      const result = await env.call("envcheck", "get-env", {});
      const text = JSON.stringify(result);
      expect(text).toContain("SERVER_SETTING");
      expect(text).toContain("PATH");
      for (const [name, value] of Object.entries(planted)) {
        expect(text).not.toContain(name);
        expect(text).not.toContain(value);
      }
    } finally {
      await env.close();
    }
  }, 60_000);
});
