import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ByteBudget, sharedBudget } from "../../src/download/budget";

describe("ByteBudget", () => {
  test("holds acquisitions to its capacity, in order, and partial releases admit the next", async () => {
    const budget = new ByteBudget(100);
    const a = await budget.acquire(60);
    const order: string[] = [];
    const b = budget.acquire(60).then((g) => {
      order.push("b");
      return g;
    });
    const c = budget.acquire(10).then((g) => {
      order.push("c");
      return g;
    });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(order, [], "b does not fit and c waits behind it");
    a.release(30);
    const gb = await b;
    const gc = await c;
    assert.deepEqual(order, ["b", "c"]);
    assert.equal(budget.stats().inUse, 100);
    a.release();
    gb.release();
    gc.release();
    gc.release();
    assert.equal(budget.stats().inUse, 0);
    assert.equal(budget.stats().peak, 100);
  });

  test("a request larger than the budget runs alone; aborting a waiter frees its place", async () => {
    const budget = new ByteBudget(10);
    const big = await budget.acquire(50);
    const controller = new AbortController();
    const waiting = budget.acquire(5, controller.signal);
    const after = budget.acquire(5);
    controller.abort();
    await assert.rejects(waiting, { name: "AbortError" });
    big.release();
    assert.equal((await after).held, 5);
  });

  test("one budget per session limiter", () => {
    const a = {};
    assert.equal(sharedBudget(a), sharedBudget(a));
    assert.notEqual(sharedBudget(a), sharedBudget({}));
  });
});
