/**
 * `taifeng/server`: the HTTP + SSE API and web console (`createServer`), for hosts that run
 * or mount it. Separate from the main entry so that the library does not load the HTTP stack.
 */

export { ThreadHub, type ThreadHubOptions } from "./hub.ts";
export { openApiDocument } from "./openapi.ts";
export { comparePositions, formatPosition, type Position, parsePosition } from "./positions.ts";
export { createServer, type ServerOptions, type TaifengServer } from "./server.ts";
