/**
 * Security: file names from image ids stay inside the output directory; secrets never reach
 * error messages or the manifest; the emulator listens on loopback only, caps request
 * bodies, and answers hostile input (fuzzed) with a 4xx instead of crashing or hanging.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Ee } from "../../src/ee/client";
import { connect } from "../../src/ee/session";
import { seededRandom } from "../../src/emulator/random";
import { bbox } from "../../src/snippets/aoi";
import { downloadSnippet, downloadSnippets, type SnippetSession } from "../../src/snippets/batch";
import { OutputPathError } from "../../src/snippets/outputs";
import type { ImageInfo } from "../../src/snippets/search";
import { constantImageExpression } from "../emulator/pixels-fixtures";
import {
  CENTER,
  eeFor,
  firstScenes,
  pixelRequests,
  type RunningEmulator,
  sessionFor,
  startEmulator,
  totalRequests,
} from "./helpers";

const aoi = bbox(CENTER[0], CENTER[1], 0.02, "small");
const PLANTED_TOKEN = "ya29.PLANTED-SECRET-a81f3c0d9e7b4a62";
const PLANTED_KEY_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCPLANTEDKEY";

let base: string;
let emulator: RunningEmulator;
let ee: Ee;
let session: SnippetSession;
let image: ImageInfo;
/** Every error message these tests provoke, checked for planted secrets at the end. */
const messages: string[] = [];

before(async () => {
  base = await mkdtemp(join(tmpdir(), "security-test-"));
  emulator = await startEmulator({ latencyMs: 1, msPerMegapixel: 0, bandwidthMBps: 0, seed: 11 });
  ee = await eeFor(emulator);
  session = await sessionFor(emulator, ee);
  [image] = await firstScenes(session, aoi, 1);
});

after(async () => {
  await emulator?.stop();
  await rm(base, { recursive: true, force: true });
});

function remember(error: unknown): string {
  const text =
    error instanceof Error
      ? `${error.name}: ${error.message}\n${error.stack ?? ""}\n${String(error.cause ?? "")}`
      : String(error);
  messages.push(text);
  return text;
}

describe("file names from image ids", () => {
  for (const id of ["../escape", "../../../../tmp/owned", "a/../../b", "/etc/passwd", "C:evil"]) {
    it(`cannot leave the output directory with ${JSON.stringify(id)}`, async () => {
      const outDir = join(base, "ids");
      const before = await totalRequests(emulator);
      await assert.rejects(
        downloadSnippet(session, id, { outDir, aoi, scale: 10 }),
        (error: unknown) => {
          remember(error);
          assert.ok(error instanceof OutputPathError);
          return true;
        },
      );
      assert.equal(await totalRequests(emulator), before, "a request was made");
      await assert.rejects(readdir(join(base, "escape")));
    });
  }

  it("a run with one hostile id among good ones is refused as a whole", async () => {
    const before = await pixelRequests(emulator);
    await assert.rejects(
      downloadSnippets(session, [image, "..", image.id], {
        outDir: join(base, "mixed"),
        aoi,
        scale: 10,
      }),
      OutputPathError,
    );
    assert.equal(await pixelRequests(emulator), before);
  });
});

describe("secrets", () => {
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

  it("a refused token during a download does not appear in the error or the manifest", async () => {
    const outDir = join(base, "refused");
    const refused = await sessionFor(secured, ee, {}, `Bearer ${PLANTED_TOKEN}`);
    await assert.rejects(
      downloadSnippet(refused, image, { outDir, aoi, scale: 10 }),
      (error: unknown) => {
        const text = remember(error);
        assert.match(text, /refused the token/);
        assert.match(text, /credentials in \.env|EE_ACCESS_TOKEN/);
        return true;
      },
    );
    const manifest = await readFile(join(outDir, "manifest.json"), "utf8");
    messages.push(manifest);
    assert.match(manifest, /"status": "failed"/);
  });

  it("a bad access token and a bad key file at connect() do not appear in the errors", async () => {
    await assert.rejects(
      connect({
        backend: "earthengine",
        quiet: true,
        env: {
          EE_PROJECT: secured.project,
          EE_API_URL: secured.url,
          EE_ACCESS_TOKEN: PLANTED_TOKEN,
        },
        envFile: join(base, "none.env"),
      }),
      (error: unknown) => {
        remember(error);
        return true;
      },
    );
    const keyFile = join(base, "key.json");
    await writeFile(
      keyFile,
      JSON.stringify({
        type: "service_account",
        client_email: "robot@example.iam.gserviceaccount.com",
        private_key: `-----BEGIN PRIVATE KEY-----\n${PLANTED_KEY_LINE}\n-----END PRIVATE KEY-----\n`,
        token_uri: `${secured.url}/token`,
      }),
    );
    await assert.rejects(
      connect({
        backend: "earthengine",
        quiet: true,
        env: {
          EE_PROJECT: secured.project,
          EE_API_URL: secured.url,
          EE_SERVICE_ACCOUNT_KEY: keyFile,
        },
        envFile: join(base, "none.env"),
      }),
      (error: unknown) => {
        const text = remember(error);
        assert.match(text, /EE_SERVICE_ACCOUNT_KEY|key/);
        return true;
      },
    );
  });

  it("no error message or manifest produced here contains a planted secret", () => {
    assert.ok(messages.length >= 8, `only ${messages.length} messages collected`);
    for (const text of messages) {
      assert.ok(!text.includes(PLANTED_TOKEN), `token leaked in: ${text.slice(0, 300)}`);
      assert.ok(!text.includes("PLANTED-SECRET"), `token part leaked in: ${text.slice(0, 300)}`);
      assert.ok(!text.includes(PLANTED_KEY_LINE), `key leaked in: ${text.slice(0, 300)}`);
    }
  });
});

describe("the emulator's network surface", () => {
  it("listens on loopback only", async (t) => {
    const url = new URL(emulator.url);
    assert.equal(url.hostname, "127.0.0.1");
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a && !a.internal && a.family === "IPv4")
      .map((a) => a?.address as string);
    if (others.length === 0) {
      t.skip("this machine has no non-loopback IPv4 address to try");
      return;
    }
    for (const address of others) {
      const outcome = await new Promise<string>((resolve) => {
        const socket = net.connect({ host: address, port: Number(url.port) });
        socket.setTimeout(2000);
        socket.on("connect", () => {
          socket.destroy();
          resolve("connected");
        });
        socket.on("timeout", () => {
          socket.destroy();
          resolve("timeout");
        });
        socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
      });
      t.diagnostic(`connecting via ${address}:${url.port}: ${outcome}`);
      assert.notEqual(outcome, "connected", `the emulator accepts connections on ${address}`);
    }
  });

  it("caps request bodies", async () => {
    // 200 MiB announced and streamed; the server must refuse early, not buffer it.
    const total = 200 * 2 ** 20;
    const started = performance.now();
    const status = await new Promise<number | string>((resolve) => {
      const request = http.request(
        `${emulator.url}/v1/projects/${emulator.project}/value:compute`,
        {
          method: "POST",
          headers: { "content-type": "application/json", "content-length": String(total) },
        },
      );
      request.on("response", (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
      const chunk = Buffer.alloc(2 ** 20, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          sent += chunk.length;
          if (!request.write(chunk)) {
            request.once("drain", pump);
            return;
          }
        }
        request.end();
      };
      pump();
    });
    assert.ok(
      status === 413 || (typeof status === "number" && status >= 400 && status < 500),
      `an oversized body got ${status}`,
    );
    assert.ok(performance.now() - started < 20_000);
    assert.ok((await emulator.status()).stats, "the emulator stopped answering");
  });
});

// ---------------------------------------------------------------------------------------
// Fuzzing the request parser and the evaluator.

interface FuzzCase {
  name: string;
  method: string;
  body: string | Buffer;
  /**
   * Whether the input is certainly invalid (must get a 4xx). Random graphs may happen to be
   * valid (unreferenced junk is ignored, as Earth Engine ignores it), and so may big but
   * well-formed arrays: those only must not get a 5xx or hang.
   */
  maybeValid?: boolean;
}

function generateCases(count: number, seed: number): FuzzCase[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const int = (n: number) => Math.floor(random() * n);
  const functions = [
    "Image.load",
    "Image.clip",
    "Image.visualize",
    "Image.paint",
    "Image.constant",
    "ImageCollection.load",
    "Collection.filter",
    "Collection.map",
    "Filter.dateRangeContains",
    "GeometryConstructors.Polygon",
    "AggregateFeatureCollection.array",
    "No.such.function",
    "",
    "__proto__",
    "constructor",
  ];
  const scalars: unknown[] = [
    0,
    -1,
    1e308,
    -1e308,
    Number.MAX_SAFE_INTEGER,
    0.5,
    "",
    "x",
    "COPERNICUS/S2_SR_HARMONIZED",
    "../../etc/passwd",
    true,
    false,
    null,
    "\u0000",
    "EPSG:4326",
  ];
  const randomJson = (depth: number): unknown => {
    if (depth <= 0 || random() < 0.3) return pick(scalars);
    if (random() < 0.5) return Array.from({ length: int(4) }, () => randomJson(depth - 1));
    const keys = [
      "result",
      "values",
      "constantValue",
      "arrayValue",
      "functionInvocationValue",
      "functionName",
      "arguments",
      "valueReference",
      "argumentReference",
      "functionDefinitionValue",
      "dictionaryValue",
      "integerValue",
      "bytesValue",
      "__proto__",
      "x",
    ];
    const out: Record<string, unknown> = {};
    for (let i = int(4); i >= 0; i--) out[pick(keys)] = randomJson(depth - 1);
    return out;
  };
  const randomNode = (depth: number, ids: string[]): unknown => {
    const kind = int(9);
    if (depth <= 0 || kind === 0) return { constantValue: pick(scalars) };
    switch (kind) {
      case 1:
        return { valueReference: pick([...ids, "missing", ""]) };
      case 2:
        return {
          arrayValue: { values: Array.from({ length: int(4) }, () => randomNode(depth - 1, ids)) },
        };
      case 3:
        return { integerValue: pick(["12", "abc", "-", "99999999999999999999999", ""]) };
      case 4:
        return { bytesValue: pick(["AAAA", "!!!!", "", "////"]) };
      case 5:
        return { argumentReference: pick(["_MAPPING_VAR_0_0", "nope", ""]) };
      case 6:
        return {
          functionDefinitionValue: {
            argumentNames: pick([["x"], [], "x", [1]]),
            body: pick([...ids, "missing"]),
          },
        };
      case 7:
        return { dictionaryValue: { values: { a: randomNode(depth - 1, ids), b: pick(scalars) } } };
      default: {
        const args: Record<string, unknown> = {};
        for (const name of [
          "input",
          "id",
          "geometry",
          "bands",
          "value",
          "collection",
          "filter",
          "coordinates",
          "min",
          "max",
        ].slice(0, int(5))) {
          args[name] = randomNode(depth - 1, ids);
        }
        return random() < 0.2
          ? { functionInvocationValue: { functionReference: pick(ids), arguments: args } }
          : { functionInvocationValue: { functionName: pick(functions), arguments: args } };
      }
    }
  };
  const randomExpression = (): { result: string; values: Record<string, unknown> } => {
    const ids = Array.from({ length: 1 + int(5) }, (_, i) => String(i));
    const values: Record<string, unknown> = {};
    for (const id of ids) values[id] = randomNode(4, ids);
    return { result: pick(ids), values };
  };
  const badGrid = (): unknown =>
    pick([
      undefined,
      null,
      "grid",
      { crsCode: "EPSG:4326" },
      {
        crsCode: pick(["EPSG:4326", "EPSG:32617", "EPSG:99999", "garbage", "", 4326]),
        affineTransform: pick([
          { scaleX: 0, shearX: 0, translateX: 0, shearY: 0, scaleY: 0, translateY: 0 },
          { scaleX: 1e-300, scaleY: -1e-300 },
          { scaleX: "a" },
          null,
          { scaleX: 10, shearX: 0, translateX: 1e308, shearY: 0, scaleY: -10, translateY: -1e308 },
        ]),
        dimensions: pick([
          { width: 0, height: 10 },
          { width: -5, height: 10 },
          { width: 1e9, height: 1e9 },
          { width: 40000, height: 1 },
          { width: 1.5, height: 2 },
          { width: "10", height: "10" },
          {},
          null,
        ]),
      },
    ]);

  const cases: FuzzCase[] = [];
  const generators: (() => FuzzCase)[] = [
    () => ({
      name: "random JSON body",
      method: "value:compute",
      body: JSON.stringify(randomJson(5)),
    }),
    () => ({
      name: "random JSON expression",
      method: "value:compute",
      body: JSON.stringify({ expression: randomJson(5) }),
    }),
    () => ({
      name: "random expression graph",
      method: "value:compute",
      body: JSON.stringify({ expression: randomExpression() }),
      maybeValid: true,
    }),
    () => ({
      name: "random expression graph to computePixels",
      method: "image:computePixels",
      body: JSON.stringify({ expression: randomExpression(), fileFormat: "NPY", grid: badGrid() }),
    }),
    () => ({
      name: "valid image, invalid grid",
      method: "image:computePixels",
      body: JSON.stringify({
        expression: constantImageExpression(),
        fileFormat: pick(["NPY", "GEO_TIFF", "PNG", "BMP", 7, ""]),
        bandIds: pick([undefined, [], ["nope"], "constant", [null]]),
        grid: badGrid(),
      }),
    }),
    () => {
      const bytes = Buffer.alloc(1 + int(2048));
      for (let i = 0; i < bytes.length; i++) bytes[i] = int(256);
      return {
        name: "binary garbage",
        method: pick(["value:compute", "image:computePixels", "thumbnails"]),
        body: bytes,
      };
    },
    () => ({
      name: "truncated JSON",
      method: "value:compute",
      body: JSON.stringify({ expression: randomExpression() }).slice(0, 1 + int(40)),
    }),
  ];
  for (let i = 0; i < count; i++) cases.push(pick(generators)());

  // Hand-made hostile shapes, each once.
  const deep = 100_000;
  cases.push({
    name: `arrayValue nested ${deep} levels`,
    method: "value:compute",
    body: `{"expression":{"result":"0","values":{"0":${'{"arrayValue":{"values":['.repeat(deep)}{"constantValue":1}${"]}}".repeat(deep)}}}}`,
  });
  cases.push({
    name: `raw JSON arrays nested ${deep} levels`,
    method: "value:compute",
    body: `{"expression":${"[".repeat(deep)}${"]".repeat(deep)}}`,
  });
  cases.push({
    name: `constantValue objects nested ${deep} levels`,
    method: "value:compute",
    body: `{"expression":{"result":"0","values":{"0":{"constantValue":${'{"a":'.repeat(deep)}1${"}".repeat(deep)}}}}}`,
  });
  const chain: Record<string, unknown> = {};
  for (let i = 0; i < 19_000; i++) chain[String(i)] = { valueReference: String(i + 1) };
  chain["19000"] = { constantValue: 1 };
  cases.push({
    name: "a chain of 19000 valueReferences",
    maybeValid: true,
    method: "value:compute",
    body: JSON.stringify({ expression: { result: "0", values: chain } }),
  });
  const cycles: [string, Record<string, unknown>][] = [
    ["self reference", { a: { valueReference: "a" } }],
    ["two-node cycle", { a: { valueReference: "b" }, b: { valueReference: "a" } }],
    [
      "cycle through arguments",
      {
        a: {
          functionInvocationValue: {
            functionName: "Image.clip",
            arguments: { input: { valueReference: "b" } },
          },
        },
        b: { arrayValue: { values: [{ valueReference: "a" }] } },
      },
    ],
    [
      "function calling itself",
      {
        f: { functionDefinitionValue: { argumentNames: ["x"], body: "call" } },
        call: {
          functionInvocationValue: {
            functionReference: "f",
            arguments: { x: { constantValue: 1 } },
          },
        },
        a: {
          functionInvocationValue: {
            functionReference: "f",
            arguments: { x: { constantValue: 1 } },
          },
        },
      },
    ],
    ["reference to a missing value", { a: { valueReference: "zzz" } }],
    ["__proto__ reference", { a: { valueReference: "__proto__" } }],
    ["constructor reference", { a: { valueReference: "constructor" } }],
  ];
  for (const [name, values] of cycles) {
    cases.push({
      name,
      method: "value:compute",
      body: JSON.stringify({ expression: { result: "a", values } }),
    });
  }
  // Under the emulator's 10 MB body cap, so the evaluator, not the size check, meets them.
  cases.push({
    name: "arrayValue of 400000 constants",
    maybeValid: true,
    method: "value:compute",
    body: `{"expression":{"result":"0","values":{"0":{"arrayValue":{"values":[${'{"constantValue":1},'.repeat(399_999)}{"constantValue":1}]}}}}}`,
  });
  cases.push({
    name: "constantValue array of 10^6 numbers",
    maybeValid: true,
    method: "value:compute",
    body: `{"expression":{"result":"0","values":{"0":{"constantValue":[${"1,".repeat(999_999)}1]}}}}`,
  });
  cases.push({
    name: "Image.constant with 10^5 bands",
    method: "image:computePixels",
    body: JSON.stringify({
      expression: constantImageExpression(Array.from({ length: 100_000 }, () => 1)),
      fileFormat: "NPY",
      grid: {
        crsCode: "EPSG:4326",
        affineTransform: {
          scaleX: 0.001,
          shearX: 0,
          translateX: 0,
          shearY: 0,
          scaleY: -0.001,
          translateY: 0,
        },
        dimensions: { width: 256, height: 256 },
      },
    }),
  });
  cases.push({ name: "empty body", method: "value:compute", body: "" });
  cases.push({ name: "JSON null", method: "value:compute", body: "null" });
  cases.push({
    name: "invalid UTF-8",
    method: "value:compute",
    body: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]),
  });
  return cases.map((c) => ({ ...c, name: `${c.name} [${c.method}]` }));
}

/** POSTs a body and resolves with the status and time taken; never rejects. */
function post(
  url: string,
  body: string | Buffer,
  timeoutMs: number,
): Promise<{ status: number | string; ms: number; text: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const request = http.request(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
      },
      agent: false,
    });
    const timer = setTimeout(() => {
      request.destroy();
      resolve({ status: "timeout", ms: performance.now() - started, text: "" });
    }, timeoutMs);
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      response.on("data", (chunk: Buffer) => {
        if (size < 4096) chunks.push(chunk);
        size += chunk.length;
      });
      response.on("end", () => {
        clearTimeout(timer);
        resolve({
          status: response.statusCode ?? 0,
          ms: performance.now() - started,
          text: Buffer.concat(chunks).toString("utf8").slice(0, 300),
        });
      });
      response.on("error", () => {
        clearTimeout(timer);
        resolve({ status: "response error", ms: performance.now() - started, text: "" });
      });
    });
    request.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ status: error.code ?? "error", ms: performance.now() - started, text: "" });
    });
    request.end(body);
  });
}

describe("fuzzing the emulator's parser and evaluator", () => {
  const SEED = 20240601;
  const COUNT = 300;
  const PER_REQUEST_BOUND_MS = 5000;
  const TOTAL_BOUND_MS = 30_000;

  it(`answers ${COUNT}+ generated hostile requests without a 5xx or a hang, and stays up`, async (t) => {
    // Quotas off: a 429 would mean the input never reached the parser.
    const fuzzed = await startEmulator({
      latencyMs: 0,
      msPerMegapixel: 0,
      bandwidthMBps: 0,
      maxConcurrent: 1000,
      maxRequestsPerSecond: 1_000_000,
      seed: 1,
    });
    try {
      const cases = generateCases(COUNT, SEED);
      const failures: string[] = [];
      const started = performance.now();
      let slowest = 0;
      for (const [index, c] of cases.entries()) {
        if (performance.now() - started > TOTAL_BOUND_MS) {
          failures.push(`time budget spent after ${index} of ${cases.length} cases`);
          break;
        }
        const url = `${fuzzed.url}/v1/projects/${fuzzed.project}/${c.method}`;
        const reply = await post(url, c.body, PER_REQUEST_BOUND_MS);
        slowest = Math.max(slowest, reply.ms);
        const ok =
          typeof reply.status === "number" &&
          reply.status < 500 &&
          reply.status !== 429 &&
          (c.maybeValid || reply.status >= 400);
        if (!ok) {
          const preview =
            typeof c.body === "string" ? c.body.slice(0, 200) : `<${c.body.length} binary bytes>`;
          failures.push(
            `#${index} ${c.name} (seed ${SEED}): got ${reply.status} in ${reply.ms.toFixed(0)} ms ${reply.text}\n    body: ${preview}`,
          );
          // A dead emulator would turn every later case into noise.
          if (typeof reply.status !== "number") break;
        }
      }
      t.diagnostic(
        `${cases.length} cases in ${(performance.now() - started).toFixed(0)} ms, slowest ${slowest.toFixed(0)} ms`,
      );
      const health = await post(
        `${fuzzed.url}/v1/projects/${fuzzed.project}/value:compute`,
        JSON.stringify({
          expression: { result: "0", values: { "0": { constantValue: 42 } } },
        }),
        5000,
      );
      assert.equal(
        health.status,
        200,
        `the emulator no longer answers a valid request: ${health.status}`,
      );
      assert.ok((await fuzzed.status()).stats, "the emulator's status endpoint is down");
      assert.deepEqual(
        failures,
        [],
        `${failures.length} hostile inputs were not answered with a prompt 4xx`,
      );
    } finally {
      await fuzzed.stop();
    }
  });
});
