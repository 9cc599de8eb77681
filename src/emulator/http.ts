/**
 * Replies and request bodies as the route handlers see them: a handler returns a Reply and
 * the server writes it (paced, perhaps truncated by a fault).
 */
import type http from "node:http";
import { EeApiError } from "./errors";
import { parseJsonBody } from "./pixel-request";

export interface Reply {
  status: number;
  contentType: string;
  body: Buffer;
}

export function jsonReply(status: number, value: unknown): Reply {
  return {
    status,
    contentType: "application/json; charset=utf-8",
    body: Buffer.from(JSON.stringify(value)),
  };
}

/** Earth Engine's error JSON: `{"error": {"code", "message", "status"}}`. */
export function errorReply(error: EeApiError): Reply {
  return jsonReply(error.httpStatus, error.toJSON());
}

/** The request body, refused over `maxBytes` (413). */
export function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  const tooLarge = (size: string) =>
    new EeApiError(
      413,
      "INVALID_ARGUMENT",
      `Request body${size} exceeds the emulator's ${maxBytes}-byte limit.`,
    );
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > maxBytes) {
    req.resume();
    return Promise.reject(tooLarge(` (${declared} bytes)`));
  }
  // Plain listeners, not `for await`: an async iterator per request costs the event loop more
  // than the small JSON bodies it reads, and that loop is what timestamps arrivals.
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on("data", (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > maxBytes) {
        refused = true;
        reject(tooLarge(""));
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => {
      if (!refused) resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    });
    req.once("error", reject);
  });
}

/** One request as a handler sees it. */
export class RequestContext {
  constructor(
    readonly req: http.IncomingMessage,
    readonly url: URL,
    /** When the request arrived (ms since epoch): modelled time counts from here. */
    readonly started: number,
    private readonly maxBodyBytes: number,
  ) {}

  get method(): string {
    return this.req.method ?? "GET";
  }

  body(): Promise<Buffer> {
    return readBody(this.req, this.maxBodyBytes);
  }

  async json(): Promise<Record<string, unknown>> {
    return parseJsonBody(await this.body());
  }

  /** Reads and drops the body (still capped), so the connection can be reused. */
  async drain(): Promise<void> {
    await this.body();
  }
}

export type Handler = (context: RequestContext) => Promise<Reply>;
