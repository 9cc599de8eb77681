import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { inspect } from "node:util";
import { UserRefreshClient } from "google-auth-library";
import { TokenRefusedError } from "../../../src/ee/auth/errors";
import {
  type CredentialSource,
  LibraryTokenProvider,
  type RefreshOptions,
  StaticTokenProvider,
} from "../../../src/ee/auth/token";
import { startTokenServer, type TokenServer } from "./token-server";

const source: CredentialSource = { kind: "earthengine-credentials", label: "test credentials" };
const REFRESH = "token-test-refresh-SECRET-42";

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** A google-auth-library user client whose token endpoint is the test's. */
function providerFor(server: TokenServer, options: RefreshOptions = {}) {
  const client = new UserRefreshClient({
    clientId: "c",
    clientSecret: "s",
    refreshToken: REFRESH,
    endpoints: { oauth2TokenUrl: server.url },
  });
  return new LibraryTokenProvider(source, client, { secrets: [REFRESH], ...options });
}

describe("LibraryTokenProvider over google-auth-library", () => {
  let hour: TokenServer;
  let short: TokenServer;
  let slow: TokenServer;
  before(async () => {
    hour = await startTokenServer({ ttlSeconds: 3600, refreshToken: REFRESH });
    short = await startTokenServer({ ttlSeconds: 2, refreshToken: REFRESH });
    slow = await startTokenServer({ ttlSeconds: 3600, refreshToken: REFRESH, delayMs: 300 });
  });
  after(async () => {
    await hour.close();
    await short.close();
    await slow.close();
  });

  it("reuses a token until the refresh margin, then refreshes", async () => {
    const provider = providerFor(short, { marginMs: 500 });
    const first = await provider.getToken();
    const issued = short.issued;
    await sleep(1200); // 0.8 s left: outside the 0.5 s margin
    assert.equal((await provider.getToken()).accessToken, first.accessToken);
    assert.equal(short.issued, issued);
    await sleep(400); // 0.4 s left: inside
    const refreshed = await provider.getToken();
    assert.notEqual(refreshed.accessToken, first.accessToken);
    assert.ok(Math.abs(refreshed.expiresAt - (Date.now() + 2000)) < 300);
    assert.equal(provider.refreshes, 2);
    assert.equal(short.issued, issued + 1);
  });

  it("caps the margin at a quarter of a short token's life", async () => {
    const provider = providerFor(short); // default margin: 5 minutes
    const first = await provider.getToken();
    await sleep(1300);
    assert.equal((await provider.getToken()).accessToken, first.accessToken);
    await sleep(400); // 1.7 s of 2 s: within the last quarter
    assert.notEqual((await provider.getToken()).accessToken, first.accessToken);
  });

  it("sends one refresh for many concurrent callers", async () => {
    const provider = providerFor(slow);
    const before = slow.issued;
    const tokens = await Promise.all(Array.from({ length: 50 }, () => provider.getToken()));
    assert.equal(slow.issued, before + 1);
    assert.ok(tokens.every((t) => t.accessToken === tokens[0]?.accessToken));
  });

  it("keeps the current token when a refresh fails before expiry, then fails after", async () => {
    // A refusal (400) is not retried by the library, so it is settled within the last
    // quarter (1 s) of a 4 s token; a 503 is retried for about 2 s.
    const four = await startTokenServer({ ttlSeconds: 4, refreshToken: REFRESH });
    after(() => four.close());
    const warnings: string[] = [];
    const provider = providerFor(four, { warn: (m) => warnings.push(m) });
    const first = await provider.getToken();
    four.mode = "refuse";
    try {
      await sleep(3050);
      const started = Date.now();
      assert.equal((await provider.getToken()).accessToken, first.accessToken);
      assert.ok(Date.now() - started < 900, "gave up before expiry");
      assert.match(warnings[0] ?? "", /could not refresh.*HTTP 400, invalid_grant/);
      await sleep(Math.max(0, 4100 - (Date.now() - started) - 3050)); // expired
      await assert.rejects(provider.getToken(), (error: unknown) => {
        assert.ok(error instanceof TokenRefusedError);
        assert.match(error.message, /HTTP 400/);
        assert.ok(!error.message.includes(REFRESH));
        return true;
      });
    } finally {
      four.mode = "ok";
    }
  });

  it("lets one caller give up without cancelling the shared refresh", async () => {
    const provider = providerFor(slow);
    const controller = new AbortController();
    const impatient = provider.getToken(controller.signal);
    const patient = provider.getToken();
    controller.abort(new Error("user stopped"));
    await assert.rejects(impatient, /user stopped/);
    assert.match((await patient).accessToken, /^issued-token-/);
  });

  it("renew() after a refusal refreshes a token the library still thinks valid", async () => {
    const seen: string[] = [];
    const provider = providerFor(hour, { onRefresh: (t) => seen.push(t.accessToken) });
    const first = await provider.getToken();
    const before = hour.issued;
    const renewed = await provider.renew(first.accessToken);
    assert.notEqual(renewed.accessToken, first.accessToken);
    assert.equal(hour.issued, before + 1);
    assert.deepEqual(seen, [first.accessToken, renewed.accessToken]);
    // The library's margin is back to normal: the next call reuses the new token.
    assert.equal((await provider.getToken()).accessToken, renewed.accessToken);
    assert.equal(hour.issued, before + 1);
  });

  it("concurrent renewals of one refused token share one refresh; a stale refusal none", async () => {
    const provider = providerFor(slow);
    const first = await provider.getToken();
    const before = slow.issued;
    const renewed = await Promise.all(
      Array.from({ length: 20 }, () => provider.renew(first.accessToken)),
    );
    assert.equal(slow.issued, before + 1);
    assert.ok(renewed.every((t) => t.accessToken === renewed[0]?.accessToken));
    assert.notEqual(renewed[0]?.accessToken, first.accessToken);
    // A request that was refused with the old token after the renewal: no second refresh.
    assert.equal((await provider.renew(first.accessToken)).accessToken, renewed[0]?.accessToken);
    assert.equal(slow.issued, before + 1);
  });

  it("renew() fails with the named error when the endpoint refuses, even before expiry", async () => {
    const provider = providerFor(hour, { warn: () => undefined });
    const first = await provider.getToken();
    hour.mode = "refuse";
    try {
      await assert.rejects(provider.renew(first.accessToken), (error: unknown) => {
        assert.ok(error instanceof TokenRefusedError);
        assert.match(error.message, /HTTP 400, invalid_grant/);
        assert.ok(!error.message.includes(REFRESH));
        assert.ok(!error.message.includes(first.accessToken));
        return true;
      });
    } finally {
      hour.mode = "ok";
    }
  });

  it("hands every new token to onRefresh and never shows it when inspected", async () => {
    const seen: string[] = [];
    const provider = providerFor(hour, { onRefresh: (t) => seen.push(t.accessToken) });
    const token = await provider.getToken();
    await provider.getToken();
    assert.deepEqual(seen, [token.accessToken]);
    const shown = inspect(provider, { depth: 5, showHidden: true });
    assert.ok(!shown.includes(token.accessToken));
    assert.ok(!shown.includes(REFRESH));
  });
});

describe("StaticTokenProvider", () => {
  it("returns the raw token and warns once when it is probably expired", async () => {
    const clock = fakeClock();
    const warnings: string[] = [];
    const provider = new StaticTokenProvider(
      { kind: "access-token", label: "EE_ACCESS_TOKEN" },
      "raw-token-abcdef",
      {
        now: clock.now,
        warn: (m) => warnings.push(m),
      },
    );
    assert.equal((await provider.getToken()).accessToken, "raw-token-abcdef");
    assert.equal(warnings.length, 0);
    clock.advance(61 * 60_000);
    await provider.getToken();
    await provider.getToken();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? "", /EE_ACCESS_TOKEN.*fresh token/);
    assert.doesNotMatch(warnings[0] ?? "", /raw-token-abcdef/);
  });

  it("renew() says the raw token cannot be refreshed and what to do, without the token", async () => {
    const provider = new StaticTokenProvider(
      { kind: "access-token", label: "EE_ACCESS_TOKEN" },
      "raw-token-abcdef",
    );
    await assert.rejects(provider.renew(), (error: unknown) => {
      assert.ok(error instanceof TokenRefusedError);
      assert.equal(error.status, 401);
      assert.match(error.message, /raw access token: it cannot be refreshed/);
      assert.match(error.message, /EE_SERVICE_ACCOUNT_KEY/);
      assert.match(error.message, /gcloud auth application-default login/);
      assert.match(error.message, /earthengine authenticate/);
      assert.match(error.message, /fresh token.*rerun the Setup cell/);
      assert.doesNotMatch(error.message, /raw-token-abcdef/);
      return true;
    });
  });
});
