/**
 * connect() against Earth Engine, played by a loopback fake (catalog + value:compute behind
 * Bearer auth) and a loopback token endpoint: the official client must carry our tokens.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { findCredentials } from "../../src/ee/auth/credentials";
import { evaluate } from "../../src/ee/client";
import { parseConfig } from "../../src/ee/config";
import {
  ConfigError,
  CredentialsError,
  chooseBackend,
  connect,
  TokenRefusedError,
} from "../../src/ee/session";
import { startTokenServer, type TokenServer, writeServiceAccountKey } from "./auth/token-server";
import { type FakeEarthEngine, startFakeEarthEngine } from "./fake-earth-engine";

const RAW_TOKEN = "raw-access-token-5e6f7a8b";
const REFRESH_TOKEN = "refresh-value-0c1d2e3f4a";

describe("connect() to Earth Engine", () => {
  let tokens: TokenServer;
  let ee: FakeEarthEngine;
  let key: ReturnType<typeof writeServiceAccountKey>;
  let home: string;

  before(async () => {
    tokens = await startTokenServer({ ttlSeconds: 3600, refreshToken: REFRESH_TOKEN, delayMs: 20 });
    key = writeServiceAccountKey(tokens.url);
    tokens.publicKeyPem = key.publicKeyPem;
    ee = await startFakeEarthEngine({
      accept: (token) => token === RAW_TOKEN || token.startsWith("issued-token-"),
      forbiddenProjects: ["not-registered"],
    });
    home = mkdtempSync(join(tmpdir(), "ee-connect-"));
  });
  after(async () => {
    await tokens.close();
    await ee.close();
    rmSync(key.dir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  const baseEnv = () => ({ HOME: home, EE_PROJECT: "p-test", EE_API_URL: `${ee.url}/` });

  it("uses a service-account key: token -> ee.initialize -> value:compute", async () => {
    const session = await connect({
      env: { ...baseEnv(), EE_SERVICE_ACCOUNT_KEY: key.keyFile },
      quiet: true,
    });
    try {
      assert.equal(session.backend.kind, "earthengine");
      assert.equal(session.backend.apiUrl, ee.url, "trailing slash stripped");
      assert.equal(session.backend.project, "p-test");
      assert.equal(session.emulator, undefined);
      assert.equal(session.credentials?.kind, "service-account-key");
      assert.match(
        session.banner,
        /^ee-snippets: using Earth Engine at http:\/\/127\.0\.0\.1:\d+, project p-test, credentials from service account key .*service-account\.json \(EE_SERVICE_ACCOUNT_KEY\) \(EE_BACKEND=emulator to go offline\)$/,
      );
      const auth = await session.backend.authorization();
      assert.match(auth ?? "", /^Bearer issued-token-\d+$/);
      const before = ee.computes;
      assert.deepEqual(await evaluate(session.ee.List([1, 2, 3])), [1, 2, 3]);
      assert.equal(ee.computes, before + 1);
      assert.equal(ee.authorizations.at(-1), auth, "the client sends our token");
      assert.equal(session.requests.stats().limit, 40);
    } finally {
      await session.close();
    }
  });

  it("refreshes a short-lived token once for concurrent callers, and the client follows", async () => {
    const shortLived = await startTokenServer({
      ttlSeconds: 2,
      delayMs: 50,
      publicKeyPem: key.publicKeyPem,
    });
    const shortKey = writeServiceAccountKey(shortLived.url);
    shortLived.publicKeyPem = shortKey.publicKeyPem;
    try {
      const session = await connect({
        env: { ...baseEnv(), EE_SERVICE_ACCOUNT_KEY: shortKey.keyFile },
        quiet: true,
      });
      const first = await session.backend.authorization();
      assert.equal(shortLived.issued, 1);
      await sleep(1700); // past the refresh point (last quarter of 2 s)
      const all = await Promise.all(
        Array.from({ length: 25 }, () => session.backend.authorization()),
      );
      assert.equal(shortLived.issued, 2, "one refresh for 25 concurrent callers");
      assert.ok(all.every((a) => a === all[0]));
      assert.notEqual(all[0], first);
      await evaluate(session.ee.List([1]));
      assert.equal(ee.authorizations.at(-1), all[0], "the client uses the refreshed token");
      await session.close();
    } finally {
      await shortLived.close();
      rmSync(shortKey.dir, { recursive: true, force: true });
    }
  });

  it("keeps the client's own requests authorized after an idle expiry", async () => {
    const shortLived = await startTokenServer({ ttlSeconds: 2 });
    const shortKey = writeServiceAccountKey(shortLived.url);
    shortLived.publicKeyPem = shortKey.publicKeyPem;
    try {
      const session = await connect({
        env: { ...baseEnv(), EE_SERVICE_ACCOUNT_KEY: shortKey.keyFile },
        quiet: true,
      });
      await sleep(2500); // nobody asks for a token meanwhile: the client must ask itself
      assert.deepEqual(await evaluate(session.ee.List([1])), [1, 2, 3]);
      assert.equal(shortLived.issued, 2);
      await session.close();
    } finally {
      await shortLived.close();
      rmSync(shortKey.dir, { recursive: true, force: true });
    }
  });

  it("stops waiting for a slow token endpoint when the signal aborts", async () => {
    const slow = await startTokenServer({ delayMs: 5000, refreshToken: REFRESH_TOKEN });
    const pyHome = mkdtempSync(join(tmpdir(), "ee-slow-"));
    mkdirSync(join(pyHome, ".config", "earthengine"), { recursive: true });
    writeFileSync(
      join(pyHome, ".config", "earthengine", "credentials"),
      JSON.stringify({ refresh_token: REFRESH_TOKEN }),
    );
    try {
      const controller = new AbortController();
      const pending = connect({
        env: { ...baseEnv(), HOME: pyHome, EE_TOKEN_URI: slow.url },
        quiet: true,
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(new Error("stopped by the user")), 50);
      await assert.rejects(pending, /stopped by the user/);
      await assert.rejects(
        connect({ env: baseEnv(), signal: AbortSignal.abort(new Error("already stopped")) }),
        /already stopped/,
      );
    } finally {
      await slow.close();
      rmSync(pyHome, { recursive: true, force: true });
    }
  });

  it("uses a raw EE_ACCESS_TOKEN as is, with limiter settings from the environment", async () => {
    const session = await connect({
      env: { ...baseEnv(), EE_ACCESS_TOKEN: RAW_TOKEN, EE_MAX_IN_FLIGHT: "8" },
      quiet: true,
    });
    assert.equal(session.requests.stats().limit, 8);
    assert.equal(await session.backend.authorization(), `Bearer ${RAW_TOKEN}`);
    assert.match(session.banner, /credentials from access token in EE_ACCESS_TOKEN/);
    assert.ok(!session.banner.includes(RAW_TOKEN));
    await session.close();
  });

  it("uses the Python client's refresh token with EE_TOKEN_URI", async () => {
    const pyHome = mkdtempSync(join(tmpdir(), "ee-py-"));
    mkdirSync(join(pyHome, ".config", "earthengine"), { recursive: true });
    writeFileSync(
      join(pyHome, ".config", "earthengine", "credentials"),
      JSON.stringify({ refresh_token: REFRESH_TOKEN, scopes: [] }),
    );
    const session = await connect({
      env: { ...baseEnv(), HOME: pyHome, EE_TOKEN_URI: tokens.url },
      quiet: true,
    });
    assert.equal(session.credentials?.kind, "earthengine-credentials");
    assert.deepEqual(await evaluate(session.ee.List([1])), [1, 2, 3]);
    await session.close();
    rmSync(pyHome, { recursive: true, force: true });
  });

  it("explains a token Earth Engine rejects (401) with its message and the fix", async () => {
    await assert.rejects(
      connect({ env: { ...baseEnv(), EE_ACCESS_TOKEN: "stale-token-value-123" }, quiet: true }),
      (error: unknown) => {
        assert.ok(error instanceof TokenRefusedError);
        assert.equal(error.status, 401);
        assert.match(
          error.message,
          /HTTP 401, UNAUTHENTICATED: Request had invalid authentication credentials/,
        );
        assert.match(error.message, /put a fresh one in \.env/);
        assert.ok(!error.message.includes("stale-token-value-123"));
        return true;
      },
    );
  });

  it("explains a project Earth Engine refuses (403)", async () => {
    await assert.rejects(
      connect({
        env: { ...baseEnv(), EE_PROJECT: "not-registered", EE_ACCESS_TOKEN: RAW_TOKEN },
        quiet: true,
      }),
      (error: unknown) => {
        assert.ok(error instanceof TokenRefusedError);
        assert.equal(error.status, 403);
        assert.match(error.message, /not registered to use Earth Engine/);
        assert.match(
          error.message,
          /set EE_PROJECT in \.env to your Cloud project id registered for Earth Engine/,
        );
        return true;
      },
    );
  });

  it("asks for EE_PROJECT when Earth Engine is forced without one", async () => {
    await assert.rejects(
      connect({
        env: { HOME: home, EE_BACKEND: "earthengine", EE_ACCESS_TOKEN: RAW_TOKEN },
        quiet: true,
      }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /set EE_PROJECT in \.env to your Cloud project id registered for Earth Engine/.test(
          error.message,
        ),
    );
  });

  it("lists the credential options when Earth Engine is forced without any", async () => {
    await assert.rejects(
      connect({ backend: "earthengine", env: { HOME: home, EE_PROJECT: "p-test" }, quiet: true }),
      (error: unknown) =>
        error instanceof CredentialsError &&
        /EE_SERVICE_ACCOUNT_KEY.*earthengine authenticate.*\.env\.example/.test(error.message),
    );
  });

  it("prints the banner unless quiet", async () => {
    const lines: string[] = [];
    const original = console.log;
    console.log = (...args: unknown[]) => lines.push(args.join(" "));
    try {
      const session = await connect({ env: { ...baseEnv(), EE_ACCESS_TOKEN: RAW_TOKEN } });
      await session.close();
      assert.deepEqual(lines, [session.banner]);
    } finally {
      console.log = original;
    }
  });

  it("closes idempotently", async () => {
    const session = await connect({
      env: { ...baseEnv(), EE_ACCESS_TOKEN: RAW_TOKEN },
      quiet: true,
    });
    await session.close();
    await session.close();
    assert.equal(session.backend.kind, "earthengine");
  });
});

describe("chooseBackend", () => {
  const home = mkdtempSync(join(tmpdir(), "ee-choose-"));
  after(() => rmSync(home, { recursive: true, force: true }));
  const choose = (env: Record<string, string>, backend?: "emulator" | "earthengine") => {
    const config = parseConfig({ HOME: home, ...env });
    return chooseBackend({ backend }, config, config.project, findCredentials(config));
  };

  it("picks Earth Engine only with a project and a credential", () => {
    assert.equal(choose({ EE_PROJECT: "my-project", EE_ACCESS_TOKEN: "t" }).kind, "earthengine");
    const noProject = choose({ EE_ACCESS_TOKEN: "t" });
    assert.equal(noProject.kind, "emulator");
    assert.match(noProject.reason, /no EE_PROJECT; set EE_PROJECT in \.env/);
    const noCredential = choose({ EE_PROJECT: "my-project" });
    assert.equal(noCredential.kind, "emulator");
    assert.match(noCredential.reason, /no credentials found; see \.env\.example/);
    assert.match(
      choose({}).reason,
      /no credentials in \.env; see \.env\.example to use Earth Engine/,
    );
  });

  it("lets EE_BACKEND and the option force a backend, the option first", () => {
    assert.equal(
      choose({ EE_BACKEND: "emulator", EE_PROJECT: "my-project", EE_ACCESS_TOKEN: "t" }).kind,
      "emulator",
    );
    assert.equal(choose({ EE_BACKEND: "earthengine" }).kind, "earthengine");
    assert.equal(choose({ EE_BACKEND: "emulator" }, "earthengine").kind, "earthengine");
  });
});
