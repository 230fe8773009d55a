/** Stable digests of tool definitions, for drift detection and tool identity. */
import { createHash } from "node:crypto";
import type { Tool as SdkTool } from "@modelcontextprotocol/client";

/** A stable digest of a tool list (names, descriptions, schemas, annotations). */
export function fingerprint(tools: readonly SdkTool[]): string {
  const hash = createHash("sha256");
  for (const t of tools) hash.update(canonical(t)).update("\n");
  return hash.digest("hex").slice(0, 16);
}

/** JSON with object keys sorted, so equal definitions give equal text. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}
