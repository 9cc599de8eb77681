/**
 * connect() with the local emulator: as the offline default, and as a stand-in for Earth
 * Engine's auth (Bearer tokens on /v1, a token endpoint for refresh-token and jwt-bearer
 * grants) so every credential path runs end to end through the official client.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { evaluate } from "../../src/ee/client";
import { connect, EmulatorStartError, TokenRefusedError } from "../../src/ee/session";
import { type RunningEmulator, startEmulator } from "../../src/emulator/index";
import { makeKeyPair, writeServiceAccountKey } from "./auth/token-server";

const REFRESH_TOKEN = "emulator-refresh-token-6b7c8d";
const STATIC_TOKEN = "emulator-static-token-1f2e3d";

describe("connect() with no Earth Engine settings", () => {
  it("starts the emulator, says so, and stops it on close", async () => {
    const home = mkdtempSync(join(tmpdir(), "ee-offline-"));
    const session = await connect({ env: { HOME: home }, quiet: true });
    try {
      assert.equal(session.backend.kind, "emulator");
      assert.ok(session.emulator);
      assert.equal(session.backend.apiUrl, session.emulator.url);
      assert.equal(await session.backend.authorization(), undefined);
      assert.equal(
        session.banner,
        `ee-snippets: using the local Earth Engine emulator at ${session.emulator.url} ` +
          "(no credentials in .env; see .env.example to use Earth Engine)",
      );
      assert.deepEqual(await evaluate(session.ee.List([1, 2])), [1, 2]);
    } finally {
      await session.close();
      rmSync(home, { recursive: true, force: true });
    }
    await assert.rejects(session.emulator.status(), "the emulator is gone after close()");
  });

  it("reports an emulator that cannot start, with its stderr", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      await assert.rejects(
        connect({ env: { HOME: tmpdir() }, emulator: { port }, quiet: true }),
        (error: unknown) => {
          assert.ok(error instanceof EmulatorStartError);
          assert.match(error.message, /emulator did not start/);
          assert.match(error.message, /EADDRINUSE/);
          assert.match(error.message, /use Earth Engine \(EE_PROJECT and credentials/);
          return true;
        },
      );
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});

describe("credentials against the emulator's auth", () => {
  let emulator: RunningEmulator;
  let key: ReturnType<typeof writeServiceAccountKey>;
  let keyPair: ReturnType<typeof makeKeyPair>;
  let home: string;

  before(async () => {
    // The key's token_uri must name the emulator, whose port is known only once it runs.
    keyPair = makeKeyPair();
    const pair = keyPair;
    emulator = await startEmulator({
      auth: {
        accessTokens: [STATIC_TOKEN],
        refreshToken: REFRESH_TOKEN,
        serviceAccountPublicKeyPem: pair.publicKeyPem,
        tokenTtlSeconds: 2,
      },
    });
    key = writeServiceAccountKey(`${emulator.url}/token`, undefined, pair);
    home = mkdtempSync(join(tmpdir(), "ee-emu-auth-"));
  });
  after(async () => {
    await emulator.stop();
    rmSync(key.dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string>) => ({
    HOME: home,
    EE_PROJECT: emulator.project,
    EE_API_URL: emulator.url,
    ...extra,
  });

  it("service account key -> jwt-bearer token -> value:compute through the client", async () => {
    const session = await connect({
      env: env({ EE_SERVICE_ACCOUNT_KEY: key.keyFile }),
      quiet: true,
    });
    try {
      assert.equal(session.backend.kind, "earthengine");
      assert.deepEqual(await evaluate(session.ee.List([3, 4])), [3, 4]);
      const first = await session.backend.authorization();
      assert.match(first ?? "", /^Bearer /);
      // 2 s tokens: wait into the last quarter, then many callers share one refresh.
      await sleep(1700);
      const next = await Promise.all(
        Array.from({ length: 20 }, () => session.backend.authorization()),
      );
      assert.ok(next.every((a) => a === next[0]));
      assert.notEqual(next[0], first);
      assert.deepEqual(await evaluate(session.ee.List([5])), [5], "the client follows the refresh");
    } finally {
      await session.close();
    }
  });

  it("the official client keeps a valid token while idle, even when token requests are slow", async () => {
    // The client resends a POST without its body when it must refresh a lapsed token itself,
    // so a search right after an expiry failed with "Invalid JSON payload". A token endpoint
    // that takes 150 ms leaves no room for the client's own last-moment refresh.
    const slow = http.createServer(async (req, res) => {
      const body = await new Promise<Buffer>((resolve) => {
        const parts: Buffer[] = [];
        req.on("data", (part: Buffer) => parts.push(part));
        req.on("end", () => resolve(Buffer.concat(parts)));
      });
      await sleep(150);
      const answer = await fetch(`${emulator.url}/token`, {
        method: "POST",
        headers: { "content-type": String(req.headers["content-type"]) },
        body,
      });
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(Buffer.from(await answer.arrayBuffer()));
    });
    await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", resolve));
    const slowKey = writeServiceAccountKey(
      `http://127.0.0.1:${(slow.address() as AddressInfo).port}/token`,
      undefined,
      keyPair,
    );
    const session = await connect({
      env: env({ EE_SERVICE_ACCOUNT_KEY: slowKey.keyFile }),
      quiet: true,
    });
    try {
      const client = require("@google/earthengine") as { data: { getAuthToken(): string | null } };
      const lapsedAt: number[] = [];
      const started = Date.now();
      let round = 0;
      while (Date.now() - started < 4500) {
        if (client.data.getAuthToken() === null) lapsedAt.push(Date.now() - started);
        if (++round % 15 === 0) {
          assert.deepEqual(
            await evaluate(session.ee.List([round])),
            [round],
            "a search while idle",
          );
        }
        await sleep(20);
      }
      assert.deepEqual(lapsedAt, [], "ms after connect at which the client had no valid token");
    } finally {
      await session.close();
      slow.close();
      rmSync(slowKey.dir, { recursive: true, force: true });
    }
  });

  it("authorized_user ADC file with EE_TOKEN_URI", async () => {
    const file = join(home, "adc.json");
    writeFileSync(
      file,
      JSON.stringify({
        type: "authorized_user",
        client_id: "c",
        client_secret: "s",
        refresh_token: REFRESH_TOKEN,
      }),
    );
    const session = await connect({
      env: env({ GOOGLE_APPLICATION_CREDENTIALS: file, EE_TOKEN_URI: `${emulator.url}/token` }),
      quiet: true,
    });
    assert.deepEqual(await evaluate(session.ee.List([1])), [1]);
    await session.close();
  });

  it("the Python client's credentials file with EE_TOKEN_URI", async () => {
    const pyHome = mkdtempSync(join(tmpdir(), "ee-emu-py-"));
    mkdirSync(join(pyHome, ".config", "earthengine"), { recursive: true });
    writeFileSync(
      join(pyHome, ".config", "earthengine", "credentials"),
      JSON.stringify({ refresh_token: REFRESH_TOKEN }),
    );
    const session = await connect({
      env: env({ HOME: pyHome, EE_TOKEN_URI: `${emulator.url}/token` }),
      quiet: true,
    });
    assert.equal(session.credentials?.kind, "earthengine-credentials");
    assert.deepEqual(await evaluate(session.ee.List([2])), [2]);
    await session.close();
    rmSync(pyHome, { recursive: true, force: true });
  });

  it("a raw EE_ACCESS_TOKEN", async () => {
    const session = await connect({ env: env({ EE_ACCESS_TOKEN: STATIC_TOKEN }), quiet: true });
    assert.deepEqual(await evaluate(session.ee.List([7])), [7]);
    await session.close();
  });

  it("a wrong token gets the 401 message and the fix", async () => {
    await assert.rejects(
      connect({ env: env({ EE_ACCESS_TOKEN: "not-a-valid-token-42" }), quiet: true }),
      (error: unknown) => {
        assert.ok(error instanceof TokenRefusedError);
        assert.equal(error.status, 401);
        assert.match(error.message, /EE_ACCESS_TOKEN has expired or is not an OAuth access token/);
        assert.ok(!error.message.includes("not-a-valid-token-42"));
        return true;
      },
    );
  });

  it("a revoked refresh token is refused by the token endpoint", async () => {
    const pyHome = mkdtempSync(join(tmpdir(), "ee-emu-py-"));
    mkdirSync(join(pyHome, ".config", "earthengine"), { recursive: true });
    writeFileSync(
      join(pyHome, ".config", "earthengine", "credentials"),
      JSON.stringify({ refresh_token: "revoked-refresh-token-99" }),
    );
    await assert.rejects(
      connect({ env: env({ HOME: pyHome, EE_TOKEN_URI: `${emulator.url}/token` }), quiet: true }),
      (error: unknown) =>
        error instanceof TokenRefusedError &&
        /earthengine authenticate/.test(error.message) &&
        !error.message.includes("revoked-refresh-token-99"),
    );
    rmSync(pyHome, { recursive: true, force: true });
  });

  it("an emulator session started with auth passes its token itself", async () => {
    const session = await connect({
      backend: "emulator",
      env: { HOME: home },
      emulator: { auth: { accessTokens: [STATIC_TOKEN] } },
      quiet: true,
    });
    assert.equal(await session.backend.authorization(), `Bearer ${STATIC_TOKEN}`);
    assert.deepEqual(await evaluate(session.ee.List([9])), [9]);
    await session.close();
  });
});
