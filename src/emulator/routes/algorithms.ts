/** GET /v1/projects/{p}/algorithms: the catalog the official client builds its API from. */
import { listAlgorithms } from "../catalog";
import { type Handler, jsonReply } from "../http";
import type { Pacer } from "../pacing";

export function algorithmsHandler(pacer: Pacer): Handler {
  return async (context) => {
    await pacer.latency(context.started);
    return jsonReply(200, listAlgorithms());
  };
}
