/** Pixel rendering on worker threads: same bytes and errors as before, and a server that stays responsive. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { crsFromCode } from "../../src/core/crs";
import { EeApiError } from "../../src/emulator/errors";
import { type RunningEmulator, startEmulator } from "../../src/emulator/index";
import type { Grid } from "../../src/emulator/model";
import {
  defaultRenderThreads,
  RenderPool,
  RenderPoolClosedError,
} from "../../src/emulator/render-pool";
import { type PixelJob, renderPixelJob } from "../../src/emulator/render-worker";

const SCENE = "COPERNICUS/S2_SR_HARMONIZED/20240103T155907_20240103T160722_T17PLK";

/** The tutorial's snippet expression in Earth Engine's wire form (load -> visualize B8/B4/B3). */
function snippetExpression(): unknown {
  return {
    result: "0",
    values: {
      "0": {
        functionInvocationValue: {
          functionName: "Image.visualize",
          arguments: {
            image: {
              functionInvocationValue: {
                functionName: "Image.load",
                arguments: { id: { constantValue: SCENE } },
              },
            },
            bands: { constantValue: ["B8", "B4", "B3"] },
            min: { constantValue: 0 },
            max: { constantValue: 5000 },
          },
        },
      },
    },
  };
}

function rawImageExpression(): unknown {
  return {
    result: "0",
    values: {
      "0": {
        functionInvocationValue: {
          functionName: "Image.load",
          arguments: { id: { constantValue: SCENE } },
        },
      },
    },
  };
}

/** A 10 m UTM grid with its top-left corner in the tutorial's AOI (David, Chiriqui). */
function utmGrid(width: number, height: number): Grid {
  const [x, y] = crsFromCode("EPSG:32617").forward(-82.49, 8.45);
  return {
    crsCode: "EPSG:32617",
    affine: {
      scaleX: 10,
      shearX: 0,
      translateX: Math.round(x),
      shearY: 0,
      scaleY: -10,
      translateY: Math.round(y),
    },
    width,
    height,
  };
}

/** The same grid as computePixels' `grid` field. */
function wireGrid(width: number, height: number): unknown {
  const grid = utmGrid(width, height);
  return { crsCode: grid.crsCode, affineTransform: grid.affine, dimensions: { width, height } };
}

/** computePixels' body as it arrives: raw JSON bytes, checked and parsed on the worker. */
function body(fields: Record<string, unknown>): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(fields));
}

function snippetJob(width: number, height: number): PixelJob {
  return {
    source: "computePixels",
    request: body({
      expression: snippetExpression(),
      grid: wireGrid(width, height),
      fileFormat: "GEO_TIFF",
    }),
  };
}

test("default thread count leaves the client a core and stops at four", () => {
  assert.equal(defaultRenderThreads(1), 1);
  assert.equal(defaultRenderThreads(2), 1);
  assert.equal(defaultRenderThreads(3), 2);
  assert.equal(defaultRenderThreads(5), 4);
  assert.equal(defaultRenderThreads(64), 4);
  assert.throws(() => new RenderPool({ threads: 0 }), /integer from 1 to/);
});

test("a pool renders the same bytes as the calling thread, and the errors have the same name and message", async () => {
  const pool = new RenderPool({ threads: 2 });
  try {
    const job = snippetJob(96, 64);
    const expected = renderPixelJob(job);
    const [first, second] = await Promise.all([pool.run(job), pool.run(job)]);
    assert.equal(first.contentType, "image/tiff");
    assert.equal(first.pixels, 96 * 64, "the worker reports the grid's pixels for the cost model");
    assert.deepEqual(Buffer.from(first.bytes), Buffer.from(expected.bytes));
    assert.deepEqual(Buffer.from(second.bytes), Buffer.from(expected.bytes));

    // PNG takes 1 or 3 bands: the encoder refuses two, on whichever thread it runs.
    const badJob: PixelJob = {
      source: "computePixels",
      request: body({
        expression: rawImageExpression(),
        bandIds: ["B4", "B3"],
        grid: wireGrid(16, 16),
        fileFormat: "PNG",
      }),
    };
    const local = (() => {
      try {
        renderPixelJob(badJob);
      } catch (error) {
        return error as Error;
      }
      return undefined;
    })();
    assert.ok(local, "rendering two bands as PNG should fail");
    await assert.rejects(pool.run(badJob), (error: Error) => {
      assert.equal(error.name, local.name);
      assert.equal(error.message, local.message);
      return true;
    });
    assert.equal(pool.stats().jobs, 3);
    assert.equal(pool.stats().crashes, 0);
  } finally {
    await pool.close();
  }
});

test("a worker that dies costs its own job (a 500) and is replaced", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "render-pool-"));
  const entry = path.join(dir, "dying-worker.js");
  // Dies (an uncaught exception) on NPY jobs, answers anything else with one byte.
  writeFileSync(
    entry,
    `const { parentPort } = require("node:worker_threads");
parentPort.on("message", (m) => {
  if (m.job.format === "NPY") setTimeout(() => { throw new Error("render thread blew up"); });
  else parentPort.postMessage({ id: m.id, kind: "bytes", buffer: new Uint8Array([7]).buffer, contentType: "x/test" });
});
`,
  );
  const pool = new RenderPool({ threads: 1, entry });
  try {
    const dying = { ...snippetJob(8, 8), format: "NPY" as const };
    const [died, after] = await Promise.allSettled([pool.run(dying), pool.run(snippetJob(8, 8))]);
    assert.equal(died.status, "rejected");
    const reason = (died as PromiseRejectedResult).reason as unknown;
    assert.ok(reason instanceof EeApiError);
    assert.equal(reason.httpStatus, 500);
    assert.match(reason.message, /render thread died.*render thread blew up/);
    assert.equal(after.status, "fulfilled");
    assert.deepEqual(
      [...(after as PromiseFulfilledResult<{ bytes: Uint8Array }>).value.bytes],
      [7],
    );
    assert.equal(pool.stats().crashes, 1);
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("closing the pool fails waiting jobs instead of leaving them hanging", async () => {
  const pool = new RenderPool({ threads: 1 });
  const running = assert.rejects(pool.run(snippetJob(256, 256)), RenderPoolClosedError);
  const waiting = assert.rejects(pool.run(snippetJob(256, 256)), RenderPoolClosedError);
  assert.equal(pool.stats().queued + pool.stats().busy, 2);
  await pool.close();
  await running;
  await waiting;
  await assert.rejects(pool.run(snippetJob(8, 8)), RenderPoolClosedError);
});

function post(emulator: RunningEmulator, endpoint: string, body: unknown): Promise<Response> {
  return fetch(`${emulator.url}/v1/projects/${emulator.project}/${endpoint}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function computePixels(
  emulator: RunningEmulator,
  width: number,
  height: number,
): Promise<Buffer> {
  const response = await post(emulator, "image:computePixels", {
    expression: snippetExpression(),
    fileFormat: "GEO_TIFF",
    grid: wireGrid(width, height),
  });
  assert.equal(response.status, 200, await response.clone().text());
  return Buffer.from(await response.arrayBuffer());
}

test("the server answers value:compute while a large render is under way", async () => {
  const emulator = await startEmulator({
    latencyMs: 0,
    msPerMegapixel: 0,
    bandwidthMBps: 0,
    renderThreads: 1,
  });
  try {
    assert.equal((await emulator.status()).render.threads, 1);
    const finished: string[] = [];
    // 3500 x 3500 RGB with its mask byte is 49 MB, just under computePixels' 48 MiB cap.
    const big = computePixels(emulator, 3500, 3500).then((bytes) => {
      finished.push("render");
      return bytes;
    });
    // Wait until the render is on its thread, so the small request truly arrives during it.
    while ((await emulator.status()).render.busy === 0) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const response = await post(emulator, "value:compute", {
      expression: { result: "0", values: { "0": { constantValue: 42 } } },
    });
    assert.deepEqual(await response.json(), { result: 42 });
    finished.push("compute");
    assert.ok((await big).length > 3500 * 3500 * 3);
    assert.deepEqual(finished, ["compute", "render"]);
    // An encoder error raised on the render thread reaches the client as the same 400.
    const bad = await post(emulator, "image:computePixels", {
      expression: rawImageExpression(),
      fileFormat: "PNG",
      bandIds: ["B4", "B3"],
      grid: wireGrid(16, 16),
    });
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as { error: { message: string; status: string } };
    assert.equal(body.error.status, "INVALID_ARGUMENT");
    assert.match(body.error.message, /^PNG needs 1 or 3 bands, got 2 \(B4, B3\)/);
  } finally {
    await emulator.stop();
  }
});

test("concurrent requests render inside the modeled latency instead of queueing behind each other", async () => {
  const count = 6;
  const side = 400;
  // Sequentially, with no modeled time, each request costs what the emulator needs to render it.
  const bare = await startEmulator({
    latencyMs: 0,
    msPerMegapixel: 0,
    bandwidthMBps: 0,
    renderThreads: 1,
  });
  let renderSum = 0;
  let reference: Buffer;
  try {
    reference = await computePixels(bare, side, side); // warms the thread up
    for (let i = 0; i < count; i++) {
      const start = Date.now();
      await computePixels(bare, side, side);
      renderSum += Date.now() - start;
    }
  } finally {
    await bare.stop();
  }
  // A latency longer than all renders together: one thread can finish them all inside it.
  const latencyMs = 300 + 2 * renderSum;
  const modeled = await startEmulator({
    latencyMs,
    msPerMegapixel: 0,
    bandwidthMBps: 0,
    renderThreads: 1,
  });
  try {
    await computePixels(modeled, side, side);
    const start = Date.now();
    const done = await Promise.all(
      Array.from({ length: count }, async () => {
        const bytes = await computePixels(modeled, side, side);
        return { bytes, at: Date.now() };
      }),
    );
    for (const { bytes, at } of done) {
      assert.deepEqual(bytes, reference, "concurrent requests must return the same bytes");
      // Timers may fire a millisecond early; the model's floor still holds.
      assert.ok(at - start >= latencyMs - 2, `a reply came ${at - start} ms after sending`);
    }
    const times = done.map((d) => d.at);
    const spread = Math.max(...times) - Math.min(...times);
    assert.ok(
      spread < renderSum,
      `replies spread over ${spread} ms, not less than the ${renderSum} ms the renders take one after another`,
    );
  } finally {
    await modeled.stop();
  }
});
