import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Script } from "node:vm";
import { gunzipSync } from "node:zlib";
import { writeArrayBuffer } from "geotiff";
import * as jpeg from "jpeg-js";
import { PNG } from "pngjs";
import { galleryHtml, geotiffThumbnail, imageTableHtml } from "../../src/display/gallery";
import { figureBundle, plotlyLoaderBundle, plotlySource } from "../../src/display/output";
import {
  clearRunHistory,
  PlotInputError,
  recordRun,
  runHistory,
  runHistoryFigure,
  show,
  speedupFigure,
  type TimedRun,
  timelineFigure,
  wallTimeFigure,
} from "../../src/display/plot";
import { peakOverlap } from "../../src/display/timing";

function run(
  mode: "sequential" | "concurrent",
  limit: number,
  spans: [number, number][],
): TimedRun {
  return {
    mode,
    limit,
    wallMs: Math.max(...spans.map(([, end]) => end)),
    items: spans.map(([startMs, endMs], i) => ({
      key: `img${i}`,
      startMs,
      endMs,
      ok: true,
      bytes: 1e6,
    })),
  };
}

const sequential = run("sequential", 1, [
  [0, 1000],
  [1000, 2000],
  [2000, 3000],
  [3000, 4000],
]);
const concurrent = run("concurrent", 4, [
  [0, 1000],
  [5, 1010],
  [10, 1020],
  [15, 1030],
]);

describe("wallTimeFigure", () => {
  test("puts both runs side by side and annotates the speedup over the sequential run", () => {
    const figure = wallTimeFigure([sequential, concurrent]);
    assert.deepEqual(figure.data[0].x, ["sequential", "concurrent x4"]);
    assert.deepEqual(figure.data[0].y, [4, 1.03]);
    assert.match(String((figure.data[0].text as string[])[1]), /3\.9x/);
    assert.match(figure.layout.title?.text ?? "", /concurrent x4 is 3\.9x faster than sequential/);
    assert.match(figure.summary, /3\.9x/);
  });

  test("keeps reruns with the same label apart", () => {
    const figure = wallTimeFigure([sequential, concurrent, concurrent]);
    assert.deepEqual(figure.data[0].x, ["sequential", "concurrent x4", "concurrent x4 (2)"]);
  });

  test("refuses something that is not a run report, saying what to pass", () => {
    assert.throws(() => wallTimeFigure([]), PlotInputError);
    assert.throws(
      () => wallTimeFigure([{ nope: 1 } as unknown as TimedRun]),
      /runSequential\/runConcurrent/,
    );
  });
});

describe("timelineFigure", () => {
  test("draws one bar per download from its start to its end, a block of rows per run", () => {
    const figure = timelineFigure([sequential, concurrent]);
    const bars = figure.data.filter((trace) => trace.orientation === "h");
    assert.equal(bars.length, 2);
    assert.deepEqual(bars[0].base, [0, 1, 2, 3]);
    assert.deepEqual(bars[0].x, [1, 1, 1, 1]);
    assert.deepEqual(bars[1].base, [0, 0.005, 0.01, 0.015]);
    assert.equal(figure.layout.yaxis?.categoryarray?.length, 8);
    assert.match(figure.summary, /peak overlap 1.*peak overlap 4/);
  });

  test("shows failed downloads as their own red trace", () => {
    const failing: TimedRun = {
      ...concurrent,
      items: [
        ...concurrent.items,
        { key: "bad", startMs: 0, endMs: 50, ok: false, error: "HTTP 429" },
      ],
    };
    const figure = timelineFigure([failing]);
    const failed = figure.data.find((trace) => trace.name?.includes("failed"));
    assert.ok(failed);
    assert.deepEqual(failed.y, ["concurrent x4 · 5"]);
    assert.match(String(failed.hovertext), /HTTP 429/);
  });
});

test("peakOverlap counts downloads in flight at once; back-to-back ones do not overlap", () => {
  assert.equal(peakOverlap(sequential), 1);
  assert.equal(peakOverlap(concurrent), 4);
});

test("runHistoryFigure plots every recorded run by mode, numbered in order", () => {
  clearRunHistory();
  recordRun(sequential, concurrent);
  recordRun(concurrent);
  assert.equal(runHistory().length, 3);
  const figure = runHistoryFigure(runHistory());
  const byName = Object.fromEntries(figure.data.map((trace) => [trace.name, trace]));
  assert.deepEqual(byName.sequential.x, [1]);
  assert.deepEqual(byName.concurrent.x, [2, 3]);
  recordRun({ ...concurrent, label: "x8, 20 m, 11 images" });
  const labelled = runHistoryFigure(runHistory()).data.find((t) => t.name === "concurrent");
  assert.equal(
    labelled?.text?.at(-1),
    "x8, 20 m, 11 images",
    "a run's label is shown on the chart",
  );
  clearRunHistory();
  assert.equal(runHistory().length, 0);
});

test("speedupFigure plots measured speedup with the ideal curve and marks the best point", () => {
  const figure = speedupFigure({
    baselineMs: 10_000,
    measured: [
      { limit: 4, wallMs: 2600 },
      { limit: 1, wallMs: 10_000 },
      { limit: 8, wallMs: 1500, throttled: 3 },
    ],
    ideal: [
      { limit: 1, speedup: 1 },
      { limit: 8, speedup: 7.5 },
    ],
    quota: 40,
  });
  const measured = figure.data.find((trace) => trace.name === "measured");
  assert.deepEqual(measured?.x, [1, 4, 8]);
  assert.deepEqual(measured?.y, [1, 3.85, 6.67]);
  assert.ok(figure.data.some((trace) => trace.name === "ideal (cost model)"));
  assert.match(figure.layout.annotations?.[0].text ?? "", /6\.7x at limit 8/);
  assert.throws(() => speedupFigure({ baselineMs: 0, measured: [] }), /baselineMs/);
});

test("figureBundle carries Plotly JSON, HTML that draws it, and the summary as text", () => {
  const figure = wallTimeFigure([sequential, concurrent]);
  figure.summary = "</script><b>";
  const bundle = figureBundle(figure, "fig-1");
  assert.deepEqual(bundle["application/vnd.plotly.v1+json"].data, figure.data);
  assert.match(bundle["text/html"], /<div id="fig-1"/);
  assert.match(bundle["text/html"], /Plotly\.newPlot/);
  assert.equal(bundle["text/plain"], "</script><b>");
  // Only the closing tag of the script itself may appear: data never ends the script early.
  assert.equal(bundle["text/html"].split("</script>").length, 2);
});

test("show outside a kernel prints the figure's summary instead of displaying it", (t) => {
  const written: string[] = [];
  t.mock.method(process.stdout, "write", (text: string) => {
    written.push(text);
    return true;
  });
  // Returns nothing: tslab would print a returned bundle as text under the plot.
  assert.equal(show(wallTimeFigure([sequential])), undefined);
  t.mock.restoreAll();
  assert.match(written.join(""), /^Wall time/);
});

// Measured: plotly.js-basic-dist-min 3.7.0 is 1.12 MB, 0.50 MB stored; plotly.js-dist 3.1.1
// minified is 4.88 MB, 1.96 MB gzipped in base64.
const LOADER_BOUNDS = { basic: 600_000, full: 2_100_000 } as const;

for (const which of ["basic", "full"] as const) {
  test(`plotlySource("${which}") gives an installed plotly.js, which sets window.Plotly`, () => {
    const { source, version, bundle } = plotlySource(which);
    assert.equal(bundle, which === "basic" ? "plotly.js-basic-dist-min" : "plotly.js-dist");
    assert.match(version, /^\d+\.\d+\.\d+$/);
    assert.match(source, /window\.Plotly\s*=/, "the UMD build assigns window.Plotly");
    assert.ok(!source.includes("</script"), "the source must be embeddable in a <script>");
  });

  test(`the ${which} loader stores plotly.js gzipped in base64 and unpacks it in the page`, () => {
    const { source } = plotlySource(which);
    const html = String(plotlyLoaderBundle(which)["text/html"]);
    const packed = html.match(/atob\("([A-Za-z0-9+/=]+)"\)/)?.[1];
    assert.ok(packed, "the loader holds base64 text");
    assert.equal(gunzipSync(Buffer.from(packed, "base64")).toString("utf8"), source);
    assert.match(html, /new DecompressionStream\("gzip"\)/);
    const script = html.slice(
      html.indexOf(">", html.indexOf("<script")) + 1,
      html.indexOf("</script"),
    );
    assert.doesNotThrow(() => new Script(script), "the loader script is valid JavaScript");
    assert.match(html, /ee-snippets-plotly-loader/);
    assert.equal(html.match(/<\/script/g)?.length, 1, "base64 cannot end the script early");
    const bound = LOADER_BOUNDS[which];
    assert.ok(html.length < bound, `the loader is ${html.length} bytes, under ${bound}`);
    assert.ok(html.length < source.length / 2, "at least 2x smaller than the source");
  });
}

describe("snippet thumbnails", () => {
  let dir: string;
  let rgbPath: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "plot-test-"));
    const width = 40;
    const height = 20;
    // Pixel-interleaved RGB, the layout geotiff.js writes from a flat array.
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) rgb.set([200, 10, 90], i * 3);
    const tiff = await writeArrayBuffer(rgb, {
      width,
      height,
      BitsPerSample: [8, 8, 8],
      SampleFormat: [1, 1, 1],
      PhotometricInterpretation: 2,
    });
    rgbPath = join(dir, "a.tif");
    await writeFile(rgbPath, Buffer.from(tiff as ArrayBuffer));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("geotiffThumbnail shrinks an RGB GeoTIFF to a PNG keeping colours and aspect", async () => {
    const thumb = await geotiffThumbnail(rgbPath, 10);
    assert.equal(thumb.width, 10);
    assert.equal(thumb.height, 5);
    assert.equal(thumb.sourceWidth, 40);
    const png = PNG.sync.read(thumb.png);
    assert.deepEqual([...png.data.subarray(0, 4)], [200, 10, 90, 255]);
  });

  test("the gallery shows each snippet with date and cloud, and reports unreadable files", async () => {
    const gallery = await galleryHtml([
      { path: rgbPath, date: "2024-01-05", cloudPercent: 12.34 },
      { path: join(dir, "missing.tif"), date: "2024-01-10" },
    ]);
    assert.match(gallery.html, /data:image\/jpeg;base64,/, "JPEG by default: a fifth of the size");
    assert.match(gallery.html, /2024-01-05 · 12\.3% cloud/);
    assert.equal(gallery.failures.length, 1);
    assert.match(gallery.failures[0].error, /run the download cell first/);
    const png = await galleryHtml([{ path: rgbPath }], { format: "png" });
    assert.match(png.html, /data:image\/png;base64,/);
    await assert.rejects(galleryHtml([], { format: "gif" as "png" }), /"jpeg" or "png", got "gif"/);
  });

  test("a JPEG thumbnail keeps the colours within JPEG's error", async () => {
    const thumb = await geotiffThumbnail(rgbPath, 10);
    const decoded = jpeg.decode(thumb.jpeg(), { useTArray: true });
    assert.equal(decoded.width, 10);
    assert.equal(decoded.height, 5);
    const [r, g, b] = decoded.data.subarray(0, 3);
    for (const [got, want] of [
      [r, 200],
      [g, 10],
      [b, 90],
    ]) {
      assert.ok(Math.abs(got - want) <= 8, `channel ${got} is near ${want}`);
    }
  });
});

test("imageTableHtml lists id, date and cloud % in HTML and aligned text", () => {
  const table = imageTableHtml([
    { id: "20240105T_T17PMK", date: "2024-01-05", cloudPercent: 3.21, mgrsTile: "17PMK" },
    { id: "<b>", date: "2024-01-10", cloudPercent: 40 },
  ]);
  assert.match(table.html, /<td style="text-align:left">20240105T_T17PMK<\/td>/);
  assert.match(table.html, /&lt;b&gt;/);
  assert.match(table.text, /^#\s+id\s+date\s+cloud %\s+MGRS tile/);
  assert.match(table.text, /2 image\(s\)$/);
});
