// The destructive mark of OpenAPI tools (DELETE) through the engine's real permission gate:
// no mode and no broad rule runs it without asking; an allow rule naming it does.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimClient } from "../src/llm/sim/sim-client.ts";
import { AgentEngine } from "../src/loop/engine.ts";
import { openApiTools } from "../src/openapi/tools.ts";
import type { PermissionMode } from "../src/permission/modes.ts";
import type { RuleLists } from "../src/permission/rules.ts";
import type { EventMsgOf } from "../src/protocol/index.ts";
import { driveTurn } from "./helpers/hitl.ts";

const SPEC = {
  openapi: "3.1.0",
  info: { title: "Pets", version: "1" },
  paths: {
    "/pets/{petId}": {
      parameters: [{ name: "petId", in: "path", required: true, schema: { type: "string" } }],
      get: { operationId: "showPet", summary: "Show a pet" },
      delete: { operationId: "deletePet", summary: "Delete a pet" },
    },
  },
};

let server: Server;
let base: string;
const hits: string[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.writeHead(req.method === "DELETE" ? 204 : 200, { "content-type": "application/json" });
    res.end(req.method === "DELETE" ? "" : '{"id":"7","name":"Rex"}');
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

/** One turn: the model deletes pet 7, then shows pet 7. Returns what asked, what ran, how calls ended. */
async function turn(mode: PermissionMode, rules: RuleLists, answer?: "allow" | "deny", prefix = "") {
  hits.length = 0;
  const tools = openApiTools(SPEC, { baseUrl: base, prefix });
  const model = new SimClient({
    script: [
      { toolCalls: [{ name: `${prefix}deletePet`, arguments: { petId: "7" } }] },
      { toolCalls: [{ name: `${prefix}showPet`, arguments: { petId: "7" } }] },
      { text: "done" },
    ],
  });
  const engine = await AgentEngine.open({ model, tools, context: false, permissions: { mode, rules } });
  const events = await driveTurn(engine, "remove pet 7", (msg) =>
    msg.type === "permission_requested" && answer
      ? { type: "approval", requestId: msg.requestId, decision: answer === "allow" ? "allow_once" : "deny" }
      : undefined,
  );
  await engine.close();
  const asked = events
    .filter((e) => e.msg.type === "permission_requested")
    .map((e) => (e.msg as EventMsgOf<"permission_requested">).tool);
  const status = Object.fromEntries(
    events
      .filter((e) => e.msg.type === "tool_call_completed")
      .map((e) => e.msg as EventMsgOf<"tool_call_completed">)
      .map((m) => [m.name, m.status]),
  );
  return { asked, ran: [...hits], status };
}

describe("destructive OpenAPI tools and permissions", () => {
  it("bypassPermissions runs the read but asks before the DELETE; a denial sends nothing", async () => {
    expect(await turn("bypassPermissions", {}, "deny")).toEqual({
      asked: ["deletePet"],
      ran: ["GET /pets/7"],
      status: { deletePet: "denied", showPet: "ok" },
    });
    expect(await turn("bypassPermissions", {}, "allow")).toEqual({
      asked: ["deletePet"],
      ran: ["DELETE /pets/7", "GET /pets/7"],
      status: { deletePet: "ok", showPet: "ok" },
    });
  });

  it("acceptEdits asks; dontAsk denies without asking", async () => {
    expect((await turn("acceptEdits", {}, "deny")).asked).toEqual(["deletePet"]);
    expect(await turn("dontAsk", {})).toEqual({
      asked: [],
      ran: ["GET /pets/7"],
      status: { deletePet: "denied", showPet: "ok" },
    });
  });

  it("an allow rule naming the tool runs it without asking; a deny rule still wins", async () => {
    expect(await turn("default", { allow: ["deletePet"] })).toEqual({
      asked: [],
      ran: ["DELETE /pets/7", "GET /pets/7"],
      status: { deletePet: "ok", showPet: "ok" },
    });
    expect(await turn("bypassPermissions", { allow: ["deletePet"], deny: ["deletePet"] })).toMatchObject({
      asked: [],
      status: { deletePet: "denied" },
    });
  });

  it("a wildcard or server-wide allow covers the reads but not the DELETE", async () => {
    const prefix = "mcp__pets__";
    for (const rule of ["mcp__pets", "mcp__pets__*"])
      expect(await turn("default", { allow: [rule] }, "deny", prefix)).toEqual({
        asked: ["mcp__pets__deletePet"],
        ran: ["GET /pets/7"],
        status: { mcp__pets__deletePet: "denied", mcp__pets__showPet: "ok" },
      });
    expect(
      (await turn("default", { allow: ["mcp__pets", "mcp__pets__deletePet"] }, "deny", prefix)).asked,
    ).toEqual([]);
  });
});
