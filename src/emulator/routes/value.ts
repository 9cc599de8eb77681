/** POST /v1/projects/{p}/value:compute: evaluates an expression to JSON (getInfo). */
import { evaluateExpression } from "../evaluate";
import { toJson } from "../functions-describe";
import { type Handler, jsonReply } from "../http";
import type { Pacer } from "../pacing";

export function valueHandler(pacer: Pacer): Handler {
  return async (context) => {
    const body = await context.json();
    const result = toJson(evaluateExpression(body.expression));
    await pacer.latency(context.started);
    return jsonReply(200, { result });
  };
}
