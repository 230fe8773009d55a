/** CORS: off by default; with `corsOrigins`, only those origins are allowed (preflight and requests). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { api, startServer, tempStorage } from "../helpers/server.ts";

let storage: Awaited<ReturnType<typeof tempStorage>>;
beforeAll(async () => {
  storage = await tempStorage();
});
afterAll(() => storage.remove());

const ALLOWED = "https://console.example";
const preflight = (url: string, origin: string) =>
  fetch(`${url}/v1/threads`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type",
    },
  });

describe("CORS", () => {
  it("is off by default: no allow-origin header, and a preflight gets the auth error", async () => {
    const { server, url } = await startServer(storage.dir, []);
    try {
      const res = await api(url, "/v1/threads", { headers: { origin: ALLOWED } });
      expect(res.status).toBe(200);
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      const pre = await preflight(url, ALLOWED);
      expect(pre.status).toBe(401);
      expect(pre.headers.get("access-control-allow-origin")).toBeNull();
    } finally {
      await server.close();
    }
  });

  it("allows only the configured origins", async () => {
    const { server, url } = await startServer(storage.dir, [], { corsOrigins: [ALLOWED] });
    try {
      const pre = await preflight(url, ALLOWED);
      expect(pre.status).toBe(204);
      expect(pre.headers.get("access-control-allow-origin")).toBe(ALLOWED);
      expect(pre.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization");
      const other = await preflight(url, "https://evil.example");
      expect(other.headers.get("access-control-allow-origin")).toBeNull();
      const res = await api(url, "/v1/threads", { headers: { origin: ALLOWED } });
      expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED);
      // The token is still required from an allowed origin.
      const anonymous = await fetch(`${url}/v1/threads`, { headers: { origin: ALLOWED } });
      expect(anonymous.status).toBe(401);
    } finally {
      await server.close();
    }
  });
});
