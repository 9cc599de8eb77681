/**
 * The emulator's algorithm catalog: Earth Engine's whole list of signatures (985 functions:
 * argument names, types, optional flags, defaults), because every client builds its `ee.*`
 * API from this list at initialize time (a function missing here is "not a function" in JS,
 * an AttributeError in Python) and serializes calls with these argument names. Which of them
 * the emulator can evaluate is code, not data: the keys of FUNCTIONS (functions.ts); calling
 * any other is a 400 naming it.
 *
 * The signatures live as data in catalog.json, in the shape of Earth Engine's
 * `GET /v1/projects/{p}/algorithms` reply, taken from the official client's test fixture
 * without descriptions (both clients default a missing description to "").
 */
import { readFileSync } from "node:fs";
import path from "node:path";

export interface AlgorithmArgument {
  argumentName: string;
  type: string;
  description?: string;
  optional?: boolean;
  defaultValue?: unknown;
}

export interface Algorithm {
  /** "algorithms/Image.clip" */
  name: string;
  description?: string;
  returnType: string;
  arguments: AlgorithmArgument[];
  /** Hidden functions are callable but left out of the clients' documentation. */
  hidden?: boolean;
  deprecated?: boolean;
  /** The clients treat a function as deprecated only when this is non-empty. */
  deprecationReason?: string;
}

/** The body of `GET .../algorithms`, as Earth Engine's ListAlgorithmsResponse. */
export interface ListAlgorithmsResponse {
  algorithms: Algorithm[];
}

/** Next to this file in the source tree; the render workers and the child process load it alike. */
export const CATALOG_FILE = path.join(__dirname, "catalog.json");

export class CatalogError extends Error {
  constructor(message: string) {
    super(`${CATALOG_FILE}: ${message}`);
    this.name = "CatalogError";
  }
}

/** Reads and checks the catalog: a malformed entry fails at start-up, naming the entry. */
export function loadCatalog(file = CATALOG_FILE): ListAlgorithmsResponse {
  const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
  const algorithms = (parsed as { algorithms?: unknown })?.algorithms;
  if (!Array.isArray(algorithms))
    throw new CatalogError('expected {"algorithms": [...]} at the top level.');
  for (const [i, entry] of algorithms.entries()) {
    const a = entry as Partial<Algorithm>;
    const where = `algorithms[${i}]${typeof a?.name === "string" ? ` (${a.name})` : ""}`;
    if (typeof a?.name !== "string" || !a.name.startsWith("algorithms/"))
      throw new CatalogError(`${where}: name must be "algorithms/<Function>".`);
    if (typeof a.returnType !== "string")
      throw new CatalogError(`${where}: returnType must be a string.`);
    // Functions without arguments omit the list, as Earth Engine's proto JSON omits empty ones.
    if (a.arguments === undefined) a.arguments = [];
    if (!Array.isArray(a.arguments)) throw new CatalogError(`${where}: arguments must be a list.`);
    for (const argument of a.arguments)
      if (typeof argument?.argumentName !== "string" || typeof argument.type !== "string")
        throw new CatalogError(`${where}: every argument needs argumentName and type strings.`);
  }
  return { algorithms: algorithms as Algorithm[] };
}

const CATALOG = loadCatalog();

const byName = new Map<string, Algorithm>(
  CATALOG.algorithms.map((algorithm) => [algorithm.name.replace(/^algorithms\//, ""), algorithm]),
);

/** The `GET .../algorithms` reply. */
export function listAlgorithms(): ListAlgorithmsResponse {
  return CATALOG;
}

/** A function's signature by its wire name ("Image.clip"), or undefined if Earth Engine has none. */
export function algorithmSignature(functionName: string): Algorithm | undefined {
  return byName.get(functionName);
}

/** Wire names of every function in the catalog, sorted. */
export function catalogFunctionNames(): string[] {
  return [...byName.keys()].sort();
}
