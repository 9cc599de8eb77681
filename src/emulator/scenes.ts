/**
 * The emulator's scene catalogue: Sentinel-2 acquisitions as a pure function of (collection,
 * MGRS tile, day), so the whole planet's archive exists without ever being listed. Queries
 * enumerate only the tiles under an area and the revisit days inside a date range.
 *
 * Tiles follow Sentinel-2's grid: one 109.8 km square per MGRS 100 km square of a UTM zone
 * (so neighbours overlap by 9.8 km), named with the standard MGRS lettering (AA scheme).
 */
import { crsFromEpsg } from "../core/crs";
import type { Scene } from "./model";

/** Collections the emulator serves, with the processing level that goes into product ids. */
const COLLECTIONS: Record<string, { level: "L2A" | "L1C" }> = {
  "COPERNICUS/S2_SR_HARMONIZED": { level: "L2A" },
  "COPERNICUS/S2_SR": { level: "L2A" },
  "COPERNICUS/S2_HARMONIZED": { level: "L1C" },
  // Cloud Score+: one image per acquisition with Sentinel-2's system:index (cloud-score.ts).
  "GOOGLE/CLOUD_SCORE_PLUS/V1/S2_HARMONIZED": { level: "L2A" },
};

export const SCENE_COLLECTIONS: readonly string[] = Object.keys(COLLECTIONS);

/** Sentinel-2's level-2A archive in Earth Engine starts with this acquisition day. */
export const FIRST_ACQUISITION_MS = Date.UTC(2017, 2, 28);
/** Two satellites, each on a 10-day repeat cycle, half a cycle apart. */
export const REVISIT_DAYS = 5;
const DAY_MS = 86_400_000;
/** Sentinel-2A moved to an extended campaign when 2C took its place in the constellation. */
const SENTINEL_2C_FROM_MS = Date.UTC(2025, 0, 21);

/** Sentinel-2 tiles are 109.8 km squares on MGRS's 100 km grid. */
export const TILE_SIZE_M = 109_800;
const GRID_M = 100_000;
/** UTM covers 80 S to 84 N; MGRS uses polar stereographic (UPS) beyond, which S2 does not tile. */
const MIN_LAT = -80;
const MAX_LAT = 84;

const LATITUDE_BANDS = "CDEFGHJKLMNPQRSTUVWX";
const COLUMN_SETS = ["ABCDEFGH", "JKLMNPQR", "STUVWXYZ"];
const ROW_LETTERS = "ABCDEFGHJKLMNPQRSTUV";

export interface LonLatBox {
  west: number;
  south: number;
  east: number;
  north: number;
}

/** One Sentinel-2 tile: an MGRS 100 km square in its UTM zone. */
export interface MgrsTile {
  /** "17PLK" */
  id: string;
  zone: number;
  south: boolean;
  epsg: number;
  /** Easting index: the tile starts at col * 100 km (1..8). */
  col: number;
  /** Northing index: the tile starts at row * 100 km (false northing included in the south). */
  row: number;
  utmBounds: { xmin: number; ymin: number; xmax: number; ymax: number };
  /** Closed lon/lat ring, counter-clockwise, densified so it follows the UTM square's curvature. */
  footprint: number[][];
  centerLon: number;
  centerLat: number;
}

export function isSceneCollection(id: string): boolean {
  return Object.hasOwn(COLLECTIONS, id);
}

function zoneOf(lon: number): number {
  const normalized = ((((lon + 180) % 360) + 360) % 360) - 180;
  return Math.min(60, Math.floor((normalized + 180) / 6) + 1);
}

function bandLetter(lat: number): string {
  const clamped = Math.max(MIN_LAT, Math.min(MAX_LAT - 1e-9, lat));
  // Band X spans 72-84 N (12 degrees), so clamp the index rather than extend the alphabet.
  return LATITUDE_BANDS[Math.min(19, Math.floor((clamped + 80) / 8))];
}

function squareLetters(zone: number, col: number, row: number): string {
  const columnLetter = COLUMN_SETS[(zone - 1) % 3][col - 1];
  // Even zones start their row lettering at F (the AA scheme used by WGS84 MGRS).
  const rowLetter = ROW_LETTERS[(row + (zone % 2 === 0 ? 5 : 0)) % 20];
  return `${columnLetter}${rowLetter}`;
}

function zoneEdges(zone: number): [number, number] {
  const west = -180 + (zone - 1) * 6;
  return [west, west + 6];
}

/** Builds the tile at (zone, hemisphere, col, row), or undefined if Sentinel-2 has no such tile. */
function buildTile(zone: number, south: boolean, col: number, row: number): MgrsTile | undefined {
  if (col < 1 || col > 8) return undefined;
  const epsg = (south ? 32700 : 32600) + zone;
  const crs = crsFromEpsg(epsg);
  const xmin = col * GRID_M;
  const ymin = row * GRID_M;
  const xmax = xmin + TILE_SIZE_M;
  const ymax = ymin + TILE_SIZE_M;
  const [centerLon, centerLat] = crs.inverse(xmin + TILE_SIZE_M / 2, ymin + TILE_SIZE_M / 2);
  if (!Number.isFinite(centerLat) || centerLat < MIN_LAT || centerLat >= MAX_LAT) return undefined;
  if (south !== centerLat < 0) return undefined;
  // A tile exists when its square reaches into its zone's 6-degree strip.
  const [zoneWest, zoneEast] = zoneEdges(zone);
  let touchesZone = false;
  for (const fx of [0, 0.5, 1]) {
    for (const fy of [0, 0.5, 1]) {
      const [lon] = crs.inverse(xmin + fx * TILE_SIZE_M, ymin + fy * TILE_SIZE_M);
      if (lon >= zoneWest && lon <= zoneEast) touchesZone = true;
    }
  }
  if (!touchesZone) return undefined;
  const id = `${zone}${bandLetter(centerLat)}${squareLetters(zone, col, row)}`;
  return {
    id,
    zone,
    south,
    epsg,
    col,
    row,
    utmBounds: { xmin, ymin, xmax, ymax },
    footprint: densifiedRing(epsg, xmin, ymin, xmax, ymax),
    centerLon,
    centerLat,
  };
}

function densifiedRing(epsg: number, xmin: number, ymin: number, xmax: number, ymax: number) {
  const crs = crsFromEpsg(epsg);
  const steps = 4;
  const ring: number[][] = [];
  const corners: [number, number][] = [
    [xmin, ymin],
    [xmax, ymin],
    [xmax, ymax],
    [xmin, ymax],
  ];
  for (let side = 0; side < 4; side++) {
    const [x0, y0] = corners[side];
    const [x1, y1] = corners[(side + 1) % 4];
    for (let i = 0; i < steps; i++) {
      const t = i / steps;
      const [lon, lat] = crs.inverse(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
      ring.push([round(lon, 9), round(lat, 9)]);
    }
  }
  ring.push(ring[0]);
  return ring;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

const tileCache = new Map<string, MgrsTile | null>();

/** Parses an MGRS tile id ("17PLK", "T17PLK" is not accepted) into its tile, if Sentinel-2 has it. */
export function tileById(id: string): MgrsTile | undefined {
  const cached = tileCache.get(id);
  if (cached !== undefined) return cached ?? undefined;
  const tile = parseTile(id);
  tileCache.set(id, tile ?? null);
  return tile;
}

function parseTile(id: string): MgrsTile | undefined {
  const match = /^(\d{1,2})([C-HJ-NP-X])([A-HJ-NP-Z])([A-HJ-NP-V])$/.exec(id);
  if (!match) return undefined;
  const zone = Number(match[1]);
  if (zone < 1 || zone > 60 || String(zone) !== match[1]) return undefined;
  const band = match[2];
  const col = COLUMN_SETS[(zone - 1) % 3].indexOf(match[3]) + 1;
  if (col === 0) return undefined;
  const rowMod = (ROW_LETTERS.indexOf(match[4]) - (zone % 2 === 0 ? 5 : 0) + 20) % 20;
  const bandIndex = LATITUDE_BANDS.indexOf(band);
  const south = bandIndex < 10;
  // The band narrows the 20-row letter cycle (2000 km) down to the one row it names.
  const bandSouth = -80 + bandIndex * 8;
  const bandNorth = band === "X" ? 84 : bandSouth + 8;
  const crs = crsFromEpsg((south ? 32700 : 32600) + zone);
  const centralLon = -183 + zone * 6;
  const nLow = crs.forward(centralLon, bandSouth)[1];
  const nHigh = crs.forward(centralLon, bandNorth)[1];
  const firstRow = Math.floor((nLow - TILE_SIZE_M) / GRID_M);
  const lastRow = Math.floor(nHigh / GRID_M);
  for (let row = firstRow; row <= lastRow; row++) {
    if (((row % 20) + 20) % 20 !== rowMod) continue;
    const tile = buildTile(zone, south, col, row);
    if (tile?.id === id) return tile;
  }
  return undefined;
}

/** The tile whose 100 km square contains a point (its "home" tile, ignoring overlaps). */
export function tileAt(lon: number, lat: number): MgrsTile | undefined {
  if (lat < MIN_LAT || lat >= MAX_LAT) return undefined;
  const zone = zoneOf(lon);
  const south = lat < 0;
  const [x, y] = crsFromEpsg((south ? 32700 : 32600) + zone).forward(lon, lat);
  return buildTile(zone, south, Math.floor(x / GRID_M), Math.floor(y / GRID_M));
}

/** Every tile whose square may intersect a lon/lat box (callers test exact intersection). */
export function tilesIntersectingBox(box: LonLatBox): MgrsTile[] {
  const south = Math.max(MIN_LAT, box.south);
  const north = Math.min(MAX_LAT, box.north);
  if (south > north) return [];
  const found = new Map<string, MgrsTile>();
  const west = box.west;
  const east = box.east < box.west ? box.east + 360 : box.east;
  const firstZone = Math.floor((west + 180) / 6);
  const lastZone = Math.floor((east + 180) / 6) + 2;
  for (let z = firstZone; z <= lastZone; z++) {
    const zone = ((((z - 1) % 60) + 60) % 60) + 1;
    for (const hemisphereSouth of [false, true]) {
      if (hemisphereSouth && south >= 1) continue;
      if (!hemisphereSouth && north < -1) continue;
      const crs = crsFromEpsg((hemisphereSouth ? 32700 : 32600) + zone);
      let xmin = Number.POSITIVE_INFINITY;
      let xmax = Number.NEGATIVE_INFINITY;
      let ymin = Number.POSITIVE_INFINITY;
      let ymax = Number.NEGATIVE_INFINITY;
      const samples = 8;
      // UTM is not rectangular in lon/lat: sample the box's edges and interior.
      for (let i = 0; i <= samples; i++) {
        for (let j = 0; j <= samples; j++) {
          const lon = west + ((east - west) * i) / samples;
          const lat = south + ((north - south) * j) / samples;
          const central = -183 + zone * 6;
          // Points more than ~20 degrees from the central meridian distort too much to help.
          const delta = ((((lon - central + 180) % 360) + 360) % 360) - 180;
          if (Math.abs(delta) > 20) continue;
          const [x, y] = crs.forward(central + delta, lat);
          xmin = Math.min(xmin, x);
          xmax = Math.max(xmax, x);
          ymin = Math.min(ymin, y);
          ymax = Math.max(ymax, y);
        }
      }
      if (!Number.isFinite(xmin)) continue;
      const colFrom = Math.max(1, Math.floor((xmin - TILE_SIZE_M) / GRID_M) + 1);
      const colTo = Math.min(8, Math.floor(xmax / GRID_M));
      const rowFrom = Math.floor((ymin - TILE_SIZE_M) / GRID_M) + 1;
      const rowTo = Math.floor(ymax / GRID_M);
      for (let col = colFrom; col <= colTo; col++) {
        for (let row = rowFrom; row <= rowTo; row++) {
          const tile = buildTile(zone, hemisphereSouth, col, row);
          if (tile && !found.has(tile.id)) found.set(tile.id, tile);
        }
      }
    }
  }
  return [...found.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** A 32-bit FNV-1a hash mapped to [0, 1): cheap, stable, and good enough to spread scenes. */
export function unitHash(...parts: (string | number)[]): number {
  let h = 0x811c9dc5;
  const text = parts.join("|");
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) / 4294967296;
}

/** Revisit days are offset per zone: neighbouring orbits pass on different days. */
function dayOffset(tile: MgrsTile): number {
  return tile.zone % REVISIT_DAYS;
}

function isRevisitDay(tile: MgrsTile, day: number): boolean {
  return day >= 0 && (day - dayOffset(tile)) % REVISIT_DAYS === 0;
}

function compactTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").slice(0, 15);
}

/** Cloud cover: many clear scenes, a middle band, and some nearly overcast ones. */
function cloudPercentFor(tile: MgrsTile, day: number): number {
  const u = unitHash("cloud", tile.id, day);
  const v = unitHash("cloud-amount", tile.id, day);
  let percent: number;
  if (u < 0.45) percent = v * 5;
  else if (u < 0.8) percent = 5 + v * 55;
  else percent = 60 + v * 40;
  return round(percent, 6);
}

/** Sentinel-2's 143 relative orbits step westward about 2.5 degrees each at the equator. */
function relativeOrbit(lon: number): number {
  return (((Math.floor((180 - lon) / (360 / 143)) % 143) + 143) % 143) + 1;
}

/** The scene of a collection over a tile on a revisit day (days since FIRST_ACQUISITION_MS). */
export function sceneOn(collection: string, tile: MgrsTile, day: number): Scene {
  const level = COLLECTIONS[collection]?.level ?? "L2A";
  const dayStart = FIRST_ACQUISITION_MS + day * DAY_MS;
  // Sun-synchronous orbit: the descending node crosses at 10:30 local solar time.
  const jitterSeconds = Math.round((unitHash("time", tile.id, day) - 0.5) * 240);
  const sensing =
    Math.round(dayStart + (10.5 - tile.centerLon / 15) * 3_600_000) + jitterSeconds * 1000;
  const sensingMs = Math.floor(sensing / 1000) * 1000;
  const granuleMs = sensingMs + (240 + Math.round(unitHash("granule", tile.id, day) * 420)) * 1000;
  const generationMs = sensingMs + (3 + Math.round(unitHash("gen", tile.id, day) * 5)) * 3_600_000;
  const revisit = Math.floor(day / REVISIT_DAYS);
  const spacecraft =
    revisit % 2 === 1
      ? "Sentinel-2B"
      : sensingMs >= SENTINEL_2C_FROM_MS
        ? "Sentinel-2C"
        : "Sentinel-2A";
  const index = `${compactTime(sensingMs)}_${compactTime(granuleMs)}_T${tile.id}`;
  const cloudPercent = cloudPercentFor(tile, day);
  const orbit = relativeOrbit(tile.centerLon);
  const platform = `S2${spacecraft.slice(-1)}`;
  const productId = `${platform}_MSI${level}_${compactTime(sensingMs)}_N0510_R${String(orbit).padStart(3, "0")}_T${tile.id}_${compactTime(generationMs)}`;
  const properties: Record<string, unknown> = {
    "system:index": index,
    "system:time_start": sensingMs,
    "system:time_end": sensingMs,
    "system:footprint": { type: "LinearRing", coordinates: tile.footprint },
    CLOUDY_PIXEL_PERCENTAGE: cloudPercent,
    CLOUD_COVERAGE_ASSESSMENT: cloudPercent,
    MGRS_TILE: tile.id,
    SPACECRAFT_NAME: spacecraft,
    SENSING_ORBIT_NUMBER: orbit,
    SENSING_ORBIT_DIRECTION: "DESCENDING",
    PRODUCT_ID: productId,
    DATATAKE_IDENTIFIER: `G${platform}_${compactTime(sensingMs)}_${String(revisit).padStart(6, "0")}_N05.10`,
    PROCESSING_BASELINE: "05.10",
    GENERATION_TIME: generationMs,
  };
  return {
    collection,
    index,
    timeStart: sensingMs,
    mgrsTile: tile.id,
    epsg: tile.epsg,
    utmBounds: { ...tile.utmBounds },
    footprint: tile.footprint,
    cloudPercent,
    properties,
  };
}

/**
 * A tile's scenes with system:time_start in [startMs, endMs), oldest first. Earth Engine's date
 * ranges exclude their end, and so does this.
 */
export function scenesInRange(
  collection: string,
  tile: MgrsTile,
  startMs: number,
  endMs: number,
): Scene[] {
  const scenes: Scene[] = [];
  // Sensing times drift up to a day from the revisit day (10:30 local is another UTC date).
  const firstDay = Math.max(0, Math.floor((startMs - FIRST_ACQUISITION_MS) / DAY_MS) - 1);
  const lastDay = Math.floor((endMs - FIRST_ACQUISITION_MS) / DAY_MS) + 1;
  for (let day = firstDay; day <= lastDay; day++) {
    if (!isRevisitDay(tile, day)) continue;
    const scene = sceneOn(collection, tile, day);
    if (scene.timeStart >= startMs && scene.timeStart < endMs) scenes.push(scene);
  }
  return scenes;
}

/** Parses a system:index back to its scene; undefined unless that acquisition exists. */
export function sceneFromIndex(collection: string, index: string): Scene | undefined {
  if (!isSceneCollection(collection)) return undefined;
  const match = /^(\d{4})(\d{2})(\d{2})T\d{6}_\d{8}T\d{6}_T(\w+)$/.exec(index);
  if (!match) return undefined;
  const tile = tileById(match[4]);
  if (!tile) return undefined;
  const dateMs = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  const day = Math.round((dateMs - FIRST_ACQUISITION_MS) / DAY_MS);
  for (const candidate of [day, day - 1, day + 1]) {
    if (!isRevisitDay(tile, candidate)) continue;
    const scene = sceneOn(collection, tile, candidate);
    if (scene.index === index) return scene;
  }
  return undefined;
}
