/**
 * The output file of one download: a GeoTiffWriter opened once the first requests are on
 * their way, finished at the end, or discarded (temporary file deleted) on failure.
 */
import type { GeoTiffSpec } from "../geotiff/spec";
import { type FinishedFile, GeoTiffWriter } from "../geotiff/writer";

export class OutputFile {
  /** Resolves with the open writer; tiles may be handed to it before it is open. */
  readonly writer: Promise<GeoTiffWriter>;
  /** Why the file could not be opened; set only when that, not an abort, stopped the download. */
  openError: unknown;
  /** Set once the writer is open, cleared once finished: what discard() aborts. */
  private open: GeoTiffWriter | undefined;

  /**
   * The file is prepared (directory checked, temporary file created) once the first requests
   * are on their way: setImmediate runs after this turn's requests are written to their
   * sockets, so when many downloads start together, no request waits for another's file. A
   * problem found there aborts `controller` (cancelling the requests) and is the error
   * reported. Aborting `controller` drops queued tiles at once.
   */
  constructor(
    path: string,
    spec: GeoTiffSpec,
    o: { overwrite: boolean | undefined; controller: AbortController },
  ) {
    const { signal } = o.controller;
    const opening = new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      GeoTiffWriter.open(path, spec, { overwrite: o.overwrite, signal }),
    );
    this.writer = opening.then(
      (open) => {
        this.open = open;
        return open;
      },
      (error: unknown) => {
        // Failing because the download was already stopping says nothing new.
        if (!signal.aborted) {
          this.openError = error;
          o.controller.abort(error);
        }
        throw error;
      },
    );
    // Reported after the requests have stopped, not as an unhandled rejection meanwhile.
    this.writer.catch(() => undefined);
  }

  async finish(): Promise<FinishedFile> {
    const finished = await (await this.writer).finish();
    this.open = undefined;
    return finished;
  }

  /** Waits for a writer still opening, then deletes its temporary file: none outlives the download. */
  async discard(): Promise<void> {
    await this.writer.catch(() => undefined);
    if (this.open) await this.open.abort().catch(() => undefined);
  }
}
