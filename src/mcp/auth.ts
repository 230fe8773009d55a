/**
 * OAuth 2.1 for HTTP MCP servers through the SDK's client provider seam: the SDK does the
 * protocol (protected-resource and authorization-server metadata, dynamic registration,
 * PKCE, token refresh); this provider keeps the client registration, tokens and PKCE
 * verifier of one server in a file only the user can read (0600, in a 0700 folder).
 */
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type {
  OAuthClientMetadata,
  OAuthClientProvider,
  StoredOAuthClientInformation,
  StoredOAuthTokens,
} from "@modelcontextprotocol/client";
import type { McpOAuth, McpServerEntry } from "./config.ts";

/** Where Taifeng keeps MCP OAuth state: `~/.taifeng/mcp-auth`. */
export function defaultAuthDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.HOME ?? homedir(), ".taifeng", "mcp-auth");
}

/** The redirect URL used when a server's `oauth` names none. */
export const DEFAULT_REDIRECT_URL = "http://127.0.0.1:33418/callback";

interface Saved {
  client?: StoredOAuthClientInformation;
  tokens?: StoredOAuthTokens;
  verifier?: string;
}

/** Options for `fileOAuthProvider`. */
export interface FileOAuthOptions {
  /** The folder holding one `<server>.json` per server. Default `defaultAuthDir()`. */
  readonly dir?: string;
  /** Environment for `clientSecretEnv`. Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Called with the URL a person must open to log in. Default: nothing; the connection then
   * fails with a message carrying the URL (see `pendingAuthorization`).
   */
  readonly onAuthorizationUrl?: (url: URL) => void | Promise<void>;
}

/** An OAuth client provider that persists to a private file; `pendingAuthorization` is the last login URL. */
export interface FileOAuthProvider extends OAuthClientProvider {
  readonly pendingAuthorization: URL | undefined;
}

/**
 * The provider for one server configured with `oauth`. Undefined for servers without it, so
 * it can be passed straight to `McpManager.open({ authProvider })`.
 */
export function fileOAuthProvider(
  entry: McpServerEntry,
  options: FileOAuthOptions = {},
): FileOAuthProvider | undefined {
  const config = entry.config;
  if (!("oauth" in config) || config.oauth === undefined) return undefined;
  const oauth: McpOAuth = config.oauth === true ? {} : config.oauth;
  const env = options.env ?? process.env;
  const dir = options.dir ?? defaultAuthDir(env);
  const file = join(dir, `${entry.name}.json`);
  const redirectUrl = oauth.redirectUrl ?? DEFAULT_REDIRECT_URL;
  let cache: Saved | undefined;
  let pending: URL | undefined;
  const load = async (): Promise<Saved> => {
    if (cache) return cache;
    try {
      cache = JSON.parse(await readFile(file, "utf8")) as Saved;
    } catch {
      cache = {};
    }
    return cache;
  };
  const save = async (patch: Partial<Saved>) => {
    const next = { ...(await load()), ...patch };
    cache = next;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(next), { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, file);
  };
  const secret = oauth.clientSecretEnv ? env[oauth.clientSecretEnv] : undefined;
  const metadata: OAuthClientMetadata = {
    client_name: "Taifeng",
    redirect_uris: [redirectUrl],
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: secret ? "client_secret_basic" : "none",
    ...(oauth.scope ? { scope: oauth.scope } : {}),
  };
  return {
    get pendingAuthorization() {
      return pending;
    },
    get redirectUrl() {
      return redirectUrl;
    },
    get clientMetadata() {
      return metadata;
    },
    async clientInformation() {
      if (oauth.clientId) return { client_id: oauth.clientId, ...(secret ? { client_secret: secret } : {}) };
      return (await load()).client;
    },
    async saveClientInformation(info) {
      await save({ client: info });
    },
    async tokens() {
      return (await load()).tokens;
    },
    async saveTokens(tokens) {
      pending = undefined;
      await save({ tokens });
    },
    async redirectToAuthorization(url) {
      pending = url;
      await options.onAuthorizationUrl?.(url);
    },
    async saveCodeVerifier(verifier) {
      await save({ verifier });
    },
    async codeVerifier() {
      const verifier = (await load()).verifier;
      if (!verifier)
        throw new Error(`no PKCE verifier saved for MCP server "${entry.name}": start the login again`);
      return verifier;
    },
  };
}
