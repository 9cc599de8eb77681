/** The image table and the gallery show AOI cloud and fill next to the tile-wide figure. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { writeArrayBuffer } from "geotiff";
import { galleryHtml, imageTableHtml } from "../../src/display/gallery";

test("the image table has tile cloud, AOI cloud and AOI fill columns when the search measured them", () => {
  const table = imageTableHtml([
    { id: "a", date: "2024-01-05", cloudPercent: 3.21, aoiCloudPercent: 64.5, aoiFillPercent: 100 },
    { id: "b", date: "2024-01-10", cloudPercent: 40, aoiCloudPercent: null, aoiFillPercent: 0 },
  ]);
  assert.match(table.text, /^#\s+id\s+date\s+tile cloud %\s+AOI cloud %\s+AOI fill %/);
  assert.match(table.text, /a\s+2024-01-05\s+3\.2\s+64\.5\s+100\.0/);
  assert.match(table.text, /b\s+2024-01-10\s+40\.0\s+-\s+0\.0/);
  assert.match(table.html, /<th style="text-align:right">AOI cloud %<\/th>/);
  const plain = imageTableHtml([{ id: "a", date: "2024-01-05", cloudPercent: 3.21 }]);
  assert.doesNotMatch(plain.text, /AOI/, "no AOI columns without AOI statistics");
});

test("a gallery caption gives the AOI cloud and fill first, then the tile's", async () => {
  const dir = await mkdtemp(join(tmpdir(), "aoi-gallery-"));
  try {
    const path = join(dir, "a.tif");
    const tiff = await writeArrayBuffer(new Uint8Array(4 * 2 * 3).fill(90), {
      width: 4,
      height: 2,
      SamplesPerPixel: 3,
      BitsPerSample: [8, 8, 8],
      PhotometricInterpretation: 2,
    });
    await writeFile(path, Buffer.from(tiff as ArrayBuffer));
    const gallery = await galleryHtml([
      { path, date: "2024-01-05", cloudPercent: 4.5, aoiCloudPercent: 12.34, aoiFillPercent: 100 },
      { path, date: "2024-01-10", cloudPercent: 60, aoiCloudPercent: 0, aoiFillPercent: 42.25 },
    ]);
    assert.match(gallery.text, /2024-01-05 · AOI 12\.3% cloud, 100% fill · tile 4\.5%/);
    assert.match(gallery.text, /2024-01-10 · AOI 0\.0% cloud, 42\.3% fill · tile 60\.0%/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
