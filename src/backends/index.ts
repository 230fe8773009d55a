/**
 * Past one machine (the `taifeng/backends` entry): a ThreadStore on PostgreSQL and an
 * execution backend on BullMQ (Redis) whose workers rebuild engines from recipes.
 * See docs/guides/distributed.md.
 */
export {
  BullmqBackend,
  type BullmqBackendOptions,
  type Outcome,
  outcomeIn,
  type Ticket,
} from "./bullmq/backend.ts";
export { backendNames, jobId } from "./bullmq/names.ts";
export { startWorker, type TaifengWorker, type WorkerOptions } from "./bullmq/worker.ts";
export { Inbox, type InboxEntry } from "./pg/inbox.ts";
export { type PgStoreOptions, PgThreadStore } from "./pg/pg-store.ts";
export { PgWriter } from "./pg/pg-writer.ts";
export { MIGRATIONS, type Migration, migrate, SCHEMA_LATEST } from "./pg/schema.ts";
export { engineOptionsFor, parseRecipe, Recipe, type RecipeRegistry } from "./recipe.ts";
