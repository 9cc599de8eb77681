/**
 * Admission: what happens to a request before any handler sees it. Earth Engine's quotas
 * (concurrent requests, requests per second) apply to work, that is computations; the
 * injected faults (server errors, resets, truncations, stalls) apply to work and, when the
 * model says so, to metadata requests; never to the token endpoint.
 */
import { type CostModel, FaultInjector, SlidingWindow } from "./costs";
import { EeApiError, resourceExhausted } from "./errors";
import { errorReply, type Reply } from "./http";
import { sleep } from "./pacing";

/** How the quotas and faults treat a route. */
export type RouteKind = "work" | "metadata" | "token";

export type Admission =
  /** Drop the connection without a reply (an injected reset). */
  | { kind: "reset" }
  /** Answer with this reply instead of the handler's (a quota refusal or an injected error). */
  | { kind: "refuse"; reply: Reply; truncate: boolean }
  /** Run the handler; `truncate` cuts its reply short (an injected fault). */
  | { kind: "serve"; truncate: boolean };

/**
 * Earth Engine's usage guide gives a request over the concurrent-request quota as "HTTP 429:
 * Too Many Requests" (the clients retry it). "Too many concurrent aggregations." is another
 * limit (aggregations inside one computation), so it is not what this quota answers.
 */
export function concurrencyQuotaMessage(maxConcurrent: number): string {
  return `Too Many Requests: more than ${maxConcurrent} concurrent requests for this project (Earth Engine's concurrent-request quota). Retry with exponential backoff.`;
}

export class AdmissionControl {
  private readonly faults: FaultInjector;
  private readonly rate = new SlidingWindow();
  private workInFlight = 0;

  constructor(private readonly model: CostModel) {
    this.faults = new FaultInjector(model.faults, model.seed);
  }

  /**
   * Decides a request's fate; it counts as in flight from here until `release(kind)`, which the
   * caller must call whatever the decision.
   */
  async admit(kind: RouteKind, started: number): Promise<Admission> {
    const isWork = kind === "work";
    if (isWork) this.workInFlight++;
    const faultable = isWork || (this.model.faults.includeMetadata && kind !== "token");
    const fault = faultable ? this.faults.next() : ({ kind: "none" } as const);
    if (fault.kind === "reset") return { kind: "reset" };
    const truncate = fault.kind === "truncate";
    if (isWork && this.workInFlight > this.model.maxConcurrent) {
      return {
        kind: "refuse",
        reply: errorReply(resourceExhausted(concurrencyQuotaMessage(this.model.maxConcurrent))),
        truncate,
      };
    }
    if (isWork && !this.rate.tryAdmit(started, this.model.maxRequestsPerSecond)) {
      return {
        kind: "refuse",
        reply: errorReply(
          resourceExhausted(
            `Quota exceeded: more than ${this.model.maxRequestsPerSecond} requests per second for this project. Retry with exponential backoff.`,
          ),
        ),
        truncate,
      };
    }
    if (fault.kind === "stall") await sleep(fault.ms);
    if (fault.kind === "serverError") {
      await sleep(this.model.latencyMs);
      const error =
        fault.status === 503
          ? new EeApiError(503, "UNAVAILABLE", "The service is currently unavailable.")
          : new EeApiError(
              500,
              "INTERNAL",
              "An internal error has occurred (injected by the emulator).",
            );
      return { kind: "refuse", reply: errorReply(error), truncate };
    }
    return { kind: "serve", truncate };
  }

  release(kind: RouteKind): void {
    if (kind === "work") this.workInFlight--;
  }
}
