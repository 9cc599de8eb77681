import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AuthorizationError, DownloadAbortedError, RequestError } from "../../src/ee/errors";
import {
  backoffDelay,
  classifyFailure,
  defaultRetryPolicy,
  parseRetryAfter,
  withRetries,
} from "../../src/ee/retry";

const transient = (retryAfterSeconds?: number) =>
  new RequestError("HTTP 503", { status: 503, retryable: true, retryAfterSeconds });

describe("retry classification", () => {
  it("sorts failures into retry, split, fatal and abort", () => {
    assert.equal(classifyFailure(transient()), "retry");
    assert.equal(
      classifyFailure(new RequestError("429", { status: 429, retryable: true })),
      "retry",
    );
    assert.equal(
      classifyFailure(new RequestError("memory", { status: 400, retryable: false, split: true })),
      "split",
    );
    assert.equal(classifyFailure(new AuthorizationError(401, "bad token")), "fatal");
    assert.equal(
      classifyFailure(new RequestError("bad arg", { status: 400, retryable: false })),
      "fatal",
    );
    assert.equal(
      classifyFailure(Object.assign(new Error("reset"), { code: "ECONNRESET" })),
      "retry",
    );
    assert.equal(classifyFailure(new DownloadAbortedError()), "abort");
    assert.equal(classifyFailure(new TypeError("bug")), "fatal");
  });

  it("parses Retry-After as seconds or an HTTP date", () => {
    assert.equal(parseRetryAfter("7"), 7);
    assert.equal(parseRetryAfter(undefined), undefined);
    assert.equal(parseRetryAfter("soon"), undefined);
    const now = Date.parse("2024-01-01T00:00:00Z");
    assert.equal(parseRetryAfter("Mon, 01 Jan 2024 00:00:30 GMT", now), 30);
  });
});

describe("backoff", () => {
  const policy = { ...defaultRetryPolicy, random: () => 1 };
  it("doubles up to the ceiling, with full jitter below it", () => {
    assert.equal(backoffDelay(0, policy), 500);
    assert.equal(backoffDelay(3, policy), 4000);
    assert.equal(backoffDelay(20, policy), 30_000);
    assert.equal(backoffDelay(3, { ...policy, random: () => 0 }), 0);
  });
  it("waits at least Retry-After, clamped", () => {
    assert.ok(backoffDelay(0, { ...policy, random: () => 0 }, 12) === 12_000);
    assert.equal(backoffDelay(0, { ...policy, random: () => 0 }, 1e9), policy.maxRetryAfterMs);
  });
});

describe("withRetries", () => {
  const fast = { sleep: async () => {}, random: () => 0.5 };

  it("retries transient failures, then succeeds, reporting each wait", async () => {
    const waits: number[] = [];
    let calls = 0;
    const result = await withRetries(
      async () => {
        calls++;
        if (calls < 3) throw transient(calls === 2 ? 2 : undefined);
        return "ok";
      },
      { policy: fast, onRetry: (r) => waits.push(r.delayMs) },
    );
    assert.equal(result, "ok");
    assert.equal(calls, 3);
    assert.equal(waits.length, 2);
    assert.ok(waits[1] >= 2000, "Retry-After honoured");
  });

  it("gives up after the retry budget with the last error", async () => {
    let calls = 0;
    await assert.rejects(
      withRetries(
        async () => {
          calls++;
          throw transient();
        },
        { policy: { ...fast, retries: 2 } },
      ),
      /HTTP 503/,
    );
    assert.equal(calls, 3);
  });

  it("does not retry fatal or split failures", async () => {
    let calls = 0;
    await assert.rejects(
      withRetries(
        async () => {
          calls++;
          throw new RequestError("too big", { status: 400, retryable: false, split: true });
        },
        { policy: fast },
      ),
      /too big/,
    );
    assert.equal(calls, 1);
  });

  it("stops waiting when aborted", async () => {
    const controller = new AbortController();
    const run = withRetries(
      async () => {
        throw transient();
      },
      { signal: controller.signal, policy: { retries: 5, baseDelayMs: 60_000, random: () => 1 } },
    );
    setTimeout(() => controller.abort(), 5);
    await assert.rejects(run, { name: "AbortError" });
  });
});
