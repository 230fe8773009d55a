import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { newId } from "../protocol/index.ts";

/** Where full tool outputs go when the context keeps only a stub. */
export interface ArtifactStore {
  /** Saves `text`; returns a reference the model can use to read it back (an id or a path). */
  save(threadId: string, text: string, hint: string): Promise<string>;
  /** Reads an artifact back by its reference. */
  read(ref: string): Promise<string | undefined>;
}

/** Keeps artifacts in memory (tests, ephemeral engines). */
export class MemoryArtifactStore implements ArtifactStore {
  private readonly blobs = new Map<string, string>();

  async save(_threadId: string, text: string, hint: string): Promise<string> {
    const ref = `artifact:${newId(hint.replace(/[^a-z0-9_-]/gi, "_").slice(0, 24) || "out")}`;
    this.blobs.set(ref, text);
    return ref;
  }

  async read(ref: string): Promise<string | undefined> {
    return this.blobs.get(ref);
  }
}

/** Writes artifacts as files under `<dir>/<threadId>/`; the reference is the file path. */
export class DirectoryArtifactStore implements ArtifactStore {
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async save(threadId: string, text: string, hint: string): Promise<string> {
    const folder = join(this.dir, threadId.replace(/[^a-zA-Z0-9_-]/g, "_"));
    await mkdir(folder, { recursive: true });
    const path = join(folder, `${newId(hint.replace(/[^a-z0-9_-]/gi, "_").slice(0, 24) || "out")}.txt`);
    await writeFile(path, text);
    return path;
  }

  async read(ref: string): Promise<string | undefined> {
    try {
      return await readFile(ref, "utf8");
    } catch {
      return undefined;
    }
  }
}
