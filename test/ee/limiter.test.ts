import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import { RequestError } from "../../src/ee/errors";
import { type LimiterClock, RequestLimiter } from "../../src/ee/limiter";

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

  it("lets a burst of maxPerSecond start at once, then never more than N per window", async () => {
    const clock = new FakeClock();
    const limiter = new RequestLimiter({ maxInFlight: 100, maxPerSecond: 10, clock });
    const starts: number[] = [];
    const all = Promise.all(
      Array.from({ length: 35 }, () => limiter.run(async () => starts.push(clock.now()))),
    );
    await clock.runUntil(all);
    assert.equal(starts.length, 35);
    starts.sort((a, b) => a - b);
    // The quota is per sliding second, not an even spacing: the first 10 go at once.
    assert.deepEqual(starts.slice(0, 10), Array(10).fill(0));
    // No 1000 ms window holds more than 10 starts (start k+10 is a full window after k).
    for (let i = 10; i < starts.length; i++) {
      assert.ok(starts[i] - starts[i - 10] >= 1000, `starts ${i - 10} and ${i} too close`);
    }
    // And the margin is small: 35 starts need 3 windows, not 3.5 s of even spacing.
    assert.ok(starts[34] < 3 * 1000 + 100, `last start at ${starts[34]}`);
  });

  it("keeps the rate window across a mix of short and long requests", async () => {
    const clock = new FakeClock();
    const limiter = new RequestLimiter({ maxInFlight: 4, maxPerSecond: 5, clock });
    const starts: number[] = [];
    const all = Promise.all(
      Array.from({ length: 23 }, (_, i) =>
        limiter.run(async () => {
          starts.push(clock.now());
          await clock.sleep((i % 4) * 170);
        }),
      ),
    );
    await clock.runUntil(all);
    starts.sort((a, b) => a - b);
    for (const t of starts) {
      const inWindow = starts.filter((s) => s >= t && s < t + 1000).length;
      assert.ok(inWindow <= 5, `${inWindow} starts in [${t}, ${t + 1000})`);
    }
    assert.equal(limiter.stats().maxInFlight <= 4, true);
  });

  it("counts a request in the window from when it was sent, not when its slot was granted", async () => {
    const clock = new FakeClock();
    const limiter = new RequestLimiter({ maxInFlight: 10, maxPerSecond: 2, clock });
    const starts: number[] = [];
    const all = Promise.all(
      Array.from({ length: 3 }, (_, i) =>
        limiter.run(async (sent) => {
          starts.push(clock.now());
          // The first request leaves 400 ms after its slot (a busy event loop, a new socket).
          if (i === 0) await clock.sleep(400);
          sent();
        }),
      ),
    );
    await clock.runUntil(all);
    starts.sort((a, b) => a - b);
    assert.deepEqual(starts.slice(0, 2), [0, 0]);
    // The second request left at 0, the first at 400: the third waits for the second's entry.
    assert.ok(starts[2] >= 1000 && starts[2] < 1400, `third start at ${starts[2]}`);
  });

  it("adaptive: starts at 8, grows one slot per limit-many successes while saturated", async () => {
    const limiter = new RequestLimiter({
      maxInFlight: 32,
      maxPerSecond: Number.POSITIVE_INFINITY,
      adaptive: true,
    });
    assert.equal(limiter.stats().currentLimit, 8);
    // One at a time never fills the limit: no growth.
    for (let i = 0; i < 40; i++) await limiter.run(async () => i);
    assert.equal(limiter.stats().currentLimit, 8);
    // Saturated: 8 successes -> 9, 9 more -> 10, 10 more -> 11, ... (the tail runs unsaturated).
    await Promise.all(Array.from({ length: 60 }, () => limiter.run(() => tick())));
    const grown = limiter.stats().currentLimit;
    assert.ok(grown >= 11 && grown <= 13, `grew to ${grown}`);
  });

  it("adaptive: one overload backs off once, to what the server showed", async () => {
    const limiter = new RequestLimiter({
      maxInFlight: 40,
      maxPerSecond: Number.POSITIVE_INFINITY,
      adaptive: { initial: 20 },
    });
    // 20 requests in flight; the server took 12 and refused the rest, answered at once.
    const gate = deferred();
    const ok = Array.from({ length: 12 }, () => limiter.run(() => gate.promise));
    const refused = Array.from({ length: 8 }, () =>
      limiter.run(async () => {
        await tick();
        throw throttled();
      }),
    );
    for (const f of refused) await assert.rejects(f, /429/);
    // The first refusal came with 20 in flight (19 allowed), the last with 13: one episode,
    // and the limit is one below the last level the server refused, not halved 8 times.
    assert.equal(limiter.stats().currentLimit, 12);
    assert.equal(limiter.stats().throttled429, 8);
    gate.resolve();
    await Promise.all(ok);
  });

  it("adaptive: a refusal at a level known to be safe backs off by 0.8, never below min", async () => {
    const limiter = new RequestLimiter({
      maxInFlight: 40,
      maxPerSecond: Number.POSITIVE_INFINITY,
      adaptive: { initial: 10, min: 2 },
    });
    const gate = deferred();
    const held = Array.from({ length: 9 }, () => limiter.run(() => gate.promise));
    await assert.rejects(limiter.run(async () => Promise.reject(throttled())));
    assert.equal(limiter.stats().currentLimit, 9, "first episode: 10 in flight -> 9");
    gate.resolve();
    await Promise.all(held);
    // Later refusals at or under 9 mean the quota shrank: multiplicative decrease.
    for (let i = 0; i < 20; i++) {
      await assert.rejects(limiter.run(async () => Promise.reject(throttled())));
    }
    assert.equal(limiter.stats().currentLimit, 2);
  });

  it("adaptive against a fake server with a hidden quota of 12: converges, few 429s", async () => {
    const clock = new FakeClock();
    const limiter = new RequestLimiter({
      maxInFlight: 40,
      maxPerSecond: Number.POSITIVE_INFINITY,
      adaptive: true,
      clock,
    });
    const quota = 12;
    let serverInFlight = 0;
    let refused = 0;
    let served = 0;
    /** A server that holds a request 300 ms and refuses at once beyond `quota`. */
    const request = async () => {
      if (serverInFlight >= quota) {
        refused++;
        throw throttled();
      }
      serverInFlight++;
      try {
        await clock.sleep(300);
        served++;
      } finally {
        serverInFlight--;
      }
    };
    const withRetry = async (): Promise<void> => {
      for (;;) {
        try {
          return await limiter.run(request);
        } catch {
          await clock.sleep(100);
        }
      }
    };
    const jobs = 480;
    const all = Promise.all(Array.from({ length: jobs }, withRetry));
    await clock.runUntil(all);
    assert.equal(served, jobs);
    // A client that knew the quota needs ceil(480 / 12) rounds of 300 ms.
    const ideal = Math.ceil(jobs / quota) * 300;
    assert.ok(ideal / clock.t >= 0.9, `makespan ${clock.t} ms vs ideal ${ideal} ms`);
    assert.ok(refused / (jobs + refused) < 0.05, `${refused} refusals`);
    assert.ok(
      limiter.stats().currentLimit >= quota - 1,
      `ended at ${limiter.stats().currentLimit}`,
    );
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
    assert.throws(() => new RequestLimiter({ maxInFlight: 1.5 }), /maxInFlight/);
    assert.throws(() => new RequestLimiter({ maxInFlight: 0 }), TypeError);
    assert.throws(() => new RequestLimiter({ maxPerSecond: -1 }), /maxPerSecond/);
  });
});
