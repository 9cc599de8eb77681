/**
 * /emulator/*: the emulator's own endpoints, not Earth Engine's. GET /emulator/status reports
 * the cost model, request counts and render threads; POST /emulator/reset-stats zeroes the
 * counts (a benchmark calls it between scenarios).
 */
import { EeApiError } from "../errors";
import { type Handler, jsonReply } from "../http";
import { RESET_STATS_PATH, STATUS_PATH } from "../protocol";

export interface AdminControls {
  status(): unknown;
  resetStats(): void;
}

export function adminHandler(controls: AdminControls): Handler {
  return async (context) => {
    const { method } = context;
    const path = context.url.pathname;
    if (method === "GET" && path === STATUS_PATH) return jsonReply(200, controls.status());
    if (method === "POST" && path === RESET_STATS_PATH) {
      await context.drain();
      controls.resetStats();
      return jsonReply(200, controls.status());
    }
    throw new EeApiError(404, "NOT_FOUND", `No admin endpoint ${method} ${path}.`);
  };
}
