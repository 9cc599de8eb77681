/** POST /v1/projects/{p}/image:computePixels: an image's pixels on a grid, in a file format. */
import type { CostModel } from "../costs";
import { EmulatorInputError } from "../errors";
import type { Handler, Reply } from "../http";
import type { Pacer } from "../pacing";
import type { RenderPool } from "../render-pool";
import type { PixelJob } from "../render-worker";

/**
 * Renders on the pool, checks included (src/emulator/pixel-request.ts), so the event loop
 * stays free to accept and timestamp other requests and the render hides inside the
 * modelled time; replies when that time is up. Shared by computePixels and getPixels.
 */
export class PixelRenderer {
  constructor(
    private readonly pool: RenderPool,
    private readonly model: CostModel,
    private readonly pacer: Pacer,
  ) {}

  async reply(job: Pick<PixelJob, "source" | "request">, started: number): Promise<Reply> {
    const { bytes, contentType, pixels } = await this.pool.run({
      ...job,
      memoryLimitPixels: this.model.faults.memoryLimitPixels,
    });
    const timeoutPixels = this.model.faults.computeTimeoutPixels;
    // Earth Engine answers its deadline with 400 INVALID_ARGUMENT, as it does the memory limit.
    if (timeoutPixels > 0 && pixels > timeoutPixels) {
      throw new EmulatorInputError("Computation timed out.");
    }
    await this.pacer.compute(started, pixels);
    return {
      status: 200,
      contentType,
      body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    };
  }
}

export function computePixelsHandler(renderer: PixelRenderer): Handler {
  return async (context) =>
    renderer.reply({ source: "computePixels", request: await context.body() }, context.started);
}
