/**
 * The emulator's entry point as the product, the bench and the notebooks use it: start it,
 * read its status (from the handle or from just its URL), reset its counts, stop it.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import {
  EmulatorStatusError,
  emulatorStatus,
  resetEmulatorStats,
  startEmulator,
} from "../../src/emulator/index";

test("status() and emulatorStatus(url) report the same model; resetStats zeroes the counts", async () => {
  const emulator = await startEmulator({ latencyMs: 0, renderThreads: 1 });
  try {
    const algorithms = await fetch(`${emulator.url}/v1/projects/${emulator.project}/algorithms`);
    assert.equal(algorithms.status, 200);
    const status = await emulator.status();
    assert.deepEqual(status.model, emulator.model);
    assert.equal(status.stats.byEndpoint.algorithms.requests, 1);
    assert.equal(status.render.threads, 1);
    const byUrl = await emulatorStatus(emulator.url);
    assert.deepEqual(byUrl.model, status.model);
    assert.equal(byUrl.stats.byEndpoint.algorithms.requests, 1);
    const reset = await resetEmulatorStats(emulator.url);
    assert.equal(reset.stats.byEndpoint.algorithms.requests, 0);
    assert.equal((await emulator.resetStats()).stats.byStatus["200"], undefined);
  } finally {
    await emulator.stop();
  }
  await assert.rejects(emulator.status(), "the emulator is gone after stop()");
});

test("a URL that is not the emulator gets EmulatorStatusError naming the request", async () => {
  const server = http.createServer((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    await assert.rejects(emulatorStatus(url), (error: unknown) => {
      assert.ok(error instanceof EmulatorStatusError);
      assert.match(error.message, /^GET http:\/\/127\.0\.0\.1:\d+\/emulator\/status answered 404/);
      return true;
    });
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
