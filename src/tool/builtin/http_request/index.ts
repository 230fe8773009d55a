import { z } from "zod";
import { describeError } from "../../../errors.ts";
import { defineTool, type Tool } from "../../define.ts";
import { loadDescription } from "../describe.ts";
import { type BuiltinEnv, failure } from "../env.ts";
import { formatBytes } from "../text.ts";

const Input = z.object({
  url: z.string().url().describe("The URL (http or https)."),
  method: z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]).optional(),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.string().optional(),
  timeout_ms: z.number().int().min(100).max(120_000).optional(),
  max_bytes: z
    .number()
    .int()
    .min(1)
    .max(10 * 1024 * 1024)
    .optional(),
});

const SHOWN_HEADERS = [
  "content-type",
  "content-length",
  "location",
  "retry-after",
  "www-authenticate",
  "last-modified",
  "etag",
];

function isTextual(contentType: string): boolean {
  return (
    contentType === "" ||
    /^text\/|json|xml|javascript|ecmascript|x-www-form-urlencoded|yaml|toml|csv|charset=/i.test(contentType)
  );
}

async function readCapped(
  res: Response,
  maxBytes: number,
  signal: AbortSignal,
): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (!res.body) return { bytes: Buffer.alloc(0), truncated: false };
  const reader = res.body.getReader();
  try {
    for (;;) {
      signal.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) return { bytes: Buffer.concat(chunks), truncated: false };
      chunks.push(Buffer.from(value));
      size += value.byteLength;
      if (size > maxBytes) return { bytes: Buffer.concat(chunks).subarray(0, maxBytes), truncated: true };
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** `http_request`: method, headers, body, size and time caps; same-origin redirects only. */
export function httpRequestTool(env: BuiltinEnv): Tool<z.output<typeof Input>> {
  const defaultMax = env.options.http?.maxBytes ?? 1024 * 1024;
  const defaultTimeout = env.options.http?.timeoutMs ?? 30_000;
  return defineTool({
    name: "http_request",
    description: loadDescription(import.meta.url),
    schema: Input,
    concurrencySafe: true,
    timeoutMs: 150_000,
    permission: { rule: "WebFetch", field: "url" },
    async execute(input, ctx) {
      let url = new URL(input.url);
      if (url.protocol !== "http:" && url.protocol !== "https:")
        return failure(`Only http and https URLs are supported, not ${url.protocol}`);
      const method = input.method ?? "GET";
      const timeoutMs = input.timeout_ms ?? defaultTimeout;
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
      const origin = url.origin;
      let res: Response | undefined;
      try {
        for (let hop = 0; hop <= 5; hop++) {
          res = await fetch(url, {
            method,
            redirect: "manual",
            signal,
            ...(input.headers ? { headers: input.headers } : {}),
            ...(input.body !== undefined && method !== "GET" && method !== "HEAD"
              ? { body: input.body }
              : {}),
          });
          const location = res.headers.get("location");
          if (res.status < 300 || res.status >= 400 || !location) break;
          const next = new URL(location, url);
          if (next.origin !== origin || hop === 5) break;
          await res.body?.cancel();
          url = next;
        }
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        const reason = signal.aborted ? `timed out after ${timeoutMs} ms` : describeError(err);
        const cause = (err as { cause?: unknown }).cause;
        return failure(
          `Request to ${url.href} failed: ${reason}${cause ? ` (${describeError(cause)})` : ""}`,
        );
      }
      const response = res as Response;
      const lines = [`HTTP ${response.status} ${response.statusText}`.trim()];
      for (const name of SHOWN_HEADERS) {
        const value = response.headers.get(name);
        if (value) lines.push(`${name}: ${value}`);
      }
      const location = response.headers.get("location");
      if (response.status >= 300 && response.status < 400 && location) {
        const target = new URL(location, url);
        lines.push(
          target.origin !== origin
            ? `[Redirect to another origin (${target.href}) not followed; request it explicitly if you trust it.]`
            : "[Too many redirects.]",
        );
        await response.body?.cancel();
        return lines.join("\n");
      }
      if (method === "HEAD") return lines.join("\n");
      let body: { bytes: Buffer; truncated: boolean };
      try {
        body = await readCapped(response, input.max_bytes ?? defaultMax, signal);
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        return failure(
          `Reading the response body failed: ${signal.aborted ? `timed out after ${timeoutMs} ms` : describeError(err)}`,
        );
      }
      const type = response.headers.get("content-type") ?? "";
      lines.push("");
      if (!isTextual(type))
        lines.push(
          `[Binary body: ${formatBytes(body.bytes.length)}${body.truncated ? " or more" : ""} of ${type}; not shown.]`,
        );
      else {
        lines.push(body.bytes.toString("utf8"));
        if (body.truncated)
          lines.push(`[Body cut at ${formatBytes(body.bytes.length)}; raise max_bytes to read more.]`);
      }
      return lines.join("\n");
    },
  });
}
