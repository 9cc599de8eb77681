/**
 * The discovery document (GET /$discovery/rest?version=v1) against the route table: every
 * method it lists is served, every Earth Engine route is listed, and a client built from it
 * by google-api-python-client calls value.compute against the emulator.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { resolveCostModel } from "../../src/emulator/costs";
import { EmulatorServer } from "../../src/emulator/server";

interface DiscoveryMethod {
  id: string;
  httpMethod: "GET" | "POST";
  path: string;
  parameters: Record<
    string,
    { location: string; pattern?: string; required?: boolean; type?: string }
  >;
}

let server: EmulatorServer;
let url: string;

before(async () => {
  server = new EmulatorServer({ model: resolveCostModel({ latencyMs: 0 }), renderThreads: 1 });
  url = await server.listen(0);
});

after(() => server.close());

async function discovery(query = "?version=v1&prettyPrint=false"): Promise<Response> {
  return fetch(`${url}/$discovery/rest${query}`);
}

function methodsOf(resources: Record<string, unknown>, out: DiscoveryMethod[] = []) {
  for (const resource of Object.values(resources) as {
    methods?: Record<string, DiscoveryMethod>;
    resources?: Record<string, unknown>;
  }[]) {
    out.push(...Object.values(resource.methods ?? {}));
    if (resource.resources) methodsOf(resource.resources, out);
  }
  return out;
}

/** A concrete path for a method: each {+name} filled with a value its pattern accepts. */
function examplePath(method: DiscoveryMethod): string {
  return method.path.replace(/\{\+?(\w+)\}/g, (_, name: string) => {
    // int32 path parameters (a tile's zoom, x, y) have a type instead of a pattern.
    if (method.parameters[name]?.type === "integer") return "1";
    const pattern = method.parameters[name]?.pattern;
    assert.ok(pattern, `${method.id}: path parameter ${name} has no pattern`);
    const value = pattern.replace(/^\^|\$$/g, "").replace(/\[\^\/\]\+/g, "my-project");
    assert.match(value, new RegExp(pattern));
    return value;
  });
}

test("the document is Earth Engine's v1 discovery shape with the emulator's own base URL", async () => {
  const response = await discovery();
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  const doc = (await response.json()) as Record<string, unknown>;
  assert.equal(doc.kind, "discovery#restDescription");
  assert.equal(doc.id, "earthengine:v1");
  assert.equal(doc.version, "v1");
  assert.equal(doc.rootUrl, `${url}/`);
  assert.equal(doc.baseUrl, `${url}/`);
  assert.equal(doc.servicePath, "");
  const unknownVersion = await discovery("?version=v1alpha");
  assert.equal(unknownVersion.status, 404);
  assert.match(
    ((await unknownVersion.json()) as { error: { message: string } }).error.message,
    /v1alpha/,
  );
});

test("every method the document lists routes to its handler, and every Earth Engine route is listed", async () => {
  const doc = (await (await discovery()).json()) as { resources: Record<string, unknown> };
  const methods = methodsOf(doc.resources);
  const routes = server.routeTable();
  assert.deepEqual(
    methods.map((m) => m.id).sort(),
    routes.flatMap((r) => (r.discoveryId ? [r.discoveryId] : [])).sort(),
    "the document's methods and the routes' discovery ids are the same set",
  );
  for (const route of routes) {
    if (route.discoveryId) continue;
    assert.ok(
      ["token", "admin", "discovery"].includes(route.endpoint),
      `route ${route.endpoint} serves Earth Engine's API but is not in the document`,
    );
  }
  for (const method of methods) {
    const path = `/${examplePath(method)}`;
    const matched = routes.filter(
      (r) => (!r.method || r.method === method.httpMethod) && r.path.test(path),
    );
    assert.equal(matched[0]?.discoveryId, method.id, `${method.httpMethod} ${path}`);
    // And over HTTP: the handler answers (a 400 for an empty body), never the server's 404.
    const response = await fetch(`${url}${path}`, {
      method: method.httpMethod,
      ...(method.httpMethod === "POST"
        ? { body: "{}", headers: { "Content-Type": "application/json" } }
        : {}),
    });
    const text = await response.text();
    assert.doesNotMatch(text, /does not serve/, `${method.id}: ${text}`);
  }
});

const PYTHON = "/usr/bin/python3";
const hasGoogleApiClient =
  existsSync(PYTHON) &&
  (() => {
    try {
      execFileSync(PYTHON, ["-c", "import googleapiclient.discovery"], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  })();

test("google-api-python-client builds a client from the document and computes a value", {
  skip: hasGoogleApiClient ? false : "needs python3-googleapi",
}, async () => {
  // The Python client reads the document and the reply synchronously: run it as a child
  // process so this process's server keeps answering.
  const script = `
import json, sys, urllib.request
from googleapiclient.discovery import build_from_document
url = sys.argv[1]
doc = urllib.request.urlopen(url + "/$discovery/rest?version=v1&prettyPrint=false").read().decode()
service = build_from_document(doc)
expression = {"result": "0", "values": {"0": {"functionInvocationValue": {
    "functionName": "Image.bandNames",
    "arguments": {"image": {"functionInvocationValue": {
        "functionName": "Image.toFloat",
        "arguments": {"value": {"functionInvocationValue": {
            "functionName": "Image.constant", "arguments": {"value": {"constantValue": 7}}}}}}}}}}}}
print(json.dumps(service.projects().value().compute(
    project="projects/my-project", body={"expression": expression}).execute()))
try:
    service.projects().value().compute(project="projects/my-project", body={"expression": {
        "result": "0", "values": {"0": {"functionInvocationValue": {
            "functionName": "Image.sqrt", "arguments": {"value": {"constantValue": 4}}}}}}}).execute()
except Exception as error:
    print(json.dumps({"status": error.resp.status, "reason": error._get_reason()}))
`;
  const output = await new Promise<string>((resolve, reject) => {
    execFile(PYTHON, ["-c", script, url], { timeout: 60_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout),
    );
  });
  const [ok, refused] = output
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
  assert.deepEqual(ok, { result: ["constant"] });
  assert.equal(refused.status, 400);
  assert.match(refused.reason, /^Image\.sqrt is not implemented by the ee-snippets emulator/);
});
