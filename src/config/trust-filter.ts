/**
 * What a configuration file in an untrusted project folder may set (ADR 2051).
 *
 * A repository's `taifeng.config.{json,yaml}` is a second way, beside `.taifeng/settings.json`
 * and `.mcp.json`, for a cloned repository to widen permissions or run code: `providers.*.baseUrl`
 * sends the user's API key to any host, `mcpServers` starts programs, `hooks` run commands,
 * `permissions.allow` and a permissive `permissions.mode` widen what the model may do,
 * `storage.dir` puts transcripts where a command can rewrite them, `server` and `telemetry`
 * open the process to the network. Until the folder is trusted, only keys that cannot do any
 * of that apply; the rest are withheld and named.
 */

type Json = Record<string, unknown>;

/** Permission modes an untrusted project may set: they narrow, never widen. */
const NARROWING_MODES = new Set(["default", "plan", "dontAsk"]);

/** Top-level keys an untrusted project's file may set as they are. */
const SAFE_KEYS = new Set(["model", "fallbacks", "system", "limits"]);

/**
 * Splits a project file's parsed value into what applies in an untrusted folder and the
 * dotted paths of what does not (`providers.openai.baseUrl`, `permissions.allow`).
 */
export function splitUntrusted(value: Json): { kept: Json; withheld: string[] } {
  const kept: Json = {};
  const withheld: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (SAFE_KEYS.has(key)) {
      kept[key] = v;
      continue;
    }
    if (key === "permissions" && v !== null && typeof v === "object" && !Array.isArray(v)) {
      const perms: Json = {};
      for (const [pk, pv] of Object.entries(v as Json)) {
        if (pv === undefined) continue;
        if (pk === "deny" || pk === "ask") perms[pk] = pv;
        else if (pk === "mode" && typeof pv === "string" && NARROWING_MODES.has(pv)) perms[pk] = pv;
        else withheld.push(`permissions.${pk}`);
      }
      if (Object.keys(perms).length > 0) kept.permissions = perms;
      continue;
    }
    if (v !== null && typeof v === "object" && !Array.isArray(v) && key !== "mcpServers") {
      const inner = Object.keys(v as Json);
      if (inner.length === 0) continue;
      for (const k of inner) withheld.push(`${key}.${k}`);
    } else withheld.push(key);
  }
  return { kept, withheld };
}
