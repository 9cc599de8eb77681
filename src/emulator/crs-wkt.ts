/**
 * computePixels' grid.crsWkt: a CRS given as Well-Known Text instead of a code. The emulator
 * renders WGS84 and the WGS84 UTM zones, so the WKT must be one of those: recognised by its
 * EPSG authority (WKT1 AUTHORITY["EPSG","32617"], WKT2 ID["EPSG",32617]) or, without one, by
 * its definition (a WGS84 GEOGCS; a Transverse Mercator PROJCS with UTM's parameters).
 */
import { EmulatorInputError } from "./errors";

export class UnsupportedWktError extends EmulatorInputError {
  constructor(name: string, why: string) {
    super(
      `grid.crsWkt: CRS "${name}" is not supported by the ee-snippets emulator (${why}): use WGS 84 (EPSG:4326) or a WGS 84 / UTM zone (EPSG:326NN, EPSG:327NN), as WKT or as grid.crsCode.`,
    );
    this.name = "UnsupportedWktError";
  }
}

/** One WKT node: KEYWORD[child, child, ...]; leaves are strings (quoted) or numbers. */
interface WktNode {
  keyword: string;
  children: (WktNode | string | number)[];
}

function parseWkt(text: string): WktNode {
  let i = 0;
  const fail = (what: string): never => {
    throw new EmulatorInputError(
      `grid.crsWkt is not valid WKT: ${what} at character ${i}. Give a WKT1 or WKT2 CRS definition, or use grid.crsCode.`,
    );
  };
  const space = () => {
    while (i < text.length && /\s/.test(text[i])) i++;
  };
  const node = (depth: number): WktNode => {
    if (depth > 20) fail("nesting too deep");
    space();
    const keyword = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))?.[0];
    if (!keyword) return fail("expected a keyword");
    i += keyword.length;
    space();
    const open = text[i];
    if (open !== "[" && open !== "(") return fail(`expected '[' after ${keyword}`);
    const close = open === "[" ? "]" : ")";
    i++;
    const children: WktNode["children"] = [];
    for (;;) {
      space();
      const c = text[i];
      if (c === undefined) return fail(`unterminated ${keyword}`);
      if (c === close) {
        i++;
        return { keyword: keyword.toUpperCase(), children };
      }
      if (children.length > 0) {
        if (c !== ",") return fail("expected ','");
        i++;
        space();
      }
      const d = text[i];
      if (d === '"') {
        const end = text.indexOf('"', i + 1);
        if (end < 0) return fail("unterminated string");
        children.push(text.slice(i + 1, end));
        i = end + 1;
      } else if (d !== undefined && /[-+.\d]/.test(d)) {
        const number = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/.exec(text.slice(i))?.[0];
        if (!number) return fail("expected a number");
        children.push(Number(number));
        i += number.length;
      } else if (d !== undefined && /[A-Za-z_]/.test(d)) {
        // Bare words (AXIS["Easting",EAST]) and nested nodes.
        const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))?.[0] ?? "";
        const after = text.slice(i + word.length).trimStart()[0];
        if (after === "[" || after === "(") children.push(node(depth + 1));
        else {
          children.push(word);
          i += word.length;
        }
      } else return fail(`unexpected '${d ?? "end of text"}'`);
    }
  };
  const root = node(0);
  space();
  if (i !== text.length) fail("text after the CRS definition");
  return root;
}

const child = (node: WktNode, keyword: string): WktNode | undefined =>
  node.children.find((c): c is WktNode => typeof c === "object" && c.keyword === keyword);

const GEOGRAPHIC = new Set(["GEOGCS", "GEOGCRS", "GEODCRS", "BASEGEOGCRS"]);
const PROJECTED = new Set(["PROJCS", "PROJCRS"]);

function epsgAuthority(node: WktNode): number | undefined {
  const authority = child(node, "AUTHORITY") ?? child(node, "ID");
  if (!authority || String(authority.children[0]).toUpperCase() !== "EPSG") return undefined;
  const code = Number(authority.children[1]);
  return Number.isInteger(code) ? code : undefined;
}

function isWgs84(node: WktNode): boolean {
  const datum = child(node, "DATUM");
  const name = String(datum?.children[0] ?? node.children[0] ?? "")
    .replace(/[\s_-]/g, "")
    .toUpperCase();
  return name === "WGS1984" || name === "WORLDGEODETICSYSTEM1984" || name === "WGS84";
}

/** UTM's parameters: zone from the central meridian, hemisphere from the false northing. */
function utmFromParameters(node: WktNode): number | undefined {
  const parameters = new Map<string, number>();
  const method = child(node, "PROJECTION") ?? child(child(node, "CONVERSION") ?? node, "METHOD");
  const conversion = child(node, "CONVERSION") ?? node;
  for (const c of conversion.children) {
    if (typeof c === "object" && c.keyword === "PARAMETER" && typeof c.children[1] === "number")
      parameters.set(String(c.children[0]).toLowerCase().replace(/\s+/g, "_"), c.children[1]);
  }
  const methodName = String(method?.children[0] ?? "")
    .toLowerCase()
    .replace(/[\s_]+/g, " ");
  if (methodName !== "transverse mercator") return undefined;
  const meridian =
    parameters.get("central_meridian") ?? parameters.get("longitude_of_natural_origin");
  const zone = meridian === undefined ? Number.NaN : (meridian + 183) / 6;
  const ok =
    Number.isInteger(zone) &&
    zone >= 1 &&
    zone <= 60 &&
    (parameters.get("latitude_of_origin") ?? parameters.get("latitude_of_natural_origin") ?? 0) ===
      0 &&
    (parameters.get("scale_factor") ?? parameters.get("scale_factor_at_natural_origin")) ===
      0.9996 &&
    parameters.get("false_easting") === 500000;
  if (!ok) return undefined;
  const northing = parameters.get("false_northing") ?? 0;
  if (northing === 0) return 32600 + zone;
  if (northing === 10000000) return 32700 + zone;
  return undefined;
}

/** The EPSG code ("EPSG:32617") of a WKT CRS the emulator renders, or an error naming it. */
export function crsCodeFromWkt(wkt: string): string {
  const root = parseWkt(wkt);
  const name = typeof root.children[0] === "string" ? root.children[0] : root.keyword;
  const supported = (epsg: number) =>
    epsg === 4326 ||
    ((Math.floor(epsg / 100) === 326 || Math.floor(epsg / 100) === 327) &&
      epsg % 100 >= 1 &&
      epsg % 100 <= 60);
  const authority = epsgAuthority(root);
  if (authority !== undefined) {
    if (supported(authority)) return `EPSG:${authority}`;
    throw new UnsupportedWktError(name, `EPSG:${authority}`);
  }
  if (GEOGRAPHIC.has(root.keyword)) {
    if (isWgs84(root)) return "EPSG:4326";
    throw new UnsupportedWktError(name, "a geographic CRS on another datum than WGS 84");
  }
  if (PROJECTED.has(root.keyword)) {
    const base = root.children.find(
      (c): c is WktNode => typeof c === "object" && GEOGRAPHIC.has(c.keyword),
    );
    const utm = base && isWgs84(base) ? utmFromParameters(root) : undefined;
    if (utm !== undefined) return `EPSG:${utm}`;
    throw new UnsupportedWktError(name, "a projection other than WGS 84 / UTM");
  }
  throw new UnsupportedWktError(name, `a ${root.keyword} definition`);
}
