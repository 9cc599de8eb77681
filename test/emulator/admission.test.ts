/** Quotas and injected faults, decided before any handler runs (src/emulator/admission.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AdmissionControl, concurrencyQuotaMessage } from "../../src/emulator/admission";
import { resolveCostModel } from "../../src/emulator/costs";

function errorBody(reply: { body: Buffer }): { code: number; message: string; status: string } {
  return JSON.parse(reply.body.toString("utf8")).error;
}

test("work over the concurrency quota is refused 429 in Earth Engine's words; release frees a slot", async () => {
  const admission = new AdmissionControl(resolveCostModel({ latencyMs: 0, maxConcurrent: 2 }));
  const now = Date.now();
  assert.equal((await admission.admit("work", now)).kind, "serve");
  assert.equal((await admission.admit("work", now)).kind, "serve");
  const third = await admission.admit("work", now);
  assert.equal(third.kind, "refuse");
  assert.ok(third.kind === "refuse");
  assert.equal(third.reply.status, 429);
  assert.deepEqual(errorBody(third.reply), {
    code: 429,
    message:
      "Too Many Requests: more than 2 concurrent requests for this project (Earth Engine's concurrent-request quota). Retry with exponential backoff.",
    status: "RESOURCE_EXHAUSTED",
  });
  assert.equal(errorBody(third.reply).message, concurrencyQuotaMessage(2));
  assert.doesNotMatch(errorBody(third.reply).message, /aggregations/);
  admission.release("work");
  admission.release("work");
  assert.equal((await admission.admit("work", now)).kind, "serve", "a released slot is free again");
  // Metadata never counts against the quota.
  assert.equal((await admission.admit("metadata", now)).kind, "serve");
});

test("work over the rate quota is refused with the per-second figure in the message", async () => {
  const admission = new AdmissionControl(
    resolveCostModel({ latencyMs: 0, maxRequestsPerSecond: 3 }),
  );
  const now = Date.now();
  for (let i = 0; i < 3; i++) {
    assert.equal((await admission.admit("work", now)).kind, "serve");
    admission.release("work");
  }
  const refused = await admission.admit("work", now);
  assert.ok(refused.kind === "refuse");
  assert.match(errorBody(refused.reply).message, /more than 3 requests per second/);
  admission.release("work");
  assert.equal((await admission.admit("work", now + 1001)).kind, "serve", "a second later");
});

test("faults hit work, hit metadata only when the model says so, and never the token endpoint", async () => {
  const always = { serverErrorRate: 0, resetRate: 1 };
  const workOnly = new AdmissionControl(resolveCostModel({ latencyMs: 0, faults: always }));
  assert.equal((await workOnly.admit("work", Date.now())).kind, "reset");
  assert.equal((await workOnly.admit("metadata", Date.now())).kind, "serve");
  assert.equal((await workOnly.admit("token", Date.now())).kind, "serve");
  const everything = new AdmissionControl(
    resolveCostModel({ latencyMs: 0, faults: { ...always, includeMetadata: true } }),
  );
  assert.equal((await everything.admit("metadata", Date.now())).kind, "reset");
  assert.equal((await everything.admit("token", Date.now())).kind, "serve");
});

test("an injected server error answers 500 or 503 with Earth Engine's status names", async () => {
  const admission = new AdmissionControl(
    resolveCostModel({ latencyMs: 0, faults: { serverErrorRate: 1 } }),
  );
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++) {
    const decision = await admission.admit("work", Date.now());
    admission.release("work");
    assert.ok(decision.kind === "refuse");
    const { code, status } = errorBody(decision.reply);
    assert.ok(
      (code === 500 && status === "INTERNAL") || (code === 503 && status === "UNAVAILABLE"),
      `${code} ${status}`,
    );
    seen.add(status);
  }
  assert.deepEqual([...seen].sort(), ["INTERNAL", "UNAVAILABLE"], "both kinds occur");
});
