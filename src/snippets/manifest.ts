/**
 * The run manifest: one JSON file beside the snippets (`${outDir}/manifest.json`) recording,
 * per image id, the parameters it was downloaded with, the file's size and SHA-256, and how
 * the last attempt went. It is what lets a rerun skip files that are complete and valid
 * (checked against the checksum, not just present) and what an auditor reads afterwards.
 *
 * Writes are atomic (temporary file, fsync, rename) so a crash or a full disk mid-write
 * leaves the previous manifest whole, and serialized (one write at a time, coalescing
 * records made meanwhile) so concurrent downloads cannot interleave their updates. One
 * Manifest object per file per process: `Manifest.open` hands out the same instance to every
 * caller, because two instances writing one file would each drop the other's records.
 * Several processes sharing one output directory are not coordinated: give each its own.
 */
import { randomBytes } from "node:crypto";
import { open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { sha256File } from "../download/checksum";
import { Coalescer } from "../run/coalesce";

export { sha256File };

export type SnippetStatus = "done" | "failed" | "skipped" | "pending";

/** Everything that decides a snippet's pixels; a file made with other parameters is not reused. */
export interface SnippetParams {
  collection: string;
  /** [west, south, east, north] of the AOI, degrees. */
  aoiBounds: [number, number, number, number];
  scale: number;
  /** Explicit output CRS, or null for the AOI's UTM zone. */
  crs: string | null;
  /** The resolved rendering (bands, min, max, gamma, outline), defaults filled in. */
  style: Record<string, unknown>;
  /** Cloud-optimized with overviews; absent for plain files (and entries from before). */
  cog?: true;
}

export interface ManifestEntry {
  id: string;
  params: SnippetParams;
  /** File name inside the output directory (the manifest moves with the directory). */
  file: string;
  /**
   * done: downloaded and checksummed. skipped: found complete and valid, not downloaded again.
   * failed: the last attempt failed (see error). pending: an attempt started and has not
   * ended (a crash leaves this).
   */
  status: SnippetStatus;
  width?: number;
  height?: number;
  bands?: number;
  bandNames?: string[];
  sampleType?: string;
  /** Output CRS as written, e.g. "EPSG:32617". */
  crsCode?: string;
  /** GDAL order: [scaleX, shearX, translateX, shearY, scaleY, translateY]. */
  transform?: number[];
  /** Uncompressed pixel bytes. */
  pixelBytes?: number;
  /** Size of the file on disk. */
  bytes?: number;
  /** Overview levels in the file. */
  overviews?: number;
  /** Hex SHA-256 of the file as written; kept when a later attempt fails. */
  sha256?: string;
  error?: string;
  /** Download attempts started (skips do not count). */
  attempts: number;
  requests?: number;
  retries?: number;
  ms?: number;
  warnings?: string[];
  createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
}

export interface ManifestDocument {
  version: 1;
  createdAt: string;
  updatedAt: string;
  entries: Record<string, ManifestEntry>;
}

/** What a record call may set; id, timestamps and attempts are kept by the manifest. */
export type ManifestUpdate = Partial<
  Omit<ManifestEntry, "id" | "createdAt" | "updatedAt" | "startedAt" | "finishedAt" | "attempts">
>;

/** Why a snippet is or is not complete, for choosing between skip, download and refuse. */
export type CompletionState =
  | "complete"
  /** No entry, or an entry never finished: nothing to verify, just download. */
  | "absent"
  | "unfinished"
  /** The entry was made with other parameters. */
  | "params-changed"
  /** The entry says done but the file is gone. */
  | "missing-file"
  /** The file differs from what was written (size or checksum): corrupted or edited since. */
  | "corrupt";

export interface CompletionCheck {
  state: CompletionState;
  /** Human-readable reason, for messages. */
  reason: string;
  entry?: ManifestEntry;
  path?: string;
}

export class ManifestError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ManifestError";
  }
}

/** The file operations a manifest write uses; replaceable to simulate crashes and full disks. */
export interface ManifestFs {
  writeFile(path: string, data: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
}

export interface ManifestOpenOptions {
  /** Default "manifest.json". */
  fileName?: string;
  /** For tests: how temporary files are written and renamed. */
  fs?: ManifestFs;
  /** For tests: a private instance instead of the process-wide one for this file. */
  fresh?: boolean;
}

export const MANIFEST_FILE_NAME = "manifest.json";

const defaultFs: ManifestFs = {
  async writeFile(path, data) {
    const handle = await open(path, "wx");
    try {
      await handle.writeFile(data, "utf8");
      // Without fsync, a power cut after the rename can leave a renamed but empty file.
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  rename,
};

const instances = new Map<string, Manifest>();

interface FileStamp {
  size: number;
  mtimeMs: number;
  ino: number;
}

export class Manifest {
  /** Absolute path of the manifest file. */
  readonly path: string;
  /** Absolute path of the directory it describes. */
  readonly dir: string;
  private data: ManifestDocument;
  private readonly fs: ManifestFs;
  /** Writes snapshots of the document; records made during a write share the next one. */
  private readonly saver = new Coalescer(() => this.writeSnapshot());
  private unsaved = false;
  private stamp: FileStamp | undefined;

  private constructor(dir: string, path: string, data: ManifestDocument, fs: ManifestFs) {
    this.dir = dir;
    this.path = path;
    this.data = data;
    this.fs = fs;
  }

  /**
   * The manifest of `outDir` (which must exist), read from disk or new. The same instance is
   * returned for the same file within a process; if the file was changed or deleted by
   * someone else since this process last wrote it, it is read again.
   */
  static async open(outDir: string, options: ManifestOpenOptions = {}): Promise<Manifest> {
    const dir = resolve(outDir);
    const path = join(dir, options.fileName ?? MANIFEST_FILE_NAME);
    const cached = options.fresh ? undefined : instances.get(path);
    if (cached) {
      await cached.reloadIfChangedOutside();
      return cached;
    }
    await removeStaleTemporaries(dir, basename(path));
    const { data, stamp } = await readDocument(path);
    const manifest = new Manifest(dir, path, data, options.fs ?? defaultFs);
    manifest.stamp = stamp;
    if (!options.fresh) instances.set(path, manifest);
    return manifest;
  }

  /** The entry for an image id, a copy (changing it changes nothing). */
  entry(id: string): ManifestEntry | undefined {
    const entry = this.data.entries[id];
    return entry ? structuredClone(entry) : undefined;
  }

  /** All entries, in the order they were first recorded. */
  entries(): ManifestEntry[] {
    return Object.values(this.data.entries).map((entry) => structuredClone(entry));
  }

  /** A copy of the whole document, as it is (or is about to be) on disk. */
  document(): ManifestDocument {
    return structuredClone(this.data);
  }

  /**
   * Merges `update` into the entry for `id` and writes the manifest; resolves once a manifest
   * containing this update is on disk. A new entry needs `params` and `file`. Recording
   * status "pending" starts an attempt (attempts + 1, startedAt); done/failed/skipped set
   * finishedAt. Setting status clears a previous error unless `error` is given.
   */
  record(id: string, update: ManifestUpdate): Promise<ManifestEntry> {
    const now = new Date().toISOString();
    const previous = this.data.entries[id];
    if (!previous && (!update.params || !update.file)) {
      return Promise.reject(
        new ManifestError(
          `The first record for ${id} must include its params and file name (a bug in the caller).`,
        ),
      );
    }
    const entry: ManifestEntry = previous
      ? { ...previous }
      : {
          id,
          params: update.params as SnippetParams,
          file: update.file as string,
          status: "pending",
          attempts: 0,
          createdAt: now,
          updatedAt: now,
        };
    for (const [key, value] of Object.entries(update)) {
      if (value === undefined) delete (entry as unknown as Record<string, unknown>)[key];
      else (entry as unknown as Record<string, unknown>)[key] = structuredClone(value);
    }
    if (update.status !== undefined && !("error" in update)) delete entry.error;
    if (update.status === "pending") {
      entry.attempts += 1;
      entry.startedAt = now;
      delete entry.finishedAt;
    } else if (update.status !== undefined) {
      entry.finishedAt = now;
    }
    entry.updatedAt = now;
    this.data.entries[id] = entry;
    this.data.updatedAt = now;
    const copy = structuredClone(entry);
    this.unsaved = true;
    return this.saver.request().then(() => copy);
  }

  /** Resolves when every record made so far is on disk; retries a write that failed. */
  async flush(): Promise<void> {
    if (this.unsaved || this.saver.busy) await this.saver.request();
  }

  /**
   * Whether the snippet for `id` is complete: an entry with status done or skipped, made with
   * the same parameters, whose file exists with the recorded size and (with verify, the
   * default) the recorded SHA-256.
   */
  async isComplete(
    id: string,
    params: SnippetParams,
    options: { verify?: boolean } = {},
  ): Promise<boolean> {
    return (await this.check(id, params, options)).state === "complete";
  }

  /** Like isComplete, but says why not, so callers can tell "download it" from "refuse". */
  async check(
    id: string,
    params: SnippetParams,
    options: { verify?: boolean } = {},
  ): Promise<CompletionCheck> {
    const entry = this.entry(id);
    if (!entry) return { state: "absent", reason: `${id} is not in the manifest` };
    const path = join(this.dir, entry.file);
    const differences = paramDifferences(entry.params, params);
    if (differences.length > 0) {
      return {
        state: "params-changed",
        reason: `${id} was downloaded with other parameters (${differences.join("; ")})`,
        entry,
        path,
      };
    }
    const fileInfo = await stat(path).catch(() => undefined);
    if (entry.status !== "done" && entry.status !== "skipped") {
      // A failed attempt can leave the previous good file in place (downloads write to a
      // temporary name); if the checksum still matches, it is that good file.
      if (!entry.sha256 || !fileInfo) {
        return {
          state: "unfinished",
          reason: `${id}'s last attempt is ${entry.status}${entry.error ? ` (${entry.error})` : ""}`,
          entry,
          path,
        };
      }
    }
    if (!fileInfo?.isFile()) {
      return {
        state: "missing-file",
        reason: `${entry.file} is recorded as downloaded but is missing`,
        entry,
        path,
      };
    }
    if (entry.bytes !== undefined && fileInfo.size !== entry.bytes) {
      return {
        state: "corrupt",
        reason: `${entry.file} is ${fileInfo.size} bytes but was written with ${entry.bytes}`,
        entry,
        path,
      };
    }
    if (options.verify ?? true) {
      if (!entry.sha256) {
        return { state: "unfinished", reason: `${id} has no checksum recorded`, entry, path };
      }
      const actual = await sha256File(path);
      if (actual !== entry.sha256) {
        return {
          state: "corrupt",
          reason: `${entry.file}'s SHA-256 ${actual.slice(0, 12)}... differs from the ${entry.sha256.slice(0, 12)}... recorded when it was written`,
          entry,
          path,
        };
      }
    }
    return { state: "complete", reason: `${entry.file} is complete`, entry, path };
  }

  private async writeSnapshot(): Promise<void> {
    // Snapshot before the first await: records made during the write go into the next one.
    const text = `${JSON.stringify(this.data, null, 2)}\n`;
    this.unsaved = false;
    const temporary = `${this.path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    try {
      await this.fs.writeFile(temporary, text);
      await this.fs.rename(temporary, this.path);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      // The records stay in memory: the next record or flush writes them all again.
      this.unsaved = true;
      throw writeError(this.path, error);
    }
    this.stamp = await stampOf(this.path);
  }

  private async reloadIfChangedOutside(): Promise<void> {
    if (this.saver.busy || this.unsaved) return;
    const now = await stampOf(this.path);
    const same =
      now === this.stamp ||
      (now !== undefined &&
        this.stamp !== undefined &&
        now.size === this.stamp.size &&
        now.mtimeMs === this.stamp.mtimeMs &&
        now.ino === this.stamp.ino);
    if (same) return;
    const { data, stamp } = await readDocument(this.path);
    this.data = data;
    this.stamp = stamp;
  }
}

async function readDocument(
  path: string,
): Promise<{ data: ManifestDocument; stamp: FileStamp | undefined }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      const now = new Date().toISOString();
      return {
        data: { version: 1, createdAt: now, updatedAt: now, entries: {} },
        stamp: undefined,
      };
    }
    throw new ManifestError(
      `Cannot read the run manifest ${path} (${(error as NodeJS.ErrnoException).code ?? error}): check the output directory's permissions.`,
      { cause: error },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ManifestError(
      `The run manifest ${path} is not valid JSON (${(error as Error).message}). It was edited or damaged outside this program: fix it, or move it away to start a new one (existing files will then be downloaded again or adopted unverified).`,
      { cause: error },
    );
  }
  const document = parsed as Partial<ManifestDocument> | null;
  if (
    !document ||
    typeof document !== "object" ||
    document.version !== 1 ||
    !document.entries ||
    typeof document.entries !== "object"
  ) {
    throw new ManifestError(
      `${path} is not a version-1 snippet manifest: move it away, or choose another outDir.`,
    );
  }
  return { data: document as ManifestDocument, stamp: await stampOf(path) };
}

async function stampOf(path: string): Promise<FileStamp | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info ? { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino } : undefined;
}

/** Temporary manifests left by a process that died mid-write; live writers' are kept. */
async function removeStaleTemporaries(dir: string, fileName: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const pattern = new RegExp(`^${escapeRegExp(fileName)}\\.(\\d+)\\.[0-9a-f]+\\.tmp$`);
  for (const name of names) {
    const match = pattern.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    // Our own pid included: another instance in this process may be writing right now.
    if (isAlive(pid)) continue;
    await rm(join(dir, name), { force: true }).catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function writeError(path: string, error: unknown): ManifestError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const fix =
    code === "ENOSPC" || code === "EDQUOT"
      ? "the disk is full: free some space and rerun (the previous manifest is intact)"
      : "check that the output directory is writable and rerun (the previous manifest is intact)";
  const why = code ?? (error instanceof Error ? error.message : String(error));
  return new ManifestError(`Could not write the run manifest ${path} (${why}): ${fix}.`, {
    cause: error,
  });
}

/** Whether two parameter sets would give the same snippet (key order does not matter). */
export function sameParams(a: SnippetParams, b: SnippetParams): boolean {
  return paramDifferences(a, b).length === 0;
}

function paramDifferences(recorded: SnippetParams, wanted: SnippetParams): string[] {
  const out: string[] = [];
  const keys = new Set([...Object.keys(recorded ?? {}), ...Object.keys(wanted)]);
  for (const key of keys) {
    const a = canonical((recorded as unknown as Record<string, unknown>)?.[key]);
    const b = canonical((wanted as unknown as Record<string, unknown>)[key]);
    if (a !== b) out.push(`${key}: ${a ?? "unset"} then, ${b ?? "unset"} now`);
  }
  return out;
}

/** JSON with sorted keys, so {a,b} and {b,a} compare equal. */
function canonical(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)),
        )
      : v,
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
