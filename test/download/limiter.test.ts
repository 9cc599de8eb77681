import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import { RequestError } from "../../src/download/errors";
import { type LimiterClock, RequestLimiter } from "../../src/download/limiter";

/** Virtual time: sleeps resolve only when the test advances the clock. */
class FakeClock implements LimiterClock {
  t = 0;
  private timers: { at: number; resolve: () => void }[] = [];
  now = () => this.t;
  sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      this.timers.push({ at: this.t + ms, resolve });
    });
  /** Fires timers in time order until the given promise settles. */
  async runUntil<T>(promise: Promise<T>): Promise<T> {
    let done = false;
    promise.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    while (!done) {
      await tick();
      if (done) break;
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers.shift();
      if (!next) continue;
      this.t = Math.max(this.t, next.at);
      next.resolve();
    }
    return promise;
  }
}

function deferred() {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const throttled = () => new RequestError("429", { status: 429, retryable: true });

describe("RequestLimiter", () => {
  it("never exceeds maxInFlight under 200 concurrent runs", async () => {
    const limiter = new RequestLimiter({ maxInFlight: 7, maxPerSecond: Number.POSITIVE_INFINITY });
    let active = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        limiter.run(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((r) => setTimeout(r, i % 3));
          active--;
          return i;
        }),
      ),
    );
    assert.deepEqual(
      results,
      Array.from({ length: 200 }, (_, i) => i),
    );
    assert.equal(peak, 7);
    const stats = limiter.stats();
    assert.equal(stats.maxInFlight, 7);
    assert.equal(stats.started, 200);
    assert.equal(stats.inFlight, 0);
    assert.equal(stats.queued, 0);
  });

  it("spaces starts to the rate limit", async () => {
    const clock = new FakeClock();
    const limiter = new RequestLimiter({ maxInFlight: 100, maxPerSecond: 10, clock });
    const starts: number[] = [];
    const all = Promise.all(
      Array.from({ length: 30 }, () => limiter.run(async () => starts.push(clock.now()))),
    );
    await clock.runUntil(all);
    assert.equal(starts.length, 30);
    starts.sort((a, b) => a - b);
    for (let i = 1; i < starts.length; i++) assert.ok(starts[i] - starts[i - 1] >= 100);
    // 30 starts at 10/s take 2.9 s of virtual time, not less.
    assert.ok(starts[29] - starts[0] >= 2900);
  });

  it("adapts: additive increase on success, one halving per overload", async () => {
    const limiter = new RequestLimiter({
      maxInFlight: 32,
      maxPerSecond: Number.POSITIVE_INFINITY,
      adaptive: { min: 2, max: 32, initial: 8 },
    });
    assert.equal(limiter.stats().currentLimit, 8);
    for (let i = 0; i < 40; i++) await limiter.run(async () => i);
    const grown = limiter.stats().currentLimit;
    assert.ok(grown > 8 && grown <= 32, `grew to ${grown}`);

    // Several concurrent requests of one overload all fail with 429: back off once.
    const gate = deferred();
    const failures = Array.from({ length: 5 }, () =>
      limiter.run(async () => {
        await gate.promise;
        throw throttled();
      }),
    );
    gate.resolve();
    for (const f of failures) await assert.rejects(f, /429/);
    assert.equal(limiter.stats().currentLimit, Math.floor(grown / 2));
    assert.equal(limiter.stats().throttled429, 5);

    // Repeated overloads never go under min.
    for (let i = 0; i < 10; i++)
      await assert.rejects(limiter.run(async () => Promise.reject(throttled())));
    assert.equal(limiter.stats().currentLimit, 2);
  });

  it("gives the slot back when a queued request is aborted", async () => {
    const limiter = new RequestLimiter({ maxInFlight: 1, maxPerSecond: Number.POSITIVE_INFINITY });
    const gate = deferred();
    const first = limiter.run(() => gate.promise);
    const controller = new AbortController();
    const second = limiter.run(async () => "never", controller.signal);
    controller.abort();
    await assert.rejects(second, { name: "AbortError" });
    gate.resolve();
    await first;
    assert.equal(await limiter.run(async () => "third"), "third");
    assert.equal(limiter.stats().inFlight, 0);
    assert.equal(limiter.stats().started, 2);
  });

  it("validates its options", () => {
    assert.throws(() => new RequestLimiter({ maxInFlight: 0 }), TypeError);
    assert.throws(() => new RequestLimiter({ maxPerSecond: -1 }), /maxPerSecond/);
  });
});
