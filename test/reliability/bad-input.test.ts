/**
 * A mistake in a parameter is refused before anything is downloaded, with a message that
 * names the fix. "Before anything is downloaded" is checked at the server: the emulator's
 * own request counters must show no computePixels request (and, for what can be checked
 * locally, no request at all).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DownloadParameterError, OutputTooLargeError } from "../../src/download/errors";
import type { Ee } from "../../src/ee/client";
import { connect } from "../../src/ee/session";
import { type Aoi, AoiError, aoiFromGeoJSON, bbox } from "../../src/snippets/aoi";
import { downloadSnippet, downloadSnippets, type SnippetSession } from "../../src/snippets/batch";
import { OutputDirError, OutputPathError } from "../../src/snippets/outputs";
import {
  findImages,
  type ImageInfo,
  SearchError,
  type SearchOptions,
} from "../../src/snippets/search";
import {
  CENTER,
  eeFor,
  pixelRequests,
  type RunningEmulator,
  sessionFor,
  startEmulator,
  strayFiles,
  totalRequests,
} from "./helpers";

const aoi = bbox(CENTER[0], CENTER[1], 0.09, "David");
const search: SearchOptions = {
  aoi,
  start: "2024-01-01",
  end: "2024-07-31",
  maxCloud: 85,
  onWarning: () => undefined,
};

let base: string;
let emulator: RunningEmulator;
let ee: Ee;
let session: SnippetSession;
let image: ImageInfo;

before(async () => {
  base = await mkdtemp(join(tmpdir(), "bad-input-test-"));
  emulator = await startEmulator({ latencyMs: 1, msPerMegapixel: 0, bandwidthMBps: 0, seed: 9 });
  ee = await eeFor(emulator);
  session = await sessionFor(emulator, ee);
  [image] = await findImages(session, search);
  assert.ok(image);
});

after(async () => {
  await emulator?.stop();
  await rm(base, { recursive: true, force: true });
});

/** Runs `attempt`, which must fail as `check` says, and asserts the server saw no request. */
async function refusedLocally(
  attempt: () => Promise<unknown> | unknown,
  check: (error: unknown) => boolean,
): Promise<void> {
  const before = await totalRequests(emulator);
  await assert.rejects(async () => attempt(), check);
  assert.equal(await totalRequests(emulator), before, "a request reached the emulator");
}

/** Runs `attempt`, which must fail, and asserts no pixels were requested. */
async function refusedBeforePixels(
  attempt: () => Promise<unknown>,
  check: (error: unknown) => boolean,
): Promise<void> {
  const before = await pixelRequests(emulator);
  await assert.rejects(attempt, check);
  assert.equal(await pixelRequests(emulator), before, "pixels were requested");
}

/** Runs `attempt`, which must fail, and asserts at most `max` pixel requests were made. */
async function refusedWithinRequests(
  max: number,
  attempt: () => Promise<unknown>,
  check: (error: unknown) => boolean,
): Promise<void> {
  const before = await pixelRequests(emulator);
  await assert.rejects(attempt, check);
  const made = (await pixelRequests(emulator)) - before;
  assert.ok(made <= max, `${made} pixel requests for a refused image`);
}

const matches =
  (type: new (...args: never[]) => Error, ...patterns: RegExp[]) =>
  (error: unknown) => {
    assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  };

describe("dates", () => {
  it("refuses a date that does not exist", () =>
    refusedLocally(
      () => findImages(session, { ...search, start: "2024-02-30" }),
      matches(SearchError, /2024-02-30 does not exist/),
    ));
  it("refuses a date in another format", () =>
    refusedLocally(
      () => findImages(session, { ...search, end: "31/07/2024" }),
      matches(SearchError, /YYYY-MM-DD/),
    ));
  it("refuses reversed dates", () =>
    refusedLocally(
      () => findImages(session, { ...search, start: "2024-07-31", end: "2024-01-01" }),
      matches(SearchError, /not after the start date/, /end at least one day later/),
    ));
  it("refuses dates before the collection starts", () =>
    refusedLocally(
      () => findImages(session, { ...search, start: "2010-01-01", end: "2011-01-01" }),
      matches(SearchError, /starts on 2017-03-28/, /Move the dates/),
    ));
});

describe("cloud limit", () => {
  for (const maxCloud of [150, -1, Number.NaN]) {
    it(`refuses maxCloud ${maxCloud}`, () =>
      refusedLocally(
        () => findImages(session, { ...search, maxCloud }),
        matches(SearchError, /number from 0 to 100/),
      ));
  }
});

describe("area of interest", () => {
  it("refuses a centre out of range and a degenerate box", () => {
    assert.throws(() => bbox(-200, 8.4, 0.09), matches(AoiError, /outside -180\.\.180/));
    assert.throws(() => bbox(-82.4, 95, 0.09), matches(AoiError, /outside -90\.\.90/));
    assert.throws(() => bbox(-82.4, 8.4, 0), matches(AoiError, /positive number of degrees/));
  });
  it("refuses a GeoJSON polygon with no area and one with swapped axes", () => {
    const line = {
      type: "Polygon",
      coordinates: [
        [
          [-82.4, 8.4],
          [-82.3, 8.4],
          [-82.2, 8.4],
          [-82.4, 8.4],
        ],
      ],
    };
    assert.throws(() => aoiFromGeoJSON(line), matches(AoiError, /no area/));
    const swapped = {
      type: "Polygon",
      coordinates: [
        [
          [8.4, -82.4],
          [8.5, -182.4],
          [8.5, -82.3],
          [8.4, -82.4],
        ],
      ],
    };
    assert.throws(() => aoiFromGeoJSON(swapped), matches(AoiError, /Swapped axes/));
  });
  it("refuses a hand-made AOI outside the globe before any request", () => {
    const bad: Aoi = {
      name: "bad",
      geometry: {
        type: "Polygon",
        coordinates: [
          [
            [10, 95],
            [11, 95],
            [11, 96],
            [10, 96],
            [10, 95],
          ],
        ],
      },
      bounds: [10, 95, 11, 96],
      center: [10.5, 95.5],
    };
    return refusedLocally(
      () => downloadSnippet(session, image, { outDir: join(base, "x"), aoi: bad, scale: 10 }),
      matches(DownloadParameterError, /outside lon -180\.\.180 \/ lat -90\.\.90/),
    );
  });
});

describe("collection and results", () => {
  it("passes the emulator's 'not found' for an unknown collection on to the user", () =>
    refusedBeforePixels(
      () => findImages(session, { ...search, collection: "COPERNICUS/NOT_A_COLLECTION" }),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, /COPERNICUS\/NOT_A_COLLECTION/);
        assert.match(error.message, /not found|does not exist/i);
        return true;
      },
    ));

  // downloadSnippet tells downloadImage the snippet's bands, so there is no metadata request:
  // the pixel requests of the first round are refused (one per window, 4 at 10 m here), and
  // the refusal is final, not retried.
  it("refuses to download an image of an unknown collection in one round of requests", () =>
    refusedWithinRequests(
      4,
      () =>
        downloadSnippet(session, image.id, {
          outDir: join(base, "unknown"),
          aoi,
          scale: 10,
          collection: "COPERNICUS/NOT_A_COLLECTION",
        }),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, /not found|does not exist/i);
        return true;
      },
    ));

  it("says which filter removed every image", () =>
    refusedBeforePixels(
      () => findImages(session, { ...search, maxCloud: 0 }),
      matches(SearchError, /none has cloud cover below 0%/, /raise maxCloud/),
    ));
});

describe("scale and size", () => {
  for (const scale of [0, -10, Number.NaN, Number.POSITIVE_INFINITY, "10" as unknown as number]) {
    it(`refuses scale ${String(scale)} before any request`, () =>
      refusedLocally(
        () => downloadSnippet(session, image, { outDir: join(base, "s"), aoi, scale }),
        matches(DownloadParameterError, /scale must be a positive number/),
      ));
  }

  it("refuses an output over the cap without consent, saying the estimate and how to consent", () =>
    refusedLocally(
      // 0.09 degrees at 0.2 m is ~50000 px a side: ~7 GiB of RGB.
      () => downloadSnippets(session, [image], { outDir: join(base, "big"), aoi, scale: 0.2 }),
      matches(OutputTooLargeError, /about \d+(\.\d)? GiB/, /allowLarge: true/, /coarser scale/),
    ));

  it("downloads over a (small) cap once allowLarge consents", async () => {
    const options = { outDir: join(base, "consent"), aoi, scale: 20, maxOutputBytes: 100_000 };
    await refusedLocally(
      () => downloadSnippet(session, image, options),
      matches(OutputTooLargeError, /allowLarge: true/),
    );
    const result = await downloadSnippet(session, image, { ...options, allowLarge: true });
    assert.ok(result.bytes > 0);
  });
});

describe("output directory and disk", () => {
  it("refuses a directory under a file (root ignores chmod, so a mode bit would prove nothing)", () =>
    refusedLocally(
      () =>
        downloadSnippets(session, [image], { outDir: "/etc/hostname/snippets", aoi, scale: 10 }),
      matches(OutputDirError, /not a directory/, /choose another outDir/),
    ));

  it("refuses a directory that cannot hold files (/proc)", () =>
    refusedLocally(
      () => downloadSnippet(session, image, { outDir: "/proc/self", aoi, scale: 10 }),
      matches(OutputDirError, /Cannot write the output directory/, /choose an outDir/),
    ));

  it("refuses an image id that would leave the output directory", () =>
    refusedLocally(
      () =>
        downloadSnippets(session, [image, "../../escape"], {
          outDir: join(base, "ids"),
          aoi,
          scale: 10,
        }),
      matches(OutputPathError, /"\.\."/, /system:index/),
    ));

  describe("a disk that fills up during the write", () => {
    const mountPoint = join(tmpdir(), `reliability-full-disk-${process.pid}`);
    let mounted = false;
    before(async () => {
      await mkdir(mountPoint, { recursive: true });
      try {
        // 256 KiB: room for the manifest and the probe, not for a ~1000x1000 px snippet.
        execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint], {
          stdio: "ignore",
        });
        mounted = true;
      } catch {
        mounted = false;
      }
    });
    after(async () => {
      if (mounted) execFileSync("umount", [mountPoint], { stdio: "ignore" });
      await rm(mountPoint, { recursive: true, force: true });
    });

    it("fails with a message naming the fix and leaves no partial file", async (t) => {
      if (!mounted) {
        t.skip("mount -t tmpfs is not permitted here (needs root and CAP_SYS_ADMIN)");
        return;
      }
      // Incompressible-enough pixels: 5 m over 0.09 degrees is ~2000x2000 px (12 MB raw).
      await assert.rejects(
        downloadSnippet(session, image, { outDir: mountPoint, aoi, scale: 5 }),
        (error: unknown) => {
          assert.ok(error instanceof Error);
          assert.match(error.message, /disk is full|no space|ENOSPC/i);
          assert.match(error.message, /free|space|another/i);
          return true;
        },
      );
      assert.deepEqual(await strayFiles(mountPoint), []);
      assert.deepEqual(
        (await readdir(mountPoint)).filter((name) => name.endsWith(".tif")),
        [],
        "a partial snippet carries the final name",
      );
    });
  });
});

describe("credentials (end to end; the connect engineer tests each credential path)", () => {
  const planted = "ya29.PLANTED-SECRET-token-7c1d9e2b4a";
  let secured: RunningEmulator;
  before(async () => {
    secured = await startEmulator({
      latencyMs: 1,
      auth: { accessTokens: ["the-right-token-0123456789"] },
    });
  });
  after(async () => {
    await secured?.stop();
  });

  it("a refused token gives a message naming the fix and not the token", async () => {
    await assert.rejects(
      connect({
        backend: "earthengine",
        quiet: true,
        env: { EE_PROJECT: secured.project, EE_API_URL: secured.url, EE_ACCESS_TOKEN: planted },
        envFile: join(base, "no-such.env"),
      }),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        const text = `${error.message}\n${error.stack}\n${String(error.cause ?? "")}`;
        assert.ok(!text.includes(planted), `the token leaked: ${error.message}`);
        assert.ok(!text.includes("PLANTED-SECRET"), "part of the token leaked");
        assert.match(error.message, /EE_ACCESS_TOKEN|credentials|\.env/);
        return true;
      },
    );
    // Nothing was computed with the bad token.
    assert.equal(await pixelRequests(secured), 0);
  });

  it("missing credentials name what to set", async () => {
    await assert.rejects(
      connect({
        backend: "earthengine",
        quiet: true,
        env: { EE_PROJECT: "my-project", HOME: join(base, "empty-home") },
        envFile: join(base, "no-such.env"),
      }),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(
          error.message,
          /EE_SERVICE_ACCOUNT_KEY|GOOGLE_APPLICATION_CREDENTIALS|EE_ACCESS_TOKEN/,
        );
        return true;
      },
    );
  });
});
