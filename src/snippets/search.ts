import {
  type ComputeRoute,
  type Ee,
  type EeComputed,
  type EeGeometry,
  evaluate,
} from "../ee/client";
import { type Aoi, aoiToEe } from "./aoi";
import {
  AOI_STATS_SCALE,
  CLOUD_BAND,
  type CloudSource,
  checkCloudSource,
  DEFAULT_CLOUD_SCORE_THRESHOLD,
  defaultCloudSource,
  FILL_BAND,
  withAoiStatistics,
} from "./cloud-mask";
import { collectionFacts, DEFAULT_COLLECTION } from "./collections";

export type { CloudSource } from "./cloud-mask";

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
  /** The tile-wide CLOUDY_PIXEL_PERCENTAGE (the whole 110 km tile, not the AOI). */
  cloudPercent: number;
  mgrsTile?: string;
  /**
   * Percent of the AOI's pixels with data that are cloud or cloud shadow, measured at
   * aoiStats.scale metres; null when the image has no data over the AOI. Undefined when
   * the search computed no AOI statistics.
   */
  aoiCloudPercent?: number | null;
  /** Percent of the AOI's pixels where the image has data (its "fill"). */
  aoiFillPercent?: number;
  /** What aoiCloudPercent was measured from. */
  aoiCloudSource?: CloudSource;
}

/** How the per-image AOI statistics are computed. */
export interface AoiStatsOptions {
  /** "scl" (the default for surface reflectance) or "cloudScorePlus". */
  source?: CloudSource;
  /** Cloud Score+ only: cs_cdf below this is cloud (default 0.6, Google's guidance). */
  threshold?: number;
  /** Metres per pixel of the reduction (default 60: see AOI_STATS_SCALE). */
  scale?: number;
}

export interface SearchOptions {
  collection?: string;
  aoi: Aoi;
  /** Inclusive start, "YYYY-MM-DD" or a Date. */
  start: string | Date;
  /** Exclusive end (as Earth Engine's filterDate), "YYYY-MM-DD" or a Date. */
  end: string | Date;
  /** Keep images whose tile-wide cloud percentage is below this (the tutorial uses 85). */
  maxCloud?: number;
  /**
   * Per-image AOI cloud and fill, computed in the search's one round trip: on by default
   * for collections with an SCL band (source "scl"); false skips them (the tutorial's
   * search alone, slightly faster).
   */
  aoiStats?: AoiStatsOptions | false;
  /** Keep images with at most this percent of the AOI's data pixels cloudy (needs aoiStats). */
  maxAoiCloud?: number;
  /** Keep images with data over at least this percent of the AOI (needs aoiStats). */
  minFill?: number;
  /**
   * Keep only the clearest image per period: a number of days (periods start at `start`)
   * or "month" (calendar months, UTC). Clearest is the least AOI cloud, then the most
   * fill, then the earliest (needs aoiStats).
   */
  clearestPer?: number | "month";
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
  const stats = statsOptions(collection, options);
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
  // The statistics ride along in the same round trip: every image that passes the
  // tutorial's filters carries its AOI figures, and the AOI filters run here, so an empty
  // result can say which filter emptied it without asking again.
  const measured =
    stats && filtered.map((image) => withAoiStatistics(ee, image, region, collection, stats));

  const columns = ["system:index", "system:time_start", cloudProperty, "MGRS_TILE"];
  // Only the statistics column reads the mapped collection: each aggregate_array computes
  // its collection anew, and map preserves order, so the columns stay aligned.
  const lists = columns.map((column) => filtered.aggregate_array(column));
  if (measured) lists.push(measured.aggregate_array("AOI_STATS"));
  const [ids, times, clouds, tiles, aoi] = await compute<unknown[][]>(ee.List(lists));
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
    const info: ImageInfo = {
      id: String(id),
      assetId: `${collection}/${String(id)}`,
      collection,
      time,
      date: isoDate(time),
      cloudPercent: Number(clouds[i]),
      mgrsTile: Array.isArray(tiles) && tiles.length === ids.length ? String(tiles[i]) : undefined,
    };
    if (stats) Object.assign(info, aoiFigures(aoi?.[i], stats.source));
    return info;
  });
  images.sort((a, b) => a.time - b.time || a.id.localeCompare(b.id));
  return applyAoiFilters(images, {
    maxAoiCloud: options.maxAoiCloud,
    minFill: options.minFill,
    clearestPer: options.clearestPer,
    start,
    context: `${images.length} ${collection} images over the AOI "${options.aoi.name}" between ${isoDate(start)}..${isoDate(end)} (end exclusive) have tile-wide cloud below ${maxCloud}%`,
  });
}

type ResolvedStats = { source: CloudSource; threshold: number; scale: number };

function statsOptions(collection: string, options: SearchOptions): ResolvedStats | undefined {
  const wanted = options.aoiStats;
  const needs = (["maxAoiCloud", "minFill", "clearestPer"] as const).filter(
    (key) => options[key] !== undefined,
  );
  for (const key of ["maxAoiCloud", "minFill"] as const) {
    const value = options[key];
    if (value !== undefined && (typeof value !== "number" || !(value >= 0 && value <= 100))) {
      throw new SearchError(
        `${key} ${JSON.stringify(value)} is not a percentage: use a number from 0 to 100.`,
      );
    }
  }
  const per = options.clearestPer;
  if (
    per !== undefined &&
    per !== "month" &&
    (typeof per !== "number" || !Number.isInteger(per) || per < 1)
  ) {
    throw new SearchError(
      `clearestPer ${JSON.stringify(per)} is not a period: use a whole number of days (e.g. 10) or "month".`,
    );
  }
  if (wanted === false) {
    if (needs.length > 0) {
      throw new SearchError(
        `${needs.join(" and ")} need${needs.length === 1 ? "s" : ""} the AOI statistics, but aoiStats is false: remove aoiStats: false (or set it to { source: "scl" } or { source: "cloudScorePlus" }).`,
      );
    }
    return undefined;
  }
  const source = wanted?.source ?? defaultCloudSource(collection);
  if (source === false) {
    if (needs.length > 0) {
      throw new SearchError(
        `${collection} has no SCL band, so ${needs.join(" and ")} need Cloud Score+: pass aoiStats: { source: "cloudScorePlus" }.`,
      );
    }
    return undefined;
  }
  try {
    checkCloudSource(collection, source, wanted?.threshold);
  } catch (error) {
    throw new SearchError((error as Error).message);
  }
  const scale = wanted?.scale ?? AOI_STATS_SCALE;
  if (typeof scale !== "number" || !(scale > 0)) {
    throw new SearchError(
      `aoiStats.scale ${JSON.stringify(scale)} is not a pixel size: use metres, e.g. ${AOI_STATS_SCALE}.`,
    );
  }
  return { source, threshold: wanted?.threshold ?? DEFAULT_CLOUD_SCORE_THRESHOLD, scale };
}

/** Percentages from one reduced {AOI_CLOUD, AOI_FILL} dictionary (fractions, or null). */
function aoiFigures(
  reduced: unknown,
  source: CloudSource,
): Pick<ImageInfo, "aoiCloudPercent" | "aoiFillPercent" | "aoiCloudSource"> {
  const dict = (reduced ?? {}) as Record<string, unknown>;
  const cloud = dict[CLOUD_BAND];
  const fill = dict[FILL_BAND];
  return {
    aoiCloudPercent: typeof cloud === "number" ? round2(cloud * 100) : null,
    aoiFillPercent: typeof fill === "number" ? round2(fill * 100) : 0,
    aoiCloudSource: source,
  };
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/**
 * The AOI filters in order (maxAoiCloud, minFill, then the clearest per period). When one
 * leaves nothing, the error names it and the figure that would have let images through.
 */
export function applyAoiFilters(
  images: ImageInfo[],
  filters: {
    maxAoiCloud?: number;
    minFill?: number;
    clearestPer?: number | "month";
    start: number;
    context: string;
  },
): ImageInfo[] {
  let kept = images;
  const { maxAoiCloud, minFill } = filters;
  if (maxAoiCloud !== undefined) {
    kept = kept.filter(
      (image) => image.aoiCloudPercent != null && image.aoiCloudPercent <= maxAoiCloud,
    );
    if (kept.length === 0) {
      const known = images.flatMap((image) =>
        image.aoiCloudPercent == null ? [] : [image.aoiCloudPercent],
      );
      const clearest =
        known.length > 0 ? `${Math.min(...known)}%` : "unknown (no data over the AOI)";
      throw new SearchError(
        `${filters.context}, but the maxAoiCloud filter removed all of them: none has at most ${maxAoiCloud}% cloud over the AOI (the clearest has ${clearest}). Raise maxAoiCloud or widen the dates.`,
      );
    }
  }
  if (minFill !== undefined) {
    const before = kept;
    kept = kept.filter((image) => (image.aoiFillPercent ?? 0) >= minFill);
    if (kept.length === 0) {
      const best = Math.max(...before.map((image) => image.aoiFillPercent ?? 0));
      throw new SearchError(
        `${filters.context}${maxAoiCloud !== undefined ? ` and ${before.length} pass maxAoiCloud ${maxAoiCloud}%` : ""}, but the minFill filter removed all of them: none covers at least ${minFill}% of the AOI (the best covers ${best}%). Lower minFill or widen the dates.`,
      );
    }
  }
  if (filters.clearestPer !== undefined) {
    const per = filters.clearestPer;
    const periodOf = (image: ImageInfo): string =>
      per === "month"
        ? image.date.slice(0, 7)
        : String(Math.floor((image.time - filters.start) / (per * DAY_MS)));
    const best = new Map<string, ImageInfo>();
    for (const image of kept) {
      const key = periodOf(image);
      const current = best.get(key);
      if (!current || clearer(image, current)) best.set(key, image);
    }
    kept = kept.filter((image) => best.get(periodOf(image)) === image);
  }
  return kept;
}

/** Less AOI cloud, then more fill, then earlier. */
function clearer(a: ImageInfo, b: ImageInfo): boolean {
  const cloudA = a.aoiCloudPercent ?? 100;
  const cloudB = b.aoiCloudPercent ?? 100;
  if (cloudA !== cloudB) return cloudA < cloudB;
  const fillA = a.aoiFillPercent ?? 0;
  const fillB = b.aoiFillPercent ?? 0;
  if (fillA !== fillB) return fillA > fillB;
  return a.time < b.time;
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
