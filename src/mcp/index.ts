/**
 * `taifeng/mcp`: MCP client and server. A separate entry point so that hosts that do not use
 * MCP never load the SDK (`@modelcontextprotocol/client` and `/server` are optional peers).
 */
export {
  DEFAULT_REDIRECT_URL,
  defaultAuthDir,
  type FileOAuthOptions,
  type FileOAuthProvider,
  fileOAuthProvider,
} from "./auth.ts";
export {
  isStdioServer,
  type LoadMcpConfigOptions,
  loadMcpConfig,
  type McpConfig,
  McpHttpServer as McpHttpServerConfig,
  McpOAuth,
  type McpServerConfig,
  type McpServerEntry,
  type McpServerSource,
  McpSseServer,
  McpStdioServer,
  parseMcpFile,
  parseMcpServers,
} from "./config.ts";
export { McpConnection, type McpServerState, McpUnavailableError } from "./connection.ts";
export { McpManager, type McpManagerOptions, type McpServerStatus } from "./manager.ts";
export { RESOURCE_TOOL_NAMES } from "./resources.ts";
export { type McpHttpOptions, type McpHttpServer, mcpHttpHandler, serveMcpHttp } from "./serve-http.ts";
export {
  type McpServedTask,
  type McpServedTaskStatus,
  McpTaskStore,
  type McpTaskStoreOptions,
} from "./serve-tasks.ts";
export { createMcpServer, type McpServeOptions } from "./server.ts";
export { serverEnv } from "./stdio.ts";
export {
  fileTaskLedger,
  type McpTaskLedger,
  type McpTaskRef,
  memoryTaskLedger,
  taskKey,
} from "./task-ledger.ts";
export { McpTaskLostError, type McpTaskState } from "./tasks.ts";
export { type McpTool, type McpToolOrigin, mcpToolName } from "./tools.ts";
