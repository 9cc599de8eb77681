import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inspect } from "node:util";
import {
  type CredentialSource,
  type IssuedToken,
  RefreshingTokenProvider,
  StaticTokenProvider,
} from "../../../src/ee/auth/token";

const source: CredentialSource = { kind: "service-account-key", label: "test key" };

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("RefreshingTokenProvider", () => {
  it("reuses a token until the refresh margin, then refreshes", async () => {
    const clock = fakeClock();
    let n = 0;
    const provider = new RefreshingTokenProvider(
      source,
      async () => ({ accessToken: `t${++n}`, expiresInSeconds: 3600 }),
      { now: clock.now },
    );
    assert.equal((await provider.getToken()).accessToken, "t1");
    clock.advance(54 * 60_000); // 6 min left: outside the 5 min margin
    assert.equal((await provider.getToken()).accessToken, "t1");
    clock.advance(2 * 60_000); // 4 min left: inside
    const refreshed = await provider.getToken();
    assert.equal(refreshed.accessToken, "t2");
    assert.equal(refreshed.expiresAt, clock.now() + 3600_000);
    assert.equal(provider.refreshes, 2);
  });

  it("caps the margin at a quarter of a short token's life", async () => {
    const clock = fakeClock();
    let n = 0;
    const provider = new RefreshingTokenProvider(
      source,
      async () => ({ accessToken: `t${++n}`, expiresInSeconds: 2 }),
      { now: clock.now },
    );
    await provider.getToken();
    clock.advance(1400);
    assert.equal((await provider.getToken()).accessToken, "t1");
    clock.advance(200); // 1.6 s of 2 s: within the last quarter
    assert.equal((await provider.getToken()).accessToken, "t2");
  });

  it("sends one refresh for many concurrent callers", async () => {
    const gate = deferred<IssuedToken>();
    let calls = 0;
    const provider = new RefreshingTokenProvider(source, () => {
      calls += 1;
      return gate.promise;
    });
    const waiting = Array.from({ length: 50 }, () => provider.getToken());
    gate.resolve({ accessToken: "shared", expiresInSeconds: 3600 });
    const tokens = await Promise.all(waiting);
    assert.equal(calls, 1);
    assert.ok(tokens.every((t) => t.accessToken === "shared"));
  });

  it("keeps the current token when a refresh fails before expiry, then fails after", async () => {
    const clock = fakeClock();
    const warnings: string[] = [];
    let fail = false;
    const provider = new RefreshingTokenProvider(
      source,
      async () => {
        if (fail) throw new Error("endpoint down");
        return { accessToken: "t1", expiresInSeconds: 3600 };
      },
      { now: clock.now, warn: (m) => warnings.push(m) },
    );
    await provider.getToken();
    fail = true;
    clock.advance(57 * 60_000);
    assert.equal((await provider.getToken()).accessToken, "t1");
    assert.match(warnings[0] ?? "", /could not refresh.*endpoint down/);
    clock.advance(4 * 60_000); // expired
    await assert.rejects(provider.getToken(), /endpoint down/);
  });

  it("lets one caller give up without cancelling the shared refresh", async () => {
    const gate = deferred<IssuedToken>();
    const provider = new RefreshingTokenProvider(source, () => gate.promise);
    const controller = new AbortController();
    const impatient = provider.getToken(controller.signal);
    const patient = provider.getToken();
    controller.abort(new Error("user stopped"));
    await assert.rejects(impatient, /user stopped/);
    gate.resolve({ accessToken: "late", expiresInSeconds: 3600 });
    assert.equal((await patient).accessToken, "late");
  });

  it("hands every new token to onRefresh and never shows it when inspected", async () => {
    const seen: string[] = [];
    const provider = new RefreshingTokenProvider(
      source,
      async () => ({ accessToken: "secret-value-123456", expiresInSeconds: 3600 }),
      { onRefresh: (t) => seen.push(t.accessToken) },
    );
    await provider.getToken();
    assert.deepEqual(seen, ["secret-value-123456"]);
    assert.doesNotMatch(inspect(provider, { depth: 5, showHidden: true }), /secret-value/);
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
});
