/**
 * GET /$discovery/rest?version=v1: Earth Engine's REST discovery document, reduced to the
 * methods the emulator serves (discovery.json, no schemas: every body is "any"), so clients
 * built on google-api-python-client (the Python `ee` package, geemap, geedim) initialize
 * against the emulator. rootUrl and baseUrl name the emulator itself.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { EeApiError } from "../errors";
import { type Handler, jsonReply } from "../http";
import type { Pacer } from "../pacing";

export const DISCOVERY_PATH = "/$discovery/rest";
export const DISCOVERY_FILE = path.join(__dirname, "..", "discovery.json");

const DOCUMENT = JSON.parse(readFileSync(DISCOVERY_FILE, "utf8")) as Record<string, unknown>;

/** The document with the emulator's own base URL ("http://127.0.0.1:PORT/"). */
export function discoveryDocument(baseUrl: string): Record<string, unknown> {
  return { ...DOCUMENT, rootUrl: baseUrl, baseUrl };
}

export function discoveryHandler(pacer: Pacer): Handler {
  return async (context) => {
    await context.drain();
    const version = context.url.searchParams.get("version") ?? "v1";
    if (version !== "v1") {
      throw new EeApiError(
        404,
        "NOT_FOUND",
        `Discovery document for version '${version}' not found: the emulator serves v1.`,
      );
    }
    const { localPort } = context.req.socket;
    await pacer.latency(context.started);
    return jsonReply(200, discoveryDocument(`http://127.0.0.1:${localPort}/`));
  };
}
