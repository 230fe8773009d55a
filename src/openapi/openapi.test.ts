import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimClient } from "../llm/sim/sim-client.ts";
import { AgentEngine } from "../loop/engine.ts";
import type { Event, EventMsgOf } from "../protocol/index.ts";
import { openApiTools } from "./tools.ts";

/** A small Petstore (the classic example API), served for real. */
const PETSTORE_V3 = `
openapi: 3.0.3
info: { title: Petstore, version: 1.0.0 }
servers: [{ url: http://petstore.invalid/v1 }]
paths:
  /pets:
    get:
      operationId: listPets
      summary: List all pets
      parameters:
        - { name: limit, in: query, required: false, schema: { type: integer, maximum: 100 } }
    post:
      operationId: createPet
      summary: Create a pet
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: "#/components/schemas/NewPet" }
  /pets/{petId}:
    parameters:
      - { name: petId, in: path, required: true, schema: { type: string } }
    get:
      operationId: showPetById
      summary: Info for a specific pet
    delete:
      operationId: deletePet
      summary: Delete a pet
components:
  schemas:
    NewPet:
      type: object
      required: [name]
      properties:
        name: { type: string }
        tag: { type: string, nullable: true }
`;

const PETSTORE_V2 = {
  swagger: "2.0",
  info: { title: "Petstore", version: "1.0.0" },
  host: "petstore.invalid",
  basePath: "/v1",
  paths: {
    "/pets": {
      get: { operationId: "listPets", parameters: [{ name: "limit", in: "query", type: "integer" }] },
      post: {
        operationId: "createPet",
        parameters: [{ name: "pet", in: "body", required: true, schema: { $ref: "#/definitions/NewPet" } }],
      },
    },
  },
  definitions: { NewPet: { type: "object", required: ["name"], properties: { name: { type: "string" } } } },
};

let server: Server;
let base: string;
const seen: string[] = [];
const pets = new Map<string, { id: string; name: string }>([["1", { id: "1", name: "Rex" }]]);

beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? "-"}`);
      const url = new URL(req.url ?? "/", "http://x");
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.headers.authorization !== "Bearer s3cret") return json(401, { error: "unauthorized" });
      const m = /^\/v1\/pets(?:\/([^/]+))?$/.exec(url.pathname);
      if (!m) return json(404, { error: "no route" });
      const id = m[1] ? decodeURIComponent(m[1]) : undefined;
      if (req.method === "GET" && !id)
        return json(200, [...pets.values()].slice(0, Number(url.searchParams.get("limit") ?? 100)));
      if (req.method === "GET" && id)
        return pets.has(id) ? json(200, pets.get(id)) : json(404, { error: `no pet ${id}` });
      if (req.method === "POST" && !id) {
        const pet = { id: String(pets.size + 1), ...(JSON.parse(raw) as { name: string }) };
        pets.set(pet.id, pet);
        return json(201, pet);
      }
      if (req.method === "DELETE" && id)
        return pets.delete(id) ? json(204, {}) : json(404, { error: `no pet ${id}` });
      json(405, { error: "method" });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const env = { PETSTORE_TOKEN: "s3cret" };

describe("openApiTools", () => {
  it("makes one tool per operation with safety from the method", () => {
    const tools = openApiTools(PETSTORE_V3, {
      baseUrl: base,
      auth: { type: "bearer", env: "PETSTORE_TOKEN" },
      env,
    });
    expect(tools.map((t) => [t.name, t.readOnly, t.concurrencySafe, t.openapi.destructive])).toEqual([
      ["listPets", true, true, false],
      ["createPet", false, false, false],
      ["showPetById", true, true, false],
      ["deletePet", false, false, true],
    ]);
    const create = tools[1];
    expect(create?.parameters).toEqual({
      type: "object",
      properties: {
        body: {
          type: "object",
          required: ["name"],
          properties: { name: { type: "string" }, tag: { type: ["string", "null"] } },
        },
      },
      required: ["body"],
    });
    expect(create?.parse({})).toEqual({
      ok: false,
      message:
        "Invalid input for tool createPet:\n- body: required\nFix the arguments and call the tool again.",
    });
    expect(tools[0]?.parse({ limit: "many" }).ok).toBe(false);
    expect(tools[3]?.description).toBe("[destructive] Delete a pet (DELETE /pets/{petId})");
  });

  it("runs the operations against a real server through an engine; writes need approval", async () => {
    const tools = openApiTools(PETSTORE_V3, {
      baseUrl: base,
      auth: { type: "bearer", env: "PETSTORE_TOKEN" },
      env,
    });
    const sim = new SimClient({
      name: "pets",
      script: [
        {
          toolCalls: [
            { id: "a", name: "listPets", arguments: { limit: 5 } },
            { id: "b", name: "showPetById", arguments: { petId: "../admin" } },
            { id: "c", name: "createPet", arguments: { body: { name: "Tom" } } },
            { id: "d", name: "deletePet", arguments: { petId: "1" } },
          ],
        },
        { text: "done" },
      ],
    });
    const events: Event[] = [];
    const engine = await AgentEngine.open({
      model: sim,
      tools,
      interactive: false,
      permissions: { rules: { allow: ["createPet"] } },
      listeners: [(e) => events.push(e)],
      context: false,
    });
    seen.length = 0;
    await engine.submitAndWait("manage pets");
    await engine.close();
    const done = events
      .filter((e) => e.msg.type === "tool_call_completed")
      .map((e) => e.msg as EventMsgOf<"tool_call_completed">)
      .map((m) => `${m.name} ${m.status} ${typeof m.output === "string" ? m.output.slice(0, 60) : ""}`);
    expect(done.sort()).toEqual(
      [
        'listPets ok [{"id":"1","name":"Rex"}]',
        'showPetById error HTTP 404 Not Found\n{"error":"no pet ../admin"}',
        'createPet ok {"id":"2","name":"Tom"}',
        "deletePet denied This tool call needs approval (the call is destructive (dele",
      ].sort(),
    );
    // The path parameter stayed inside its segment; DELETE never reached the server.
    expect(seen.sort()).toEqual(
      [
        "GET /v1/pets?limit=5 Bearer s3cret",
        "GET /v1/pets/..%2Fadmin Bearer s3cret",
        "POST /v1/pets Bearer s3cret",
      ].sort(),
    );
  });

  it("reads Swagger 2.0 (body parameter, host and basePath)", () => {
    const tools = openApiTools(PETSTORE_V2, { include: ["createPet"] });
    expect(tools.map((t) => t.name)).toEqual(["createPet"]);
    expect(tools[0]?.parameters.required).toEqual(["body"]);
    expect(() => openApiTools(PETSTORE_V2, { include: ["nope"] })).toThrow(
      /include names unknown operation\(s\) nope \(known: listPets, createPet\)/,
    );
  });

  it("explains a bad document and a missing credential", async () => {
    expect(() => openApiTools("openapi: 9\npaths: {}")).toThrow(
      /OpenAPI document: \(root\): expected "openapi: 3.x" or "swagger: 2.0"/,
    );
    expect(() =>
      openApiTools({
        openapi: "3.0.0",
        paths: { "/a": { get: { parameters: [{ $ref: "other.yaml#/x" }] } } },
      }),
    ).toThrow(/only local \$ref values/);
    const [list] = openApiTools(PETSTORE_V3, {
      baseUrl: base,
      auth: { type: "bearer", env: "MISSING_TOKEN" },
      env: {},
    });
    const ctx = {
      signal: new AbortController().signal,
      threadId: "t",
      turnId: "u",
      callId: "c",
      cwd: "/",
      progress() {},
    };
    await expect(Promise.resolve(list?.execute({}, ctx))).rejects.toThrow(
      /environment variable MISSING_TOKEN \(its credential\) is not set/,
    );
  });
});
