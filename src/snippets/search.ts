import {
  type ComputeRoute,
  type Ee,
  type EeComputed,
  type EeGeometry,
  evaluate,
} from "../ee/client";
import { type Aoi, aoiToEe } from "./aoi";
import { collectionFacts, DEFAULT_COLLECTION } from "./collections";

/** One image found over the AOI. */
export interface ImageInfo {
  /** system:index, e.g. "20240105T153619_20240105T154242_T17PMK": the file name stem. */
  id: string;
  /** Full asset id for ee.Image(...). */
  assetId: string;
  collection: string;
  /** system:time_start, ms since epoch. */
  time: number;
  /** UTC acquisition date, YYYY-MM-DD. */
  date: string;
  cloudPercent: number;
  mgrsTile?: string;
}

export interface SearchOptions {
  collection?: string;
  aoi: Aoi;
  /** Inclusive start, "YYYY-MM-DD" or a Date. */
  start: string | Date;
  /** Exclusive end (as Earth Engine's filterDate), "YYYY-MM-DD" or a Date. */
  end: string | Date;
  /** Keep images whose cloud percentage is below this (the tutorial uses 85). */
  maxCloud?: number;
  /** Where notices such as deprecations go; console.warn by default. */
  onWarning?: (message: string) => void;
  /** Stops the search (and its retries) when aborted. */
  signal?: AbortSignal;
  /** Retries per request for transient failures (429, 5xx, resets, timeouts); default 6. */
  retries?: number;
}

/**
 * What findImages needs of a session: the client, and (connect() gives them) the backend and
 * limiter its requests go through. With only `ee`, the official client sends them.
 */
export interface SearchSession {
  ee: Ee;
  backend?: ComputeRoute["backend"];
  requests?: ComputeRoute["requests"];
}

export class SearchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SearchError";
  }
}

const DAY_MS = 86_400_000;

/**
 * The tutorial's filter chain in one round trip: images of `collection` over the AOI between
 * the dates with cloud cover below maxCloud, sorted by time. When nothing matches, a second
 * round trip tells which filter removed the images.
 */
export async function findImages(
  session: SearchSession,
  options: SearchOptions,
): Promise<ImageInfo[]> {
  const { ee } = session;
  const route =
    session.backend && session.requests
      ? { backend: session.backend, requests: session.requests }
      : undefined;
  const compute = <T>(obj: EeComputed) =>
    evaluate<T>(obj, { session: route, signal: options.signal, retries: options.retries });
  const collection = options.collection ?? DEFAULT_COLLECTION;
  const warn = options.onWarning ?? ((message: string) => console.warn(message));
  const maxCloud = options.maxCloud ?? 85;
  if (
    typeof maxCloud !== "number" ||
    !Number.isFinite(maxCloud) ||
    maxCloud < 0 ||
    maxCloud > 100
  ) {
    throw new SearchError(
      `maxCloud ${JSON.stringify(options.maxCloud)} is not a percentage: use a number from 0 to 100 (the tutorial uses 85).`,
    );
  }
  const start = parseDate("start", options.start);
  const end = parseDate("end", options.end);
  if (end <= start) {
    throw new SearchError(
      `The end date ${isoDate(end)} is not after the start date ${isoDate(start)}: filterDate's end is exclusive, so use an end at least one day later.`,
    );
  }
  const facts = collectionFacts(collection);
  if (facts?.supersededBy) {
    warn(
      `${collection} is deprecated in Earth Engine; ${facts.supersededBy} has the same images with consistent radiometry. Use it unless you must reproduce old results.`,
    );
  }
  if (facts) {
    const first = Date.parse(`${facts.firstDate}T00:00:00Z`);
    if (end <= first) {
      throw new SearchError(
        `${collection} starts on ${facts.firstDate}; the dates ${isoDate(start)}..${isoDate(end)} are all before it. Move the dates to ${facts.firstDate} or later.`,
      );
    }
    if (start < first)
      warn(`${collection} starts on ${facts.firstDate}; dates before it find nothing.`);
  }
  if (start > Date.now()) {
    throw new SearchError(
      `The start date ${isoDate(start)} is in the future: no images exist yet.`,
    );
  }

  const region = aoiToEe(ee, options.aoi);
  const cloudProperty = facts?.cloudProperty ?? "CLOUDY_PIXEL_PERCENTAGE";
  const filtered = ee
    .ImageCollection(collection)
    .filterDate(isoDate(start), isoDate(end))
    .filterBounds(region)
    .filter(ee.Filter.lt(cloudProperty, maxCloud));

  const columns = ["system:index", "system:time_start", cloudProperty, "MGRS_TILE"];
  const [ids, times, clouds, tiles] = await compute<unknown[][]>(
    ee.List(columns.map((column) => filtered.aggregate_array(column))),
  );
  if (!Array.isArray(ids) || ids.length === 0) {
    throw new SearchError(
      await explainEmpty(ee, compute, region, {
        collection,
        start,
        end,
        maxCloud,
        aoi: options.aoi,
      }),
    );
  }
  const images = ids.map((id, i): ImageInfo => {
    const time = Number(times[i]);
    return {
      id: String(id),
      assetId: `${collection}/${String(id)}`,
      collection,
      time,
      date: isoDate(time),
      cloudPercent: Number(clouds[i]),
      mgrsTile: Array.isArray(tiles) && tiles.length === ids.length ? String(tiles[i]) : undefined,
    };
  });
  return images.sort((a, b) => a.time - b.time || a.id.localeCompare(b.id));
}

/**
 * Which filter removed every image. Counts start from the AOI, never from the date range
 * alone: a date-only count spans the whole planet and Earth Engine aborts such queries.
 */
async function explainEmpty(
  ee: Ee,
  compute: <T>(obj: EeComputed) => Promise<T>,
  region: EeGeometry,
  context: { collection: string; start: number; end: number; maxCloud: number; aoi: Aoi },
): Promise<string> {
  const overAoi = ee.ImageCollection(context.collection).filterBounds(region);
  const [everOverAoi, inDates] = await compute<number[]>(
    ee.List([
      overAoi.size(),
      overAoi.filterDate(isoDate(context.start), isoDate(context.end)).size(),
    ]),
  );
  const dates = `${isoDate(context.start)}..${isoDate(context.end)} (end exclusive)`;
  const where = `the AOI "${context.aoi.name}" (bounds ${context.aoi.bounds.join(", ")})`;
  if (everOverAoi === 0) {
    return `No ${context.collection} image ever covers ${where}: check that the coordinates are [lon, lat] in degrees.`;
  }
  if (inDates === 0) {
    return `${everOverAoi} ${context.collection} images cover ${where}, but none between ${dates}: widen the dates.`;
  }
  return `${inDates} ${context.collection} images cover ${where} between ${dates}, but none has cloud cover below ${context.maxCloud}%: raise maxCloud or widen the dates.`;
}

function parseDate(name: string, value: string | Date): number {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime()))
      throw new SearchError(`The ${name} date is an invalid Date.`);
    return value.getTime();
  }
  const match = typeof value === "string" ? /^(\d{4})-(\d{2})-(\d{2})$/.exec(value.trim()) : null;
  if (!match) {
    throw new SearchError(
      `The ${name} date ${JSON.stringify(value)} is not in YYYY-MM-DD form (e.g. "2024-01-01").`,
    );
  }
  const time = Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
  if (isoDate(time) !== match[0]) {
    throw new SearchError(`The ${name} date ${value} does not exist on the calendar.`);
  }
  return time;
}

export function isoDate(time: number): string {
  return new Date(Math.floor(time / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}
