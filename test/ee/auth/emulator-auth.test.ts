/**
 * The emulator's auth mode answers as Earth Engine does: missing, wrong and expired tokens get
 * 401 UNAUTHENTICATED, a token without an Earth Engine scope 403 PERMISSION_DENIED.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type RunningEmulator, startEmulator } from "../../../src/emulator/index";

const REFRESH = "emulator-auth-refresh-77";
const UNAUTHENTICATED =
  "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

describe("the emulator's auth mode", () => {
  let emulator: RunningEmulator;
  before(async () => {
    emulator = await startEmulator({
      latencyMs: 0,
      auth: { refreshToken: REFRESH, tokenTtlSeconds: 1 },
    });
  });
  after(() => emulator.stop());

  const token = async (scope?: string) => {
    const form: Record<string, string> = { grant_type: "refresh_token", refresh_token: REFRESH };
    if (scope) form.scope = scope;
    const response = await fetch(`${emulator.url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form),
    });
    return ((await response.json()) as { access_token: string }).access_token;
  };
  const call = async (authorization?: string) => {
    const response = await fetch(
      `${emulator.url}/v1/projects/${emulator.project}/algorithms`,
      authorization ? { headers: { authorization } } : {},
    );
    return { status: response.status, body: (await response.json()) as unknown };
  };
  const unauthenticated = {
    error: { code: 401, message: UNAUTHENTICATED, status: "UNAUTHENTICATED" },
  };

  it("401 without a token, with a malformed header and with a token it never issued", async () => {
    assert.deepEqual(await call(), { status: 401, body: unauthenticated });
    assert.deepEqual(await call("Basic abc"), { status: 401, body: unauthenticated });
    assert.deepEqual(await call("Bearer ya29.forged"), { status: 401, body: unauthenticated });
  });

  it("accepts an issued token, then 401 once it expires", async () => {
    const issued = await token();
    assert.equal((await call(`Bearer ${issued}`)).status, 200);
    await sleep(1100);
    assert.deepEqual(await call(`Bearer ${issued}`), { status: 401, body: unauthenticated });
  });

  it("403 PERMISSION_DENIED for a token without an Earth Engine scope", async () => {
    const narrow = await token("https://www.googleapis.com/auth/devstorage.read_only");
    assert.deepEqual(await call(`Bearer ${narrow}`), {
      status: 403,
      body: {
        error: {
          code: 403,
          message: "Request had insufficient authentication scopes.",
          status: "PERMISSION_DENIED",
        },
      },
    });
    const wide = await token("https://www.googleapis.com/auth/cloud-platform");
    assert.equal((await call(`Bearer ${wide}`)).status, 200);
  });
});
