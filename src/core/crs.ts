import proj4 from "proj4";

/**
 * A coordinate reference system the product renders and writes: WGS84, a WGS84 UTM zone, or
 * Web Mercator (EPSG:3857, the grid of web map tiles).
 */
export interface Crs {
  /** "EPSG:4326", "EPSG:32617", ... as Earth Engine spells it. */
  code: string;
  epsg: number;
  /** Degrees or metres; decides how scales and GeoKeys are expressed. */
  units: "degree" | "metre";
  /** lon/lat (degrees, WGS84) -> x/y in this CRS. */
  forward(lon: number, lat: number): [number, number];
  /** x/y in this CRS -> lon/lat (degrees, WGS84). */
  inverse(x: number, y: number): [number, number];
}

export class UnsupportedCrsError extends Error {
  constructor(code: string) {
    super(
      `Unsupported CRS "${code}": use "EPSG:4326", "EPSG:3857" (Web Mercator) or a WGS84 UTM zone ("EPSG:326NN" north, "EPSG:327NN" south, NN 01-60).`,
    );
    this.name = "UnsupportedCrsError";
  }
}

const cache = new Map<string, Crs>();

/** Parses "EPSG:NNNN" (case-insensitive) into a Crs, or throws UnsupportedCrsError. */
export function crsFromCode(code: string): Crs {
  const key = code.trim().toUpperCase();
  const cached = cache.get(key);
  if (cached) return cached;
  const match = /^EPSG:(\d+)$/.exec(key);
  if (!match) throw new UnsupportedCrsError(code);
  const epsg = Number(match[1]);
  const crs = buildCrs(epsg, code);
  cache.set(key, crs);
  return crs;
}

export function crsFromEpsg(epsg: number): Crs {
  return crsFromCode(`EPSG:${epsg}`);
}

function buildCrs(epsg: number, original: string): Crs {
  if (epsg === 4326) {
    return {
      code: "EPSG:4326",
      epsg,
      units: "degree",
      forward: (lon, lat) => [lon, lat],
      inverse: (x, y) => [x, y],
    };
  }
  if (epsg === 3857) return WEB_MERCATOR;
  const zone = epsg % 100;
  const hemisphere = Math.floor(epsg / 100);
  if ((hemisphere !== 326 && hemisphere !== 327) || zone < 1 || zone > 60) {
    throw new UnsupportedCrsError(original);
  }
  const south = hemisphere === 327 ? " +south" : "";
  const converter = proj4(
    "EPSG:4326",
    `+proj=utm +zone=${zone}${south} +datum=WGS84 +units=m +no_defs`,
  );
  return {
    code: `EPSG:${epsg}`,
    epsg,
    units: "metre",
    forward: (lon, lat) => converter.forward([lon, lat]) as [number, number],
    inverse: (x, y) => converter.inverse([x, y]) as [number, number],
  };
}

/**
 * The UTM zone's EPSG code for a point. Norway's and Svalbard's zone exceptions are not
 * applied: any zone is a valid output grid there, only slightly less square.
 */
export function utmEpsgFor(lon: number, lat: number): number {
  const normalized = ((((lon + 180) % 360) + 360) % 360) - 180;
  const zone = Math.min(60, Math.floor((normalized + 180) / 6) + 1);
  return (lat >= 0 ? 32600 : 32700) + zone;
}

/** Web Mercator's sphere: WGS84's semi-major axis, as EPSG:3857 defines it. */
export const WEB_MERCATOR_RADIUS = 6378137;
/** Half the width of the Web Mercator world in metres (x runs from minus this to this). */
export const WEB_MERCATOR_HALF_WORLD = Math.PI * WEB_MERCATOR_RADIUS;
/** Web Mercator's latitude limit: where y reaches WEB_MERCATOR_HALF_WORLD, so the world is square. */
export const WEB_MERCATOR_MAX_LAT = (Math.atan(Math.sinh(Math.PI)) * 180) / Math.PI;

const DEG = Math.PI / 180;

// The closed form rather than proj4: it is exact and cheap, and tiles project every node.
const WEB_MERCATOR: Crs = {
  code: "EPSG:3857",
  epsg: 3857,
  units: "metre",
  // Beyond WEB_MERCATOR_MAX_LAT y leaves the square world; at the poles it is infinite.
  forward: (lon, lat) => [
    WEB_MERCATOR_RADIUS * lon * DEG,
    WEB_MERCATOR_RADIUS * Math.log(Math.tan(Math.PI / 4 + (lat * DEG) / 2)),
  ],
  inverse: (x, y) => [
    x / WEB_MERCATOR_RADIUS / DEG,
    (2 * Math.atan(Math.exp(y / WEB_MERCATOR_RADIUS)) - Math.PI / 2) / DEG,
  ],
};
