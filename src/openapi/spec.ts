/** Reading OpenAPI 3.0 / 3.1 and Swagger 2.0 documents into a flat list of operations. */
import { parse as parseYaml } from "yaml";
import { TaifengError } from "../errors.ts";

/** One HTTP operation of the document, with its input already as one JSON Schema. */
export interface Operation {
  readonly id: string;
  readonly method: string;
  readonly path: string;
  readonly summary: string;
  /** `path`, `query` and `header` parameters by name. */
  readonly params: readonly {
    readonly name: string;
    readonly in: "path" | "query" | "header";
    readonly required: boolean;
    readonly schema: Record<string, unknown>;
    readonly description?: string;
  }[];
  /** The JSON request body's schema, when the operation takes one. */
  readonly body:
    | { readonly schema: Record<string, unknown>; readonly required: boolean; readonly mediaType: string }
    | undefined;
}

/** The operations and the document's default server URL. */
export interface ParsedSpec {
  readonly title: string;
  readonly version: "2.0" | "3.0" | "3.1";
  readonly servers: readonly string[];
  readonly operations: readonly Operation[];
}

const METHODS = ["get", "head", "options", "post", "put", "patch", "delete"] as const;
type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => v !== null && typeof v === "object" && !Array.isArray(v);

function fail(where: string, message: string): never {
  throw new TaifengError("invalid_config", `OpenAPI document: ${where}: ${message}`);
}

/** Resolves local `$ref`s (`#/components/...`, `#/definitions/...`); cycles become `{}` past depth 8. */
function resolver(doc: Json): (value: unknown, depth?: number) => unknown {
  const lookup = (ref: string): unknown => {
    if (!ref.startsWith("#/")) fail(ref, "only local $ref values (#/...) are supported");
    let node: unknown = doc;
    for (const raw of ref.slice(2).split("/")) {
      const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
      if (!isObj(node) || !(key in node)) fail(ref, "the $ref points nowhere");
      node = node[key];
    }
    return node;
  };
  const resolve = (value: unknown, depth = 0): unknown => {
    if (Array.isArray(value)) return value.map((v) => resolve(v, depth));
    if (!isObj(value)) return value;
    if (typeof value.$ref === "string") return depth >= 8 ? {} : resolve(lookup(value.$ref), depth + 1);
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolve(v, depth);
    return out;
  };
  return resolve;
}

/** Swagger 2 / OpenAPI 3.0 schema quirks to plain JSON Schema (`nullable`, `x-*`, `example`). */
function cleanSchema(schema: unknown): Json {
  if (!isObj(schema)) return {};
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) {
    if (
      k.startsWith("x-") ||
      k === "example" ||
      k === "xml" ||
      k === "discriminator" ||
      k === "readOnly" ||
      k === "writeOnly"
    )
      continue;
    if (k === "nullable") continue;
    if (k === "properties" && isObj(v)) {
      out.properties = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, cleanSchema(s)]));
    } else if ((k === "items" || k === "additionalProperties") && isObj(v)) out[k] = cleanSchema(v);
    else if ((k === "allOf" || k === "anyOf" || k === "oneOf") && Array.isArray(v))
      out[k] = v.map(cleanSchema);
    else out[k] = v;
  }
  if (schema.nullable === true && typeof out.type === "string") out.type = [out.type, "null"];
  return out;
}

/** A safe tool name from an operation id or its method and path. */
export function toolNameOf(method: string, path: string, operationId: unknown): string {
  const raw =
    typeof operationId === "string" && operationId.trim() !== "" ? operationId : `${method}_${path}`;
  const name = raw.replace(/[^a-zA-Z0-9_-]+/g, "_").replace(/^_+|_+$/g, "");
  return (name || method).slice(0, 64);
}

/**
 * Parses a document (an object, or JSON / YAML text). Throws TaifengError `invalid_config`
 * naming the place for a document that is not OpenAPI 3.x or Swagger 2.0, a non-local `$ref`,
 * or two operations that would get the same tool name.
 */
export function parseSpec(input: string | Json): ParsedSpec {
  let doc: unknown = input;
  if (typeof input === "string") {
    try {
      doc = parseYaml(input);
    } catch (err) {
      fail("(text)", `not JSON or YAML: ${(err as Error).message}`);
    }
  }
  if (!isObj(doc)) fail("(root)", "expected an object");
  const version =
    typeof doc.openapi === "string"
      ? doc.openapi.startsWith("3.1")
        ? "3.1"
        : doc.openapi.startsWith("3.")
          ? "3.0"
          : undefined
      : doc.swagger === "2.0"
        ? "2.0"
        : undefined;
  if (!version) fail("(root)", 'expected "openapi: 3.x" or "swagger: 2.0"');
  const resolve = resolver(doc);
  const servers =
    version === "2.0"
      ? typeof doc.host === "string"
        ? [
            `${Array.isArray(doc.schemes) && typeof doc.schemes[0] === "string" ? doc.schemes[0] : "https"}://${doc.host}${typeof doc.basePath === "string" ? doc.basePath : ""}`,
          ]
        : []
      : Array.isArray(doc.servers)
        ? doc.servers.filter(isObj).map((s) => String(s.url))
        : [];
  const paths = isObj(doc.paths) ? doc.paths : fail("paths", "missing");
  const operations: Operation[] = [];
  const names = new Map<string, string>();
  for (const [path, rawItem] of Object.entries(paths)) {
    const item = resolve(rawItem) as Json;
    if (!isObj(item)) continue;
    const shared = Array.isArray(item.parameters) ? item.parameters : [];
    for (const method of METHODS) {
      const op = item[method];
      if (!isObj(op)) continue;
      const where = `${method.toUpperCase()} ${path}`;
      const id = toolNameOf(method, path, op.operationId);
      const clash = names.get(id);
      if (clash) fail(where, `its tool name "${id}" is already used by ${clash}`);
      names.set(id, where);
      const params: Operation["params"][number][] = [];
      let body: Operation["body"];
      const byKey = new Map<string, Json>();
      for (const p of [...shared, ...(Array.isArray(op.parameters) ? op.parameters : [])]) {
        const param = resolve(p) as Json;
        if (isObj(param)) byKey.set(`${param.in}:${param.name}`, param);
      }
      for (const param of byKey.values()) {
        const loc = param.in;
        if (loc === "body") {
          body = {
            schema: cleanSchema(param.schema),
            required: param.required === true,
            mediaType: "application/json",
          };
          continue;
        }
        if (loc !== "path" && loc !== "query" && loc !== "header") continue;
        const schema = cleanSchema(
          param.schema ?? {
            type: param.type ?? "string",
            ...(param.items ? { items: param.items } : {}),
            ...(param.enum ? { enum: param.enum } : {}),
          },
        );
        params.push({
          name: String(param.name),
          in: loc,
          required: loc === "path" || param.required === true,
          schema,
          ...(typeof param.description === "string" ? { description: param.description } : {}),
        });
      }
      const rb = resolve(op.requestBody) as Json | undefined;
      if (isObj(rb) && isObj(rb.content)) {
        const mediaType =
          Object.keys(rb.content).find((m) => m.includes("json")) ?? Object.keys(rb.content)[0];
        const media = mediaType ? (rb.content as Json)[mediaType] : undefined;
        if (mediaType && isObj(media))
          body = { schema: cleanSchema(media.schema), required: rb.required === true, mediaType };
      }
      const summary = [op.summary, op.description]
        .filter((s) => typeof s === "string" && s.trim() !== "")
        .join(" — ");
      operations.push({ id, method, path, summary: summary || where, params, body });
    }
  }
  const title = isObj(doc.info) && typeof doc.info.title === "string" ? doc.info.title : "API";
  return { title, version, servers, operations };
}
