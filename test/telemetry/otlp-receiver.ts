/**
 * An in-process OTLP/HTTP receiver for tests: accepts `/v1/traces` and `/v1/metrics` in
 * protobuf or JSON (as the real exporters send them), keeps every raw body and decodes spans
 * into a flat, protocol-independent shape.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A received span, the same whichever protocol carried it. */
export interface ReceivedSpan {
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly attributes: Record<string, unknown>;
  readonly resource: Record<string, unknown>;
}

/** One request as it arrived. */
export interface ReceivedRequest {
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
}

// --- a minimal protobuf wire reader (varint, 64-bit, length-delimited, 32-bit) ---------------

type Field = { no: number; wire: number; value: bigint | Buffer };

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const no = key >> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, value: varint() });
    else if (wire === 1) {
      out.push({ no, wire, value: buf.subarray(pos, pos + 8) });
      pos += 8;
    } else if (wire === 2) {
      const len = Number(varint());
      out.push({ no, wire, value: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wire === 5) {
      out.push({ no, wire, value: buf.subarray(pos, pos + 4) });
      pos += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const bytesOf = (fs: Field[], no: number): Buffer[] =>
  fs.filter((f) => f.no === no && Buffer.isBuffer(f.value)).map((f) => f.value as Buffer);

function anyValue(buf: Buffer): unknown {
  const f = fields(buf)[0];
  if (!f) return undefined;
  switch (f.no) {
    case 1:
      return (f.value as Buffer).toString("utf8");
    case 2:
      return f.value === 1n;
    case 3:
      return Number(f.value as bigint);
    case 4:
      return (f.value as Buffer).readDoubleLE(0);
    case 5:
      return bytesOf(fields(f.value as Buffer), 1).map(anyValue);
    default:
      return undefined;
  }
}

function keyValues(bufs: Buffer[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of bufs) {
    const fs = fields(kv);
    const key = bytesOf(fs, 1)[0]?.toString("utf8") ?? "";
    const value = bytesOf(fs, 2)[0];
    out[key] = value ? anyValue(value) : undefined;
  }
  return out;
}

function protobufSpans(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of bytesOf(fields(body), 1)) {
    const rsf = fields(rs);
    const resourceBuf = bytesOf(rsf, 1)[0];
    const resource = resourceBuf ? keyValues(bytesOf(fields(resourceBuf), 1)) : {};
    for (const ss of bytesOf(rsf, 2)) {
      for (const sp of bytesOf(fields(ss), 2)) {
        const f = fields(sp);
        spans.push({
          traceId: bytesOf(f, 1)[0]?.toString("hex") ?? "",
          spanId: bytesOf(f, 2)[0]?.toString("hex") ?? "",
          parentSpanId: bytesOf(f, 4)[0]?.toString("hex") ?? "",
          name: bytesOf(f, 5)[0]?.toString("utf8") ?? "",
          attributes: keyValues(bytesOf(f, 9)),
          resource,
        });
      }
    }
  }
  return spans;
}

// --- JSON ---------------------------------------------------------------------------------------

type JsonAny = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: JsonAny[] };
};

function jsonValue(v: JsonAny | undefined): unknown {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(jsonValue);
  return undefined;
}

function jsonAttrs(list: { key: string; value?: JsonAny }[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, jsonValue(kv.value)]));
}

function jsonSpans(body: Buffer): ReceivedSpan[] {
  const doc = JSON.parse(body.toString("utf8")) as {
    resourceSpans?: {
      resource?: { attributes?: { key: string; value?: JsonAny }[] };
      scopeSpans?: {
        spans?: {
          name: string;
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          attributes?: { key: string; value?: JsonAny }[];
        }[];
      }[];
    }[];
  };
  return (doc.resourceSpans ?? []).flatMap((rs) =>
    (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        name: s.name,
        traceId: s.traceId,
        spanId: s.spanId,
        parentSpanId: s.parentSpanId ?? "",
        attributes: jsonAttrs(s.attributes),
        resource: jsonAttrs(rs.resource?.attributes),
      })),
    ),
  );
}

/** Metric names in an OTLP metrics request, either protocol. */
export function metricNames(req: ReceivedRequest): string[] {
  if (req.contentType.includes("json")) {
    const doc = JSON.parse(req.body.toString("utf8")) as {
      resourceMetrics?: { scopeMetrics?: { metrics?: { name: string }[] }[] }[];
    };
    return (doc.resourceMetrics ?? []).flatMap((r) =>
      (r.scopeMetrics ?? []).flatMap((s) => (s.metrics ?? []).map((m) => m.name)),
    );
  }
  const names: string[] = [];
  for (const rm of bytesOf(fields(req.body), 1))
    for (const sm of bytesOf(fields(rm), 2))
      for (const m of bytesOf(fields(sm), 2)) names.push(bytesOf(fields(m), 1)[0]?.toString("utf8") ?? "");
  return names;
}

/** A receiver listening on an ephemeral port of 127.0.0.1. */
export interface OtlpReceiver {
  readonly url: string;
  readonly requests: ReceivedRequest[];
  spans(): ReceivedSpan[];
  close(): Promise<void>;
}

/** Starts a receiver. */
export async function startReceiver(): Promise<OtlpReceiver> {
  const requests: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const contentType = String(req.headers["content-type"] ?? "");
      requests.push({ path: req.url ?? "", contentType, body: Buffer.concat(chunks) });
      // An empty export response: `{}` in JSON, zero bytes in protobuf.
      if (contentType.includes("json")) {
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      } else res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    spans: () =>
      requests
        .filter((r) => r.path === "/v1/traces")
        .flatMap((r) => (r.contentType.includes("json") ? jsonSpans(r.body) : protobufSpans(r.body))),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
