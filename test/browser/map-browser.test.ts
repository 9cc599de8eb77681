/**
 * The tutorial notebook's maps in classic Jupyter Notebook and in JupyterLab, in headless
 * Chromium with the internet blocked (loopback only): run every cell but the closing one (it
 * stops the emulator), then on the scene map check
 * that the emulator answered every tile request 200 and the tiles were drawn, that the AOI
 * outline sits where the AOI projects at the map's zoom (measured against the tiles' own
 * screen positions, with the slippy-map formulas written out here), that the layer switcher
 * lists every image of the table, and that drawing a square writes parameter lines which,
 * copied, pasted into the parameters cell and run, give the AOI that was drawn. Then the
 * snippet map shows each downloaded GeoTIFF. Screenshots in test/artifacts/.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import { jupyterPython, requireTslabKernel } from "../notebook/harness";
import {
  ARTIFACTS,
  type JupyterServer,
  launchChromium,
  type PageDocument,
  prepareNotebookDir,
  startJupyter,
  startJupyterLab,
} from "./browser-harness";

// The page.evaluate/waitForFunction callbacks run in the page (see PageDocument).
declare const document: PageDocument;
declare const window: unknown;
declare const navigator: { clipboard: { readText(): Promise<string> } };

const NOTEBOOK = "download_s2_snippets.ipynb";
const RUN_TIMEOUT_MS = 300_000;
const TILE_URL = /\/v1\/projects\/[^/]+\/maps\/([0-9a-f]+)\/tiles\/(\d+)\/(\d+)\/(\d+)$/;

const scratch = mkdtempSync(join(tmpdir(), "map-browser-"));
const servers: JupyterServer[] = [];
const contexts: BrowserContext[] = [];

before(() => mkdirSync(ARTIFACTS, { recursive: true }));

after(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
  for (const server of servers) await server.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** What differs between the two front ends; everything else is the same page. */
interface FrontEnd {
  name: "classic" | "jupyterlab";
  start(dir: string): Promise<JupyterServer>;
  notebookUrl(server: JupyterServer): string;
  /** Waits until the notebook is open and its kernel idle. */
  ready(page: Page): Promise<void>;
  /**
   * Runs every cell above the last, through the menu: the last cell closes the session,
   * which stops the emulator serving the tiles the switcher loads afterwards.
   */
  runAll(page: Page): Promise<void>;
  /** A code cell (its editor is a CodeMirror 5 in both) and its output area. */
  codeCell: string;
  output: string;
}

const classic: FrontEnd = {
  name: "classic",
  start: (dir) =>
    startJupyter({
      python: jupyterPython(),
      args: ["-m", "notebook", `--notebook-dir=${dir}`],
      optionPrefix: "--NotebookApp",
      cwd: dir,
      scratch: join(scratch, "classic"),
    }),
  notebookUrl: (server) => `${server.url}/notebooks/${NOTEBOOK}?token=${server.token}`,
  ready: (page) =>
    page
      .waitForSelector("#kernel_indicator_icon.kernel_idle_icon", {
        state: "attached",
        timeout: 90_000,
      })
      .then(() => undefined),
  runAll: async (page) => {
    await page.locator(".cell.code_cell .CodeMirror").last().click();
    await page.click("#menus a.dropdown-toggle:text-is('Cell')");
    await page.click("#run_all_cells_above > a");
    await page.waitForSelector(".cell.running", { state: "attached", timeout: 30_000 });
    await page.waitForFunction(() => !document.querySelector(".cell.running"), undefined, {
      timeout: RUN_TIMEOUT_MS,
      polling: 500,
    });
  },
  codeCell: ".cell.code_cell",
  output: ".output_area",
};

const jupyterLab: FrontEnd = {
  name: "jupyterlab",
  start: (dir) => startJupyterLab(dir, join(scratch, "lab")),
  notebookUrl: (server) =>
    `${server.url}/lab/workspaces/map/tree/${encodeURIComponent(NOTEBOOK)}?token=${server.token}`,
  ready: async (page) => {
    await page.waitForSelector('body[data-ee-snippets-lab="restored"]', {
      state: "attached",
      timeout: 90_000,
    });
    await page.waitForFunction(
      () =>
        Array.from(document.querySelectorAll("#jp-main-statusbar span")).some((item) =>
          /\| Idle$/.test((item.textContent ?? "").trim()),
        ),
      undefined,
      { timeout: 90_000 },
    );
  },
  runAll: async (page) => {
    await page.locator(".jp-NotebookPanel .jp-CodeCell .CodeMirror").last().click();
    await page.click('.lm-MenuBar-itemLabel:text-is("Run")');
    await page.click('.lm-Menu-itemLabel:text-is("Run All Above Selected Cell")');
    const running = () =>
      Array.from(document.querySelectorAll(".jp-NotebookPanel .jp-InputPrompt")).some((p) =>
        (p.textContent ?? "").includes("[*]"),
      );
    await page.waitForFunction(running, undefined, { timeout: 30_000 });
    await page.waitForFunction(
      () =>
        !Array.from(document.querySelectorAll(".jp-NotebookPanel .jp-InputPrompt")).some((p) =>
          (p.textContent ?? "").includes("[*]"),
        ),
      undefined,
      { timeout: RUN_TIMEOUT_MS, polling: 500 },
    );
  },
  codeCell: ".jp-NotebookPanel .jp-CodeCell",
  output: ".jp-OutputArea",
};

/** World pixel of a lon/lat at `zoom` (256 px tiles), from the slippy-map formulas. */
function worldPixel(lon: number, lat: number, zoom: number): [number, number] {
  const size = 256 * 2 ** zoom;
  const phi = (lat * Math.PI) / 180;
  return [
    ((lon + 180) / 360) * size,
    ((1 - Math.log(Math.tan(phi) + 1 / Math.cos(phi)) / Math.PI) / 2) * size,
  ];
}

function lonLatOfWorldPixel(x: number, y: number, zoom: number): [number, number] {
  const size = 256 * 2 ** zoom;
  return [
    (x / size) * 360 - 180,
    (Math.atan(Math.sinh(Math.PI * (1 - (2 * y) / size))) * 180) / Math.PI,
  ];
}

interface DrawnTile {
  src: string;
  left: number;
  top: number;
  width: number;
  natural: number;
}

/** Screen position of world pixel (0, 0) at the map's zoom, from a drawn tile's place. */
function screenOrigin(tiles: DrawnTile[]): { zoom: number; x0: number; y0: number } {
  const tile = tiles[0];
  const match = TILE_URL.exec(tile.src);
  assert.ok(match, `a tile URL ${tile.src}`);
  const [zoom, x, y] = [Number(match[2]), Number(match[3]), Number(match[4])];
  return { zoom, x0: tile.left - x * 256, y0: tile.top - y * 256 };
}

/** The scene tiles drawn in the map `id`, with their screen rectangles. */
function drawnTiles(page: Page, id: string): Promise<DrawnTile[]> {
  return page.evaluate(
    (mapId) =>
      Array.from(document.querySelectorAll(`#${mapId} .ee-map-scene img.leaflet-tile-loaded`)).map(
        (img) => {
          const rect = img.getBoundingClientRect();
          const image = img;
          return {
            src: image.src,
            left: rect.left,
            top: rect.top,
            width: rect.width,
            natural: image.complete ? image.naturalWidth : 0,
          };
        },
      ),
    id,
  );
}

/** Text of a code cell's editor (CodeMirror 5 in both front ends). */
function cellTexts(page: Page, frontEnd: FrontEnd): Promise<string[]> {
  return page.evaluate(
    (selector) =>
      Array.from(document.querySelectorAll(selector)).map((cell) =>
        (
          cell.querySelector(".CodeMirror") as unknown as { CodeMirror: { getValue(): string } }
        ).CodeMirror.getValue(),
      ),
    frontEnd.codeCell,
  );
}

async function mapChecks(frontEnd: FrontEnd): Promise<void> {
  requireTslabKernel(jupyterPython());
  const dir = join(ARTIFACTS, `map-${frontEnd.name}-notebook`);
  prepareNotebookDir(dir, [NOTEBOOK], join(scratch, `${frontEnd.name}-out`));
  const server = await frontEnd.start(dir);
  servers.push(server);
  const context = await launchChromium(join(scratch, `${frontEnd.name}-profile`));
  contexts.push(context);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
  // Offline: only the loopback Jupyter and emulator answer; the basemap's requests fail.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  const tileReplies: { map: string; status: number; url: string }[] = [];
  page.on("response", (response) => {
    const match = TILE_URL.exec(new URL(response.url()).pathname);
    if (match) tileReplies.push({ map: match[1], status: response.status(), url: response.url() });
  });
  await page.goto(frontEnd.notebookUrl(server));
  await frontEnd.ready(page);
  await frontEnd.runAll(page);
  const details = () => `(${frontEnd.name}; page errors: ${pageErrors.join(" | ")})`;

  // --- the scene map: tiles answered 200 and drawn -------------------------------------
  await page.waitForFunction(
    () => document.querySelectorAll(".ee-snippets-map").length >= 2,
    undefined,
    {
      timeout: 30_000,
    },
  );
  const mapId = await page.evaluate(
    () => document.querySelectorAll(".ee-snippets-map")[0].getAttribute("id") ?? "",
  );
  await page.locator(`#${mapId}`).scrollIntoViewIfNeeded();
  await page.waitForFunction(
    (id) => document.querySelectorAll(`#${id} .ee-map-scene img.leaflet-tile-loaded`).length >= 4,
    mapId,
    { timeout: 60_000 },
  );
  await page.waitForTimeout(500);
  const tiles = await drawnTiles(page, mapId);
  assert.ok(tiles.length >= 4, `tiles drawn ${details()}`);
  for (const tile of tiles) assert.equal(tile.natural, 256, `a decoded 256 px tile: ${tile.src}`);
  assert.ok(tileReplies.length >= tiles.length, `tile requests seen: ${tileReplies.length}`);
  assert.deepEqual(
    tileReplies.filter((reply) => reply.status !== 200),
    [],
    "the emulator answered every tile request 200",
  );
  await page.locator(`#${mapId}`).screenshot({ path: join(ARTIFACTS, `map-${frontEnd.name}.png`) });

  // --- the AOI outline where the AOI projects at this zoom -----------------------------
  const { zoom, x0, y0 } = screenOrigin(tiles);
  const state = await page.evaluate((id) => {
    const entry = (
      window as unknown as Record<string, Record<string, { map: { getZoom(): number } }>>
    ).eeSnippetsMaps[id];
    const outline = document.querySelector(`#${id} path.ee-map-aoi`)?.getBoundingClientRect();
    return {
      zoom: entry.map.getZoom(),
      outline: outline && {
        left: outline.left,
        top: outline.top,
        right: outline.right,
        bottom: outline.bottom,
      },
    };
  }, mapId);
  assert.equal(state.zoom, zoom, "the tiles are of the map's zoom");
  assert.ok(state.outline, "the AOI outline is drawn");
  const texts = await cellTexts(page, frontEnd);
  const parameters = texts.find((text) => /^const CENTER_LON = /m.test(text)) ?? "";
  const number = (name: string) =>
    Number(new RegExp(`^const ${name} = ([-\\d.]+);`, "m").exec(parameters)?.[1]);
  const [lon, lat, side] = [number("CENTER_LON"), number("CENTER_LAT"), number("SIDE_DEGREES")];
  const [west, north] = worldPixel(lon - side / 2, lat + side / 2, zoom);
  const [east, south] = worldPixel(lon + side / 2, lat - side / 2, zoom);
  const near = (actual: number, expected: number, what: string) =>
    assert.ok(
      Math.abs(actual - expected) <= 1.5,
      `${what}: ${actual} px, expected ${expected} ${details()}`,
    );
  near(state.outline.left, x0 + west, "AOI west edge");
  near(state.outline.right, x0 + east, "AOI east edge");
  near(state.outline.top, y0 + north, "AOI north edge");
  near(state.outline.bottom, y0 + south, "AOI south edge");

  // --- the layer switcher lists every image of the table -------------------------------
  const listing = await page.evaluate(
    (id) => ({
      labels: Array.from(
        document.querySelectorAll(`#${id} .leaflet-control-layers-base label`),
      ).map((label) => (label.textContent ?? "").trim()),
      dates: Array.from(document.querySelectorAll("table.ee-snippets-images tbody tr")).map(
        (row) => /\d{4}-\d{2}-\d{2}/.exec(row.textContent ?? "")?.[0] ?? "",
      ),
    }),
    mapId,
  );
  assert.ok(listing.dates.length > 0, "the images table is shown");
  assert.equal(listing.labels.length, listing.dates.length, "one layer per image");
  listing.labels.forEach((label, i) => {
    assert.match(label, new RegExp(`^${listing.dates[i]} · cloud [\\d.]+% \\(tile\\)`));
  });
  // Another scene: its own map's tiles load too.
  const firstMap = TILE_URL.exec(tiles[0].src)?.[1];
  await page.locator(`#${mapId} .leaflet-control-layers-base label`).nth(1).click();
  await page
    .waitForFunction(
      ([id, first]) =>
        Array.from(document.querySelectorAll(`#${id} .ee-map-scene img.leaflet-tile-loaded`)).some(
          (img) => !img.src.includes(first as string),
        ),
      [mapId, firstMap ?? ""],
      { timeout: 30_000 },
    )
    .catch(async (error) => {
      const seen = await page.evaluate(
        (id) => ({
          checked: Array.from(
            document.querySelectorAll(`#${id} .leaflet-control-layers-base input`),
          ).map(
            (input) =>
              input.getAttribute("checked") ??
              String((input as unknown as { checked: boolean }).checked),
          ),
          tiles: Array.from(document.querySelectorAll(`#${id} .ee-map-scene img`)).map((img) =>
            img.src.slice(-60),
          ),
        }),
        mapId,
      );
      throw new Error(`${error}: ${JSON.stringify(seen)} ${JSON.stringify(tileReplies.slice(-5))}`);
    });
  assert.ok(
    tileReplies.some((reply) => reply.map !== firstMap && reply.status === 200),
    "the second scene's tiles were answered 200",
  );

  // --- draw a square, copy its lines, paste them into the parameters cell, run ---------
  const box = await page.locator(`#${mapId}`).boundingBox();
  assert.ok(box);
  await page.click(`#${mapId} .ee-map-draw-square`);
  const start = { x: Math.round(box.x + box.width * 0.3), y: Math.round(box.y + box.height * 0.7) };
  const end = { x: start.x + 140, y: start.y - 90 };
  await page.mouse.move(start.x, start.y);
  await page.mouse.down();
  await page.mouse.move(start.x + 70, start.y - 45, { steps: 5 });
  await page.mouse.move(end.x, end.y, { steps: 5 });
  await page.mouse.up();
  const lines = await page.locator(`#${mapId}-draw pre.ee-map-params`).textContent();
  assert.match(
    lines ?? "",
    /^const CENTER_LON = [-\d.]+;\nconst CENTER_LAT = [-\d.]+;\nconst SIDE_DEGREES = [\d.]+;\nconst AOI_FILE = "";/,
  );
  // The square the mouse drew, from the tiles' screen origin: side = the longer of the drag's
  // extents in degrees, from the press point towards the release point.
  const [lon1, lat1] = lonLatOfWorldPixel(start.x - x0, start.y - y0, zoom);
  const [lon2, lat2] = lonLatOfWorldPixel(end.x - x0, end.y - y0, zoom);
  const drawnSide = Math.max(Math.abs(lon2 - lon1), Math.abs(lat2 - lat1));
  const expected = {
    lon: Math.min(lon1, lon2 < lon1 ? lon1 - drawnSide : lon1) + drawnSide / 2,
    lat: Math.min(lat1, lat2 < lat1 ? lat1 - drawnSide : lat1) + drawnSide / 2,
  };
  const value = (name: string) =>
    Number(new RegExp(`const ${name} = ([-\\d.]+);`).exec(lines ?? "")?.[1]);
  const pixelDegrees = 360 / (256 * 2 ** zoom);
  assert.ok(
    Math.abs(value("CENTER_LON") - expected.lon) < 1.5 * pixelDegrees,
    `centre lon ${lines}`,
  );
  assert.ok(
    Math.abs(value("CENTER_LAT") - expected.lat) < 1.5 * pixelDegrees,
    `centre lat ${lines}`,
  );
  assert.ok(Math.abs(value("SIDE_DEGREES") - drawnSide) < 1.5 * pixelDegrees, `side ${lines}`);
  await page
    .locator(`#${mapId}`)
    .screenshot({ path: join(ARTIFACTS, `map-${frontEnd.name}-drawn.png`) });

  await page.click(`#${mapId}-draw button.ee-map-copy`);
  await page.waitForFunction(
    (id) =>
      /Copied|Selected/.test(
        document.querySelector(`#${id}-draw .ee-map-status`)?.textContent ?? "",
      ),
    mapId,
    { timeout: 10_000 },
  );
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, lines, "Copy puts the lines on the clipboard");

  // Paste over the AOI lines of the parameters cell, then run it and the AOI cell.
  const index = texts.indexOf(parameters);
  const aoiIndex = texts.findIndex((text) => text.startsWith("const aoi = AOI_FILE"));
  assert.ok(index >= 0 && aoiIndex > index, "the parameters and AOI cells");
  const pasted = parameters
    .replace(/^const (CENTER_LAT|SIDE_DEGREES|AOI_FILE) = .*\n/gm, "")
    .replace(/^const CENTER_LON = .*\n/m, `${copied}\n`);
  await page.evaluate(
    ([selector, i, text]) => {
      const cell = document.querySelectorAll(selector as string)[i as number];
      (
        cell.querySelector(".CodeMirror") as unknown as {
          CodeMirror: { setValue(t: string): void };
        }
      ).CodeMirror.setValue(text as string);
    },
    [frontEnd.codeCell, index, pasted],
  );
  for (const i of [index, aoiIndex]) {
    const cell = page.locator(frontEnd.codeCell).nth(i);
    await cell.locator(".CodeMirror").click();
    await page.keyboard.press("Shift+Enter");
  }
  const half = value("SIDE_DEGREES") / 2;
  const want = [
    value("CENTER_LON") - half,
    value("CENTER_LAT") - half,
    value("CENTER_LON") + half,
    value("CENTER_LAT") + half,
  ];
  await page
    .waitForFunction(
      ([selector, i, west]) =>
        (document.querySelectorAll(selector as string)[i as number].textContent ?? "").includes(
          `west ${west}`,
        ),
      [frontEnd.codeCell, aoiIndex, String(want[0])],
      { timeout: 60_000 },
    )
    .catch(async (error) => {
      await page.screenshot({ path: join(ARTIFACTS, `map-${frontEnd.name}-paste-failed.png`) });
      const cells = await page.evaluate(
        ([selector, a, b]) =>
          [a, b].map((i) => document.querySelectorAll(selector as string)[i as number].textContent),
        [frontEnd.codeCell, index, aoiIndex],
      );
      throw new Error(`${error}: expected west ${want[0]}; cells: ${JSON.stringify(cells)}`);
    });
  const printed = await page
    .locator(frontEnd.codeCell)
    .nth(aoiIndex)
    .locator(frontEnd.output)
    .textContent();
  const bounds = /west ([-\d.e]+), south ([-\d.e]+), east ([-\d.e]+), north ([-\d.e]+)/.exec(
    printed ?? "",
  );
  assert.ok(bounds, `the AOI cell prints its bounds: ${printed}`);
  bounds.slice(1).forEach((text, k) => {
    assert.ok(Math.abs(Number(text) - want[k]) < 1e-9, `AOI bound ${k}: ${text} vs ${want[k]}`);
  });

  // --- the snippet map: every downloaded GeoTIFF where it landed ------------------------
  const snippetMap = await page.evaluate(() => {
    const map = document.querySelectorAll(".ee-snippets-map")[1];
    return {
      id: map.getAttribute("id") ?? "",
      layers: map.querySelectorAll(".leaflet-control-layers-base label").length,
      extents: map.querySelectorAll("path.ee-map-extent").length,
      pictures: Array.from(map.querySelectorAll("img.ee-map-snippet")).filter(
        (img) => img.naturalWidth > 0,
      ).length,
      gallery: document.querySelectorAll(".ee-snippets-gallery img").length,
    };
  });
  assert.ok(snippetMap.gallery > 0, "the gallery shows the snippets");
  assert.equal(snippetMap.layers, snippetMap.gallery, "one snippet layer per downloaded file");
  assert.equal(snippetMap.extents, 1, "the shown snippet's extent is outlined");
  // Pictures are stored in the notebook only for a few files (showSnippetMap's maxPreviews).
  assert.equal(
    snippetMap.pictures,
    snippetMap.gallery <= 12 ? 1 : 0,
    "the shown snippet's picture",
  );
  await page.locator(`#${snippetMap.id}`).scrollIntoViewIfNeeded();
  await page
    .locator(`#${snippetMap.id}`)
    .screenshot({ path: join(ARTIFACTS, `map-${frontEnd.name}-snippets.png`) });

  assert.deepEqual(
    pageErrors.filter((message) => /leaflet|map|L\./i.test(message)),
    [],
    "no map script errors in the page",
  );
  await page.close();
}

test("classic Notebook: the tutorial's maps load tiles, place the AOI, list every image and draw an AOI", async () => {
  await mapChecks(classic);
});

test("JupyterLab: the tutorial's maps load tiles, place the AOI, list every image and draw an AOI", async () => {
  await mapChecks(jupyterLab);
});
