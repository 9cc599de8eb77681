/**
 * X-Goog-User-Project on the wire, on both paths a session sends requests by: the official
 * client's (evaluate -> value:compute) and our REST transport's (findImages, downloads ->
 * image:computePixels). A recording proxy on 127.0.0.1 sits between the session and an
 * emulator that requires tokens, and notes every request's headers.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingHttpHeaders, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { evaluate } from "../../../src/ee/client";
import { connect } from "../../../src/ee/session";
import { type RunningEmulator, startEmulator } from "../../../src/emulator/index";
import { bbox } from "../../../src/snippets/aoi";
import { downloadSnippet } from "../../../src/snippets/batch";
import { scenesUntil } from "../../reliability/helpers";

const REFRESH_TOKEN = "quota-refresh-SECRET-1a2b3c4d";
const aoi = bbox(-82.435, 8.3958, 0.01, "quota");

interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
}

/** Forwards every request to `target` unchanged and remembers its path and headers. */
async function startRecordingProxy(target: string): Promise<{
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}> {
  const seen: Seen[] = [];
  const upstream = new URL(target);
  const server: Server = createServer((req, res) => {
    seen.push({ path: req.url ?? "", headers: req.headers });
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
      },
    );
    forward.on("error", () => res.writeHead(502).end());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("X-Goog-User-Project", () => {
  let emulator: RunningEmulator;
  let proxy: Awaited<ReturnType<typeof startRecordingProxy>>;
  let dir: string;

  before(async () => {
    emulator = await startEmulator({
      latencyMs: 0,
      msPerMegapixel: 0,
      bandwidthMBps: 0,
      auth: { refreshToken: REFRESH_TOKEN, tokenTtlSeconds: 3600 },
    });
    proxy = await startRecordingProxy(emulator.url);
    dir = mkdtempSync(join(tmpdir(), "ee-quota-"));
  });
  after(async () => {
    await proxy.close();
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is EE_PROJECT on the official client's requests and ours, over a credential's quota_project_id", async () => {
    const adc = join(dir, "adc.json");
    // gcloud writes the active gcloud project here, which need not be the Earth Engine one.
    writeFileSync(
      adc,
      JSON.stringify({
        type: "authorized_user",
        client_id: "quota-client.apps.googleusercontent.com",
        client_secret: "quota-client-secret",
        refresh_token: REFRESH_TOKEN,
        quota_project_id: "gcloud-default-project",
      }),
    );
    const session = await connect({
      env: {
        HOME: mkdtempSync(join(dir, "home-")),
        EE_PROJECT: emulator.project,
        EE_API_URL: proxy.url,
        EE_TOKEN_URI: `${emulator.url}/token`,
        GOOGLE_APPLICATION_CREDENTIALS: adc,
      },
      quiet: true,
    });
    try {
      const images = await scenesUntil(session, aoi, "2024-02-01");
      assert.ok(images.length > 0);
      // evaluate without a session is the official client's own value:compute.
      assert.deepEqual(await evaluate(session.ee.List([1])), [1]);
      await downloadSnippet(session, images[0] as never, {
        outDir: mkdtempSync(join(dir, "out-")),
        aoi,
        scale: 10,
      });
    } finally {
      await session.close();
    }
    const api = proxy.seen.filter((request) => request.path.startsWith("/v1/"));
    // The official client marks its requests with its version (x-goog-api-client: ee-js/...).
    const official = api.filter((r) => /ee-js/.test(String(r.headers["x-goog-api-client"])));
    const ours = api.filter((r) => !/ee-js/.test(String(r.headers["x-goog-api-client"])));
    assert.ok(
      official.some((r) => r.path.includes("/value:compute")),
      "evaluate went through the official client",
    );
    assert.ok(
      ours.some((r) => r.path.includes("/value:compute")),
      "findImages went through our transport (the session's limiter and retries)",
    );
    assert.ok(
      ours.some((r) => r.path.includes("/image:computePixels")),
      "the download went through our transport",
    );
    for (const r of api) {
      assert.equal(r.headers["x-goog-user-project"], emulator.project, r.path);
      assert.match(String(r.headers.authorization), /^Bearer ya29\.emulator-/, r.path);
    }
  });
});
