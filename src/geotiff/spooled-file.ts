/**
 * The writer's temporary file, spooled: while the file is small its byte ranges are held in
 * memory and reach the disk in one write at finish(); past IN_MEMORY_FILE_BYTES they spill to
 * the file and later appends go straight to it. Every operation throws the writer's failure
 * once it has one, and turns an I/O error into that failure.
 */
import type { FileHandle } from "node:fs/promises";
import { discardTemporaryFile, type TemporaryFile } from "./destination";

/**
 * Files up to this size are assembled in memory and reach the disk in one write at finish():
 * a small snippet then costs a handful of file operations instead of one per tile plus the
 * header and index, and its checksum comes from memory instead of reading the file back.
 * Larger files spill to the temporary file on the way and stream from then on, so memory per
 * writer stays bounded by this.
 */
export const IN_MEMORY_FILE_BYTES = 2 * 1024 * 1024;

/** A byte range of the file held in memory. */
interface HeldRange {
  position: number;
  bytes: Uint8Array;
}

export class SpooledFile implements TemporaryFile {
  /** Where the next appended range starts: bytes reserved so far, written or not. */
  end: number;
  /** Bytes the temporary file really received (memory holds the rest until a spill or finish). */
  bytesOnDisk = 0;
  /** Appended byte ranges not yet on disk (small files); undefined once spilled to the file. */
  private held: HeldRange[] | undefined = [];
  private spilled: Promise<void> | undefined;

  /**
   * `failure` is the writer's terminal failure, if any; `ioFailure` turns an I/O error into
   * it (deleting the file).
   */
  constructor(
    readonly tempPath: string,
    readonly handle: FileHandle,
    end: number,
    private readonly failure: () => Error | undefined,
    private readonly ioFailure: (error: unknown) => Promise<Error>,
  ) {
    this.end = end;
  }

  /** Stores bytes at a position of the file: in memory while the file is small, else on disk. */
  async append(bytes: Uint8Array, position: number): Promise<void> {
    const failure = this.failure();
    if (failure) throw failure;
    if (
      this.held &&
      this.end <= IN_MEMORY_FILE_BYTES &&
      position + bytes.byteLength <= IN_MEMORY_FILE_BYTES
    ) {
      this.held.push({ position, bytes });
      return;
    }
    await this.spill();
    await this.writeAt(bytes, position);
  }

  /**
   * The whole file (`size` bytes) when memory still holds it, and memory lets go of it;
   * undefined once it spilled to disk.
   */
  takeHeld(size: number): Buffer | undefined {
    if (!this.held) return undefined;
    const file = assemble(this.held, size);
    this.held = undefined;
    return file;
  }

  /** Lets go of what memory holds (the writer failed). */
  dropHeld(): void {
    this.held = undefined;
  }

  writeAt(bytes: Uint8Array, position: number): Promise<void> {
    return this.writeTo(this.handle, bytes, position);
  }

  /** Writes at a position of `handle` (this file, or the COG copy), counting bytesOnDisk. */
  async writeTo(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
    const failure = this.failure();
    if (failure) throw failure;
    try {
      let done = 0;
      while (done < bytes.byteLength) {
        const { bytesWritten } = await handle.write(
          bytes,
          done,
          bytes.byteLength - done,
          position + done,
        );
        done += bytesWritten;
        this.bytesOnDisk += bytesWritten;
      }
    } catch (error) {
      throw await this.ioFailure(error);
    }
  }

  async readFrom(into: Buffer, position: number): Promise<void> {
    const failure = this.failure();
    if (failure) throw failure;
    try {
      let done = 0;
      while (done < into.length) {
        const { bytesRead } = await this.handle.read(
          into,
          done,
          into.length - done,
          position + done,
        );
        if (bytesRead === 0) throw new Error(`unexpected end of ${this.tempPath}`);
        done += bytesRead;
      }
    } catch (error) {
      throw await this.ioFailure(error);
    }
  }

  /** Fsyncs and closes `handle` (this file, or the COG copy). */
  async syncAndClose(handle: FileHandle): Promise<void> {
    try {
      await handle.sync();
      await handle.close();
    } catch (error) {
      throw await this.ioFailure(error);
    }
  }

  /** Closes and deletes the file. */
  discard(): Promise<void> {
    return discardTemporaryFile(this);
  }

  /** Writes what memory holds to the temporary file, once; later appends go straight to it. */
  private spill(): Promise<void> {
    if (!this.spilled) {
      const held = this.held ?? [];
      this.held = undefined;
      this.spilled = (async () => {
        for (const part of held) await this.writeAt(part.bytes, part.position);
      })();
    }
    return this.spilled;
  }
}

/** The file from its byte ranges, later ranges over earlier ones (the header's patched offset). */
function assemble(parts: HeldRange[], size: number): Buffer {
  const file = Buffer.alloc(size);
  for (const part of parts) file.set(part.bytes, part.position);
  return file;
}
