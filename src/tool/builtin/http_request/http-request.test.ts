import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callTool, toolNamed } from "../../../../test/helpers/tool-context.ts";
import { builtinTools } from "../index.ts";

let server: Server;
let other: Server;
let base = "";
let otherBase = "";

function listen(s: Server): Promise<string> {
  return new Promise((resolve) =>
    s.listen(0, "127.0.0.1", () => resolve(`http://127.0.0.1:${(s.address() as { port: number }).port}`)),
  );
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname === "/json") {
      res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    } else if (url.pathname === "/echo") {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () =>
        res
          .writeHead(201, { "content-type": "text/plain" })
          .end(`${req.method} ${req.headers["x-token"]} ${body}`),
      );
    } else if (url.pathname === "/big") {
      res.writeHead(200, { "content-type": "text/plain" }).end("x".repeat(5000));
    } else if (url.pathname === "/binary") {
      res.writeHead(200, { "content-type": "image/png" }).end(Buffer.alloc(300));
    } else if (url.pathname === "/hop") {
      res.writeHead(302, { location: "/json" }).end();
    } else if (url.pathname === "/away") {
      res.writeHead(301, { location: `${otherBase}/json` }).end();
    } else if (url.pathname === "/slow") {
      setTimeout(() => res.writeHead(200).end("late"), 3000);
    } else res.writeHead(404, { "content-type": "text/plain" }).end("nope");
  });
  other = createServer((_req, res) =>
    res.writeHead(200, { "content-type": "text/plain" }).end("other origin"),
  );
  base = await listen(server);
  otherBase = await listen(other);
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await new Promise((r) => other.close(r));
});

const tool = toolNamed(builtinTools({ http: { maxBytes: 1000 } }).tools, "http_request");

describe("http_request", () => {
  it("GETs text and JSON with status and headers", async () => {
    expect((await callTool(tool, { url: `${base}/json` })).text).toBe(
      'HTTP 200 OK\ncontent-type: application/json\n\n{"ok":true}',
    );
    const missing = await callTool(tool, { url: `${base}/nothing` });
    expect(missing.text.startsWith("HTTP 404 Not Found")).toBe(true);
  });

  it("sends method, headers and body", async () => {
    const r = await callTool(tool, {
      url: `${base}/echo`,
      method: "POST",
      headers: { "x-token": "abc" },
      body: "payload",
    });
    expect(r.text.endsWith("\n\nPOST abc payload")).toBe(true);
    expect(r.text.startsWith("HTTP 201 Created")).toBe(true);
  });

  it("caps the body and summarizes binary bodies", async () => {
    const big = await callTool(tool, { url: `${base}/big` });
    expect(big.text).toContain(`${"x".repeat(1000)}\n[Body cut at 1000 B; raise max_bytes to read more.]`);
    expect((await callTool(tool, { url: `${base}/binary` })).text).toContain(
      "[Binary body: 300 B of image/png; not shown.]",
    );
  });

  it("follows same-origin redirects but reports cross-origin ones", async () => {
    expect((await callTool(tool, { url: `${base}/hop` })).text).toContain('{"ok":true}');
    const away = await callTool(tool, { url: `${base}/away` });
    expect(away.text).toContain(
      `[Redirect to another origin (${otherBase}/json) not followed; request it explicitly if you trust it.]`,
    );
  });

  it("times out and reports unreachable hosts as errors", async () => {
    const slow = await callTool(tool, { url: `${base}/slow`, timeout_ms: 200 });
    expect(slow).toMatchObject({ isError: true });
    expect(slow.text).toContain("timed out after 200 ms");
    const refused = await callTool(tool, { url: "http://127.0.0.1:1/x" });
    expect(refused.isError).toBe(true);
    expect((await callTool(tool, { url: "file:///etc/passwd" })).isError).toBe(true);
  });

  it("declares WebFetch with the url for permission rules", () => {
    expect(tool.permission).toEqual({ rule: "WebFetch", field: "url" });
  });
});
