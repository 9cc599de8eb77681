/**
 * Where snippet files go. File names come from image ids, which come from a server: an id is
 * untrusted text, so it is checked to name exactly one file inside the output directory.
 * The directory itself is checked before any download so that a typo or a read-only mount is
 * reported in a second, not after an hour of requests.
 */
import { randomBytes } from "node:crypto";
import { lstat, mkdir, open, readdir, rm, stat, unlink } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, resolve, sep } from "node:path";
import { partialFileWriter } from "../geotiff/destination";

export class OutputPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OutputPathError";
  }
}

export class OutputDirError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.name = "OutputDirError";
    this.code = code;
  }
}

export const DEFAULT_SNIPPET_SUFFIX = "_L2A.tif";

/**
 * Most file systems (ext4, APFS, NTFS) cap a name at 255 bytes; the download engine adds a
 * temporary suffix of a few dozen bytes, so 200 leaves it room.
 */
export const MAX_FILE_NAME_BYTES = 200;

// Windows drive letters ("C:") and alternate data streams ("x:y") both use a colon; no Earth
// Engine system:index contains one, so any colon is refused.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const FORBIDDEN_CHARACTERS = /[\u0000-\u001f\u007f/\\:*?"<>|]/;

/**
 * The path of the snippet file for `imageId` in `outDir`: `${outDir}/${imageId}${suffix}`.
 * Throws OutputPathError when the id could name anything else: empty, ".", "..", any "..",
 * slashes or backslashes, NUL and control characters, a drive letter, or too long a name.
 */
export function snippetPath(
  outDir: string,
  imageId: string,
  suffix: string = DEFAULT_SNIPPET_SUFFIX,
): string {
  if (typeof outDir !== "string" || outDir.trim() === "") {
    throw new OutputPathError(
      `outDir must be a directory path such as "data/out", got ${describe(outDir)}.`,
    );
  }
  if (outDir.includes("\u0000")) {
    throw new OutputPathError("outDir contains a NUL character: pass a plain directory path.");
  }
  checkNamePart("image id", imageId);
  if (suffix !== "") checkNamePart("file suffix", suffix, true);
  const name = `${imageId}${suffix}`;
  const nameBytes = Buffer.byteLength(name, "utf8");
  if (nameBytes > MAX_FILE_NAME_BYTES) {
    throw new OutputPathError(
      `The file name for image id ${preview(imageId)} would be ${nameBytes} bytes, over the ${MAX_FILE_NAME_BYTES}-byte limit: pass the image's system:index (e.g. "20240105T153619_20240105T154242_T17PMK"), not a longer string.`,
    );
  }
  const dir = resolve(outDir);
  const path = join(dir, name);
  // Belt and braces: whatever the checks above missed, the result must be a direct child.
  if (dirname(path) !== dir || basename(path) !== name) {
    throw new OutputPathError(
      `Image id ${preview(imageId)} does not name a file inside ${dir}: pass the image's system:index.`,
    );
  }
  return path;
}

function checkNamePart(what: string, value: string, isSuffix = false): void {
  if (typeof value !== "string" || value === "") {
    throw new OutputPathError(
      `The ${what} must be a non-empty string, got ${describe(value)}: pass the image's system:index from findImages.`,
    );
  }
  const fix = isSuffix
    ? 'use a plain suffix such as "_L2A.tif"'
    : 'pass the image\'s system:index (the part after the collection, e.g. "20240105T153619_20240105T154242_T17PMK")';
  if (value.includes("\u0000")) {
    throw new OutputPathError(`The ${what} ${preview(value)} contains a NUL character: ${fix}.`);
  }
  if (isAbsolute(value) || /^[A-Za-z]:/.test(value)) {
    throw new OutputPathError(
      `The ${what} ${preview(value)} is an absolute path or starts with a drive letter, so it would be written outside the output directory: ${fix}.`,
    );
  }
  if (value.includes("..")) {
    throw new OutputPathError(
      `The ${what} ${preview(value)} contains "..", which could leave the output directory: ${fix}.`,
    );
  }
  const bad = FORBIDDEN_CHARACTERS.exec(value);
  if (bad) {
    const shown = bad[0] === "/" || bad[0] === "\\" ? `"${bad[0]}"` : JSON.stringify(bad[0]);
    throw new OutputPathError(
      `The ${what} ${preview(value)} contains ${shown}, which file names cannot safely hold: ${fix}.`,
    );
  }
  if (!isSuffix && (value === "." || value.trim() !== value || value.endsWith("."))) {
    throw new OutputPathError(
      `The ${what} ${preview(value)} has leading/trailing spaces or a trailing dot, which some systems drop from file names: ${fix}.`,
    );
  }
}

/**
 * Makes sure `outDir` exists (creating it with its parents) and that a file can be created in
 * it, by creating and removing a probe file. Returns the absolute directory. Throws
 * OutputDirError naming the problem and the fix. Permission bits alone prove nothing (root
 * ignores them; read-only mounts and full disks do not show in them), hence the probe.
 */
export async function ensureOutputDir(outDir: string): Promise<string> {
  if (typeof outDir !== "string" || outDir.trim() === "" || outDir.includes("\u0000")) {
    throw new OutputDirError(
      `outDir must be a directory path such as "data/out", got ${describe(outDir)}.`,
    );
  }
  const dir = resolve(outDir);
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw dirError(dir, error, "create");
  }
  const info = await stat(dir).catch((error: unknown) => {
    throw dirError(dir, error, "read");
  });
  if (!info.isDirectory()) {
    throw new OutputDirError(
      `The output path ${dir} exists but is not a directory: choose another outDir.`,
      "ENOTDIR",
    );
  }
  const probe = join(dir, `.write-test-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    const handle = await open(probe, "wx");
    try {
      await handle.write("ok");
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await rm(probe, { force: true }).catch(() => undefined);
    throw dirError(dir, error, "write");
  }
  await rm(probe, { force: true });
  return dir;
}

function dirError(
  dir: string,
  error: unknown,
  action: "create" | "read" | "write",
): OutputDirError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  let why: string;
  switch (code) {
    case "ENOTDIR":
      why = "a part of the path is a file, not a directory";
      break;
    case "EACCES":
    case "EPERM":
      why = "permission denied";
      break;
    case "EROFS":
      why = "the file system is read-only";
      break;
    case "ENOSPC":
    case "EDQUOT":
      why = "the disk is full (or over quota)";
      break;
    case "ENOENT":
      why = "a part of the path does not exist and cannot be created";
      break;
    case "EEXIST":
      why = "it exists but is not a directory";
      break;
    default:
      why = code ?? (error instanceof Error ? error.message : String(error));
  }
  const fix =
    code === "ENOSPC" || code === "EDQUOT"
      ? "free some space or choose an outDir on another disk"
      : code === "EEXIST" || code === "ENOTDIR"
        ? "choose another outDir"
        : `choose an outDir you can write to (e.g. "data/out" inside the project) or fix its permissions`;
  return new OutputDirError(`Cannot ${action} the output directory ${dir}: ${why}: ${fix}.`, code);
}

function preview(value: string): string {
  const shown = value.length > 60 ? `${value.slice(0, 60)}...` : value;
  return JSON.stringify(shown);
}

function describe(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : typeof value;
}

/** True when `path` lies inside `dir` (both resolved); for callers that join paths themselves. */
export function isInside(dir: string, path: string): boolean {
  const d = resolve(dir);
  const p = resolve(path);
  return p.startsWith(d.endsWith(sep) ? d : d + sep);
}

/**
 * A partial file without a writer's pid is taken as abandoned once untouched this long: a
 * live writer appends tiles as they arrive, seconds apart, never an hour.
 */
export const LEGACY_PARTIAL_AGE_MS = 60 * 60 * 1000;

export interface StalePartials {
  /** Files removed and the bytes they held. */
  files: number;
  bytes: number;
  /** Partial files kept because their writer is alive (or might be). */
  kept: number;
}

/** Whether process `pid` exists on this machine: signal 0 checks without signalling. */
function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user; only ESRCH says it is gone.
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/**
 * Removes the temporary files that killed runs left in `dir` (a SIGKILL or a crash gives the
 * writer no chance to delete its own): only files of the writer's naming scheme, only when
 * the process named in the file is gone (or, for names without a pid, the file is older than
 * LEGACY_PARTIAL_AGE_MS). A partial file of a live writer, in this process or another, is
 * kept. Pids are this machine's: a directory shared with other hosts may hold a file whose
 * pid names an unrelated local process, which keeps it, never the reverse.
 */
export async function removeStalePartials(
  dir: string,
  now: number = Date.now(),
): Promise<StalePartials> {
  const result: StalePartials = { files: 0, bytes: 0, kept: 0 };
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return result;
  }
  for (const name of names) {
    const writer = partialFileWriter(name);
    if (writer === undefined) continue;
    const path = join(dir, name);
    const info = await lstat(path).catch(() => undefined);
    if (!info?.isFile()) continue;
    const stale =
      writer !== null ? !processAlive(writer) : now - info.mtimeMs > LEGACY_PARTIAL_AGE_MS;
    if (!stale) {
      result.kept++;
      continue;
    }
    try {
      await unlink(path);
      result.files++;
      result.bytes += info.size;
    } catch (error) {
      // Another run removed it first; anything else (permissions) leaves it for the user.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") result.kept++;
    }
  }
  return result;
}
