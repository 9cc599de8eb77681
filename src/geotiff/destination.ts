/**
 * Where a GeoTIFF lands: a temporary file created next to the destination (after checking the
 * directory and the path), then published under its name atomically, without replacing a file
 * unless asked, and with the directory entry synced.
 */
import { randomUUID } from "node:crypto";
import { type FileHandle, link, lstat, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Coalescer } from "../run/coalesce";
import {
  GeoTiffDirectoryError,
  GeoTiffDiskFullError,
  type GeoTiffError,
  GeoTiffExistsError,
} from "./errors";

/** A temporary file ready to receive the GeoTIFF destined for `target`. */
export interface TemporaryFile {
  tempPath: string;
  handle: FileHandle;
}

/** The writer's temporary name for `name`: `.<name>.partial-<pid>-<random>`. */
function partialFileName(name: string): string {
  return `.${name}.partial-${process.pid}-${randomUUID().slice(0, 13)}`;
}

/** partialFileName's form, and `.<name>.partial-<random>` from versions without the pid. */
const PARTIAL_FILE = /^\..+\.partial-(?:(\d+)-)?[0-9a-f]{8}-[0-9a-f]{4}$/;

/**
 * For a temporary file of the writer: the pid of the process that wrote it, or null for names
 * from versions that did not record it. Undefined for any other name.
 */
export function partialFileWriter(name: string): number | null | undefined {
  const match = PARTIAL_FILE.exec(name);
  if (!match) return undefined;
  return match[1] === undefined ? null : Number(match[1]);
}

/**
 * Checks the destination (directory exists and is writable; `target` free unless overwrite)
 * and creates the temporary file next to it, so the final rename stays on one filesystem.
 * `bytesNeeded` is for the disk-full message.
 */
export async function createTemporaryFile(
  target: string,
  o: { overwrite: boolean; bytesNeeded: number },
): Promise<TemporaryFile> {
  const directory = dirname(target);
  // Hidden, same directory, random suffix: concurrent writers never collide and a crash
  // leaves an obviously partial file, never one under the final name. The writer's pid in
  // the name tells a later run whether the file is still being written (see
  // src/snippets/outputs.ts's removeStalePartials).
  const tempPath = join(directory, partialFileName(basename(target)));
  // Two file operations, side by side: many downloads open files at once, and each
  // operation waits its turn in libuv's small thread pool. Creating the temporary file is
  // also the directory check: its error says whether the directory is missing, not a
  // directory, or not writable.
  // Read and write: the COG layout copies the tiles back out of it (cog-layout.ts).
  const [created, targetCheck] = await Promise.allSettled([open(tempPath, "wx+"), lstat(target)]);
  if (created.status === "rejected") {
    throw directoryError(directory, target, created.reason, o.bytesNeeded);
  }
  const handle = created.value;
  const discard = () => discardTemporaryFile({ tempPath, handle });
  let existing: Awaited<ReturnType<typeof lstat>> | undefined;
  if (targetCheck.status === "fulfilled") existing = targetCheck.value;
  else if ((targetCheck.reason as NodeJS.ErrnoException).code !== "ENOENT") {
    await discard();
    const code = (targetCheck.reason as NodeJS.ErrnoException).code;
    throw new GeoTiffDirectoryError(
      directory,
      `cannot check ${target} (${code})`,
      targetCheck.reason,
    );
  }
  if (existing?.isDirectory()) {
    await discard();
    throw new GeoTiffDirectoryError(
      directory,
      `${target} is a directory; give a file name ending in .tif`,
    );
  }
  if (existing && !o.overwrite) {
    await discard();
    throw new GeoTiffExistsError(target);
  }
  return { tempPath, handle };
}

/** Closes and deletes a temporary file; errors are ignored (it may be gone already). */
export async function discardTemporaryFile(file: TemporaryFile): Promise<void> {
  await file.handle.close().catch(() => undefined);
  await unlink(file.tempPath).catch(() => undefined);
}

/** Moves the finished temp file to `path`, atomically and without clobbering unless `overwrite`. */
export async function publish(tempPath: string, path: string, overwrite: boolean): Promise<void> {
  if (overwrite) {
    await rename(tempPath, path);
  } else {
    // link() fails with EEXIST if the name appeared meanwhile, where rename() would replace it.
    try {
      await link(tempPath, path);
      await unlink(tempPath);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") {
        // Keep the finished file: abort() deletes it, or the caller moves it by hand.
        throw new GeoTiffExistsError(
          path,
          `Another process created it while this one was written; the finished file is at ${tempPath}.`,
        );
      }
      // Filesystems without hard links (some network and FUSE mounts): check, then rename.
      if (
        await lstat(path).then(
          () => true,
          () => false,
        )
      )
        throw new GeoTiffExistsError(path);
      await rename(tempPath, path);
    }
  }
  // Persist the directory entry too, so a crash right after finish() keeps the file.
  await syncDirectory(dirname(path));
}

/**
 * One fsync per directory for every file renamed into it meanwhile: a batch of snippets
 * finishing together shares a few syncs of their directory instead of one each.
 */
const directorySyncs = new Map<string, Coalescer>();

async function syncDirectory(directory: string): Promise<void> {
  let syncer = directorySyncs.get(directory);
  if (!syncer) {
    syncer = new Coalescer(async () => {
      try {
        const handle = await open(directory, "r");
        await handle.sync().finally(() => handle.close());
      } catch {
        // Best effort: some platforms cannot fsync a directory; the data itself is synced.
      }
    });
    directorySyncs.set(directory, syncer);
  }
  try {
    await syncer.request();
  } finally {
    if (!syncer.busy) directorySyncs.delete(directory);
  }
}

/** Why the temporary file could not be created, as the thing to fix in `directory`. */
function directoryError(
  directory: string,
  target: string,
  error: unknown,
  bytesNeeded: number,
): GeoTiffError {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return new GeoTiffDirectoryError(
        directory,
        "it does not exist; create it first (mkdir -p)",
        error,
      );
    case "ENOTDIR":
      return new GeoTiffDirectoryError(directory, "it is not a directory", error);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new GeoTiffDirectoryError(
        directory,
        "it is not writable; fix its permissions or choose another directory",
        error,
      );
    case "ENOSPC":
    case "EDQUOT":
      return new GeoTiffDiskFullError(target, { bytesWritten: 0, bytesNeeded, cause: error });
    default:
      return new GeoTiffDirectoryError(directory, `cannot create a file there (${code})`, error);
  }
}
