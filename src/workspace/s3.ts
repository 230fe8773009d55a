import { describeError } from "../errors.ts";
import { baseName, normalizeRelative } from "./paths.ts";
import type { DirEntry, FileChange, FileStat, Workspace } from "./types.ts";
import { WorkspaceError } from "./types.ts";

/** The part of an `S3Client` (from `@aws-sdk/client-s3`) the workspace uses. */
export interface S3ClientLike {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}

/** Options for `S3Workspace`. */
export interface S3WorkspaceOptions {
  /**
   * A configured `S3Client` (endpoint, region, credentials; `forcePathStyle: true` for
   * MinIO and most self-hosted servers). The host owns it and its credentials.
   */
  readonly client: S3ClientLike;
  readonly bucket: string;
  /** Key prefix the workspace lives under, without a trailing slash (default: the bucket root). */
  readonly prefix?: string;
}

type Sdk = typeof import("@aws-sdk/client-s3");

let sdkPromise: Promise<Sdk> | undefined;

function loadSdk(): Promise<Sdk> {
  sdkPromise ??= import("@aws-sdk/client-s3").catch((err: unknown) => {
    sdkPromise = undefined;
    throw new WorkspaceError(
      "unavailable",
      "",
      `The S3 workspace needs the optional peer dependency @aws-sdk/client-s3 (npm install @aws-sdk/client-s3): ${describeError(err)}`,
      { cause: err },
    );
  });
  return sdkPromise;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === "NoSuchKey" || e?.name === "NotFound" || e?.$metadata?.httpStatusCode === 404;
}

/**
 * A workspace in an S3-compatible bucket (AWS S3, MinIO, R2...), under an optional key
 * prefix. Directories are key prefixes. `@aws-sdk/client-s3` is an optional peer
 * dependency loaded on first use.
 *
 * Commits cannot be atomic on S3: they snapshot every target first, write them one by
 * one, and on a failure write the snapshots back (a compensating rollback). A concurrent
 * writer to the same keys can interleave; give each agent its own prefix.
 */
export class S3Workspace implements Workspace {
  readonly kind = "s3";
  readonly root: string;
  private readonly client: S3ClientLike;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(options: S3WorkspaceOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = (options.prefix ?? "").replace(/^\/+|\/+$/g, "");
    this.root = `s3://${this.bucket}/${this.prefix}`;
  }

  resolve(path: string): string {
    return normalizeRelative(path);
  }

  localPath(): undefined {
    return undefined;
  }

  private key(rel: string): string {
    if (this.prefix === "") return rel;
    return rel === "" ? this.prefix : `${this.prefix}/${rel}`;
  }

  private dirPrefix(rel: string): string {
    const k = this.key(rel);
    return k === "" ? "" : `${k}/`;
  }

  private async send<T>(command: unknown, signal?: AbortSignal): Promise<T> {
    return (await this.client.send(command, signal ? { abortSignal: signal } : undefined)) as T;
  }

  private async head(rel: string, signal?: AbortSignal): Promise<FileStat | undefined> {
    const sdk = await loadSdk();
    try {
      const res = await this.send<{ ContentLength?: number; LastModified?: Date }>(
        new sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.key(rel) }),
        signal,
      );
      return { kind: "file", size: res.ContentLength ?? 0, mtimeMs: res.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private async isDir(rel: string, signal?: AbortSignal): Promise<boolean> {
    if (rel === "") return true;
    const sdk = await loadSdk();
    const res = await this.send<{ KeyCount?: number }>(
      new sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.dirPrefix(rel), MaxKeys: 1 }),
      signal,
    );
    return (res.KeyCount ?? 0) > 0;
  }

  async stat(path: string, signal?: AbortSignal): Promise<FileStat | undefined> {
    const rel = this.resolve(path);
    if (rel !== "") {
      const file = await this.head(rel, signal);
      if (file) return file;
    }
    return (await this.isDir(rel, signal)) ? { kind: "dir", size: 0, mtimeMs: 0 } : undefined;
  }

  async readFile(path: string, signal?: AbortSignal): Promise<Uint8Array> {
    const rel = this.resolve(path);
    const content = rel === "" ? undefined : await this.get(rel, signal);
    if (content) return content;
    if (await this.isDir(rel, signal))
      throw new WorkspaceError("is_directory", path, `${path} is a directory, not a file.`);
    throw new WorkspaceError("not_found", path, `File not found: ${path}`);
  }

  private async get(rel: string, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    const sdk = await loadSdk();
    try {
      const res = await this.send<{ Body?: { transformToByteArray(): Promise<Uint8Array> } }>(
        new sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.key(rel) }),
        signal,
      );
      return res.Body ? await res.Body.transformToByteArray() : new Uint8Array();
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list(path: string, signal?: AbortSignal): Promise<DirEntry[]> {
    const rel = this.resolve(path);
    const sdk = await loadSdk();
    const prefix = this.dirPrefix(rel);
    const out: DirEntry[] = [];
    let token: string | undefined;
    do {
      const res = await this.send<{
        CommonPrefixes?: { Prefix?: string }[];
        Contents?: { Key?: string }[];
        NextContinuationToken?: string;
        IsTruncated?: boolean;
      }>(
        new sdk.ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          Delimiter: "/",
          ...(token ? { ContinuationToken: token } : {}),
        }),
        signal,
      );
      for (const p of res.CommonPrefixes ?? [])
        if (p.Prefix) out.push({ name: baseName(p.Prefix.slice(0, -1)), kind: "dir" });
      for (const o of res.Contents ?? [])
        if (o.Key && o.Key !== prefix) out.push({ name: o.Key.slice(prefix.length), kind: "file" });
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    if (out.length === 0 && rel !== "") {
      if (await this.head(rel, signal))
        throw new WorkspaceError("not_directory", path, `${path} is a file, not a directory.`);
      throw new WorkspaceError("not_found", path, `Directory not found: ${path}`);
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async commit(changes: readonly FileChange[], signal?: AbortSignal): Promise<void> {
    const sdk = await loadSdk();
    const targets = changes.map((c) => ({ path: c.path, rel: this.resolve(c.path), content: c.content }));
    const seen = new Set<string>();
    const before = new Map<string, Uint8Array | undefined>();
    for (const t of targets) {
      if (t.rel === "")
        throw new WorkspaceError("is_directory", t.path, "Cannot write the workspace root itself.");
      if (seen.has(t.rel))
        throw new WorkspaceError("write_failed", t.path, `${t.path} appears twice in one change set.`);
      seen.add(t.rel);
      const old = await this.get(t.rel, signal);
      if (old === undefined && (await this.isDir(t.rel, signal)))
        throw new WorkspaceError("is_directory", t.path, `${t.path} is a directory.`);
      if (old === undefined && t.content === null)
        throw new WorkspaceError("not_found", t.path, `${t.path} does not exist, so it cannot be deleted.`);
      before.set(t.rel, old);
    }
    const write = (rel: string, content: Uint8Array | null | undefined) =>
      content == null
        ? this.send(new sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(rel) }))
        : this.send(new sdk.PutObjectCommand({ Bucket: this.bucket, Key: this.key(rel), Body: content }));
    const applied: string[] = [];
    let current = targets[0]?.path ?? "";
    try {
      for (const t of targets) {
        current = t.path;
        signal?.throwIfAborted();
        await write(t.rel, t.content);
        applied.push(t.rel);
      }
    } catch (err) {
      const problems: string[] = [];
      for (const rel of applied.reverse()) {
        await write(rel, before.get(rel)).catch((e: unknown) =>
          problems.push(`${rel} (${describeError(e)})`),
        );
      }
      const outcome =
        problems.length === 0 ? "No file was changed." : `Rollback was incomplete: ${problems.join("; ")}`;
      throw new WorkspaceError(
        "write_failed",
        current,
        `Could not write ${current}: ${describeError(err)}. ${outcome}`,
        {
          cause: err,
        },
      );
    }
  }
}
