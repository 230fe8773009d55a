/** Serves the web console: prebuilt static files beside this module, and uPlot from the package. */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Hono } from "hono";
import type { ServerEnv } from "./routes.ts";

const here = dirname(fileURLToPath(import.meta.url));
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

/** The console's files by URL path; read once. */
function assets(): Map<string, { body: string; type: string }> {
  const require = createRequire(import.meta.url);
  const files = new Map<string, { body: string; type: string }>();
  const add = (url: string, path: string) => {
    const ext = path.slice(path.lastIndexOf(".") + 1);
    files.set(url, { body: readFileSync(path, "utf8"), type: TYPES[ext] ?? "application/octet-stream" });
  };
  add("/", join(here, "console", "index.html"));
  for (const name of ["app.js", "views.js", "stream.js", "app.css"])
    add(`/console/${name}`, join(here, "console", name));
  add("/console/vendor/uPlot.esm.js", require.resolve("uplot/dist/uPlot.esm.js"));
  add("/console/vendor/uPlot.min.css", require.resolve("uplot/dist/uPlot.min.css"));
  return files;
}

/**
 * Registers `/` and `/console/*`. The pages hold no data: every call they make goes through
 * the API with the token the user enters. Nothing is loaded from another origin (CSP `self`).
 */
export function registerConsole(app: Hono<ServerEnv>): void {
  let files: ReturnType<typeof assets> | undefined;
  const handler = (path: string) => {
    files ??= assets();
    const file = files.get(path);
    if (!file) return undefined;
    return new Response(file.body, {
      headers: {
        "content-type": file.type,
        "cache-control": "no-cache",
        "content-security-policy":
          "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
        "x-content-type-options": "nosniff",
      },
    });
  };
  app.get("/", () => handler("/") as Response);
  app.get("/console/*", (c) => handler(c.req.path) ?? c.notFound());
}
