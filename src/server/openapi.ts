/** The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas. */
import { z } from "zod";
import {
  ApprovalList,
  CreateThreadBody,
  ErrorReply,
  ForkBody,
  ForkReply,
  ItemsReply,
  OpBody,
  PendingApproval,
  SubmissionReply,
  ThreadList,
  ThreadSummary,
  UsageReport,
} from "./api-schemas.ts";

const schema = (s: z.ZodType) =>
  z.toJSONSchema(s, { target: "draft-2020-12", unrepresentable: "any", io: "input" });

const json = (ref: string) => ({
  content: { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } },
});
const errors = {
  "400": { description: "Malformed request", ...json("Error") },
  "401": { description: "Missing or wrong bearer token", ...json("Error") },
  "404": { description: "No such thread", ...json("Error") },
  "413": { description: "Body over the size limit", ...json("Error") },
  "415": { description: "Body not application/json", ...json("Error") },
  "429": { description: "Rate limit; see Retry-After", ...json("Error") },
  "503": { description: "No engine free in time, or shutting down", ...json("Error") },
};
const idParam = { name: "id", in: "path", required: true, schema: { type: "string" } };

/** Builds the document (served at `/openapi.json`). */
export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: { title: "Taifeng server", version },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        CreateThread: schema(CreateThreadBody),
        Fork: schema(ForkBody),
        ForkReply: schema(ForkReply),
        Items: schema(ItemsReply),
        Op: schema(OpBody),
        Submission: schema(SubmissionReply),
        Thread: schema(ThreadSummary),
        ThreadList: schema(ThreadList),
        Approval: schema(PendingApproval),
        ApprovalList: schema(ApprovalList),
        Usage: schema(UsageReport),
        Error: schema(ErrorReply),
      },
    },
    security: [{ bearer: [] }],
    paths: {
      "/v1/threads": {
        get: {
          summary: "List threads (most recently updated first)",
          parameters: ["search", "parent", "limit", "offset"].map((name) => ({
            name,
            in: "query",
            schema: { type: "string" },
          })),
          responses: { "200": { description: "A page of threads", ...json("ThreadList") }, ...errors },
        },
        post: {
          summary: "Create a thread (optionally with a first message)",
          requestBody: json("CreateThread"),
          responses: { "201": { description: "Created", ...json("Submission") }, ...errors },
        },
      },
      "/v1/threads/{id}": {
        get: {
          summary: "Thread metadata, usage and status",
          parameters: [idParam],
          responses: { "200": { description: "The thread", ...json("Thread") }, ...errors },
        },
        delete: {
          summary: "Delete (archive) an idle thread",
          parameters: [idParam],
          responses: {
            "204": { description: "Deleted" },
            "409": { description: "A turn is running", ...json("Error") },
            ...errors,
          },
        },
      },
      "/v1/threads/{id}/items": {
        get: {
          summary: "The model's view of the history",
          parameters: [idParam],
          responses: { "200": { description: "Items", ...json("Items") }, ...errors },
        },
      },
      "/v1/threads/{id}/ops": {
        post: {
          summary:
            "Submit an op (user_input, steer, interrupt, approval, user_input_answer, rewind, compact, override_context)",
          parameters: [idParam],
          requestBody: json("Op"),
          responses: { "202": { description: "Accepted", ...json("Submission") }, ...errors },
        },
      },
      "/v1/threads/{id}/events": {
        get: {
          summary:
            "Server-Sent Events: transcript lines (event: line, id N) then live events (event: event, id N.K); resume with Last-Event-ID",
          parameters: [
            idParam,
            { name: "Last-Event-ID", in: "header", schema: { type: "string" } },
            { name: "after", in: "query", schema: { type: "string" } },
            { name: "live", in: "query", schema: { type: "string", enum: ["1"] } },
          ],
          responses: {
            "200": { description: "text/event-stream", content: { "text/event-stream": {} } },
            ...errors,
          },
        },
      },
      "/v1/threads/{id}/fork": {
        post: {
          summary: "Fork at a turn",
          parameters: [idParam],
          requestBody: json("Fork"),
          responses: { "201": { description: "The new thread", ...json("ForkReply") }, ...errors },
        },
      },
      "/v1/approvals": {
        get: {
          summary: "Everything waiting on a person, across threads",
          responses: { "200": { description: "Pending requests", ...json("ApprovalList") }, ...errors },
        },
      },
      "/v1/usage": {
        get: {
          summary: "Token and cost totals by thread, model and day; model-call latency",
          responses: { "200": { description: "Totals", ...json("Usage") }, ...errors },
        },
      },
      "/healthz": { get: { summary: "Liveness", security: [], responses: { "200": { description: "ok" } } } },
      "/metrics": {
        get: {
          summary: "Prometheus text (0.0.4): the telemetry instruments and the server's gauges",
          responses: { "200": { description: "metrics", content: { "text/plain": {} } } },
        },
      },
      "/openapi.json": {
        get: { summary: "This document", security: [], responses: { "200": { description: "OpenAPI 3.1" } } },
      },
    },
  };
}
