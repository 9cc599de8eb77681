/**
 * Modelled time: replies wait until the cost model's latency (and per-megapixel time) has
 * passed since arrival, and bodies leave at the model's bandwidth.
 */
import type http from "node:http";
import type { CostModel } from "./costs";
import type { Reply } from "./http";

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function delayUntil(time: number): Promise<void> {
  const wait = time - Date.now();
  if (wait > 0) await sleep(wait);
}

export class Pacer {
  constructor(private readonly model: CostModel) {}

  /** Waits out the model's fixed latency, counted from the request's arrival. */
  latency(started: number): Promise<void> {
    return delayUntil(started + this.model.latencyMs);
  }

  /** Waits out the latency plus the model's compute time for `pixels` output pixels. */
  compute(started: number, pixels: number): Promise<void> {
    return delayUntil(started + this.model.latencyMs + (this.model.msPerMegapixel * pixels) / 1e6);
  }

  /** Writes the body at the model's bandwidth; a truncated reply promises more than it sends. */
  async send(res: http.ServerResponse, reply: Reply, truncate: boolean): Promise<void> {
    res.writeHead(reply.status, {
      "Content-Type": reply.contentType,
      "Content-Length": String(reply.body.length),
    });
    const body = truncate ? reply.body.subarray(0, Math.floor(reply.body.length / 2)) : reply.body;
    const bytesPerMs = (this.model.bandwidthMBps * 1e6) / 1000;
    const chunk = 256 * 1024;
    const start = Date.now();
    for (let offset = 0; offset < body.length; offset += chunk) {
      const end = Math.min(body.length, offset + chunk);
      const piece = body.subarray(offset, end);
      // Pace before writing: a client holding the last byte must find this request finished
      // (no longer counted in flight), or a client at the concurrency quota would see 429s.
      if (bytesPerMs > 0) await delayUntil(start + end / bytesPerMs);
      if (res.destroyed) return;
      if (end === body.length && !truncate) {
        res.end(piece);
        return;
      }
      if (!res.write(piece)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off("drain", done);
            res.off("close", done);
            resolve();
          };
          res.on("drain", done);
          res.on("close", done);
        });
      }
    }
    if (truncate) {
      res.destroy();
      return;
    }
    res.end();
  }
}
