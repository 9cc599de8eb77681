/**
 * Hundreds of small downloads through a limit of 40 with 10% of requests failing: all
 * complete, and the process ends the run with the sockets, file descriptors and heap it had
 * after a warm-up (within generous bounds; no timing assertions).
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { closeIdleConnections, openSocketCount } from "../../src/ee/transport";
import { bbox } from "../../src/snippets/aoi";
import {
  downloadSnippets,
  type SnippetResult,
  type SnippetSession,
} from "../../src/snippets/batch";
import { findImages, type ImageInfo } from "../../src/snippets/search";
import {
  CENTER,
  eeFor,
  gc,
  pixelRequests,
  type RunningEmulator,
  sessionFor,
  startEmulator,
  strayFiles,
} from "./helpers";

const COUNT = 200;
// ~0.005 degrees at 10 m: about 55x55 px, one request window per image.
const aoi = bbox(CENTER[0], CENTER[1], 0.005, "tiny");

let base: string;
let clean: RunningEmulator;
let faulty: RunningEmulator;
let session: SnippetSession;
let images: ImageInfo[];

before(async () => {
  base = await mkdtemp(join(tmpdir(), "load-test-"));
  clean = await startEmulator({ latencyMs: 1, msPerMegapixel: 0, bandwidthMBps: 0, seed: 5 });
  const ee = await eeFor(clean);
  faulty = await startEmulator({
    latencyMs: 5,
    msPerMegapixel: 0,
    bandwidthMBps: 0,
    seed: 6,
    faults: { serverErrorRate: 0.05, resetRate: 0.03, truncateRate: 0.02 },
  });
  session = await sessionFor(faulty, ee, { maxInFlight: 40 });
  // Scenes come every 5 days: three years give well over 200.
  images = (
    await findImages(await sessionFor(clean, ee), {
      aoi,
      start: "2021-01-01",
      end: "2024-06-01",
      maxCloud: 100,
      onWarning: () => undefined,
    })
  ).slice(0, COUNT + 20);
  assert.ok(images.length >= COUNT + 20, `only ${images.length} images found`);
});

after(async () => {
  await faulty?.stop();
  await clean?.stop();
  await rm(base, { recursive: true, force: true });
});

function tcpHandles(): number {
  return process.getActiveResourcesInfo().filter((r) => r === "TCPSocketWrap").length;
}

function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

it(`${COUNT} downloads, limit 40, 10% faults: all complete, nothing leaks`, async (t) => {
  const run = (list: ImageInfo[], dir: string) =>
    downloadSnippets(session, list, {
      outDir: join(base, dir),
      aoi,
      scale: 10,
      limit: 40,
      retries: 10,
      progress: false,
    });

  // Warm-up: module loading, JIT, the keep-alive pool and geotiff.js's decoder pool settle.
  const warm = await run(images.slice(COUNT), "warm");
  assert.equal(warm.failed, 0, warm.items.map((i) => i.error).join("; "));
  closeIdleConnections();
  await gc();
  const before = {
    heap: process.memoryUsage().heapUsed,
    tcp: tcpHandles(),
    fds: openFds(),
    sockets: openSocketCount(),
  };

  const report = await run(images.slice(0, COUNT), "load");
  const results = report.items.map((i) => i.value as SnippetResult | undefined);
  const retries = results.reduce((sum, r) => sum + (r?.retries ?? 0), 0);
  const duringSockets = openSocketCount();
  closeIdleConnections();
  await new Promise((r) => setTimeout(r, 100));
  await gc();
  const afterRun = {
    heap: process.memoryUsage().heapUsed,
    tcp: tcpHandles(),
    fds: openFds(),
    sockets: openSocketCount(),
  };
  t.diagnostic(
    `retries ${retries}; pooled sockets at end of run ${duringSockets}; before/after: heap ${(before.heap / 2 ** 20).toFixed(1)}/${(afterRun.heap / 2 ** 20).toFixed(1)} MiB, TCP handles ${before.tcp}/${afterRun.tcp}, fds ${before.fds}/${afterRun.fds}, pooled sockets ${before.sockets}/${afterRun.sockets}; server computePixels ${await pixelRequests(faulty)}`,
  );

  assert.equal(
    report.failed,
    0,
    report.items
      .map((i) => i.error)
      .filter(Boolean)
      .join("; "),
  );
  assert.equal(report.items.length, COUNT);
  assert.ok(retries > 0, "no fault was injected");
  assert.deepEqual(await strayFiles(join(base, "load")), []);
  assert.equal(afterRun.sockets, 0, "sockets still pooled after closeIdleConnections");
  assert.ok(afterRun.tcp <= before.tcp, `TCP handles ${before.tcp} -> ${afterRun.tcp}`);
  // A few descriptors may come and go (the emulator child's pipes, timers' eventfds).
  assert.ok(afterRun.fds <= before.fds + 4, `file descriptors ${before.fds} -> ${afterRun.fds}`);
  // Ten times as many downloads as the warm-up must not need ten times the memory.
  assert.ok(
    afterRun.heap < before.heap + 32 * 2 ** 20,
    `heap grew from ${before.heap} to ${afterRun.heap} bytes`,
  );
});
