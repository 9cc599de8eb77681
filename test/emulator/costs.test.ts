/** Quotas, injected faults and authentication of a running emulator, over raw HTTP. */
import assert from "node:assert/strict";
import { createSign, generateKeyPairSync } from "node:crypto";
import { test } from "node:test";
import { FaultInjector, resolveCostModel } from "../../src/emulator/costs";
import {
  type EmulatorOptions,
  type RunningEmulator,
  startEmulator,
} from "../../src/emulator/index";
import { constantImageExpression } from "./pixels-fixtures";

const BAND_NAMES = {
  result: "0",
  values: {
    "0": {
      functionInvocationValue: {
        functionName: "Image.bandNames",
        arguments: { image: { valueReference: "1" } },
      },
    },
    "1": {
      functionInvocationValue: {
        functionName: "Image.constant",
        arguments: { value: { constantValue: 1 } },
      },
    },
  },
};

async function withEmulator(
  options: EmulatorOptions,
  body: (emulator: RunningEmulator) => Promise<void>,
): Promise<void> {
  const emulator = await startEmulator(options);
  try {
    await body(emulator);
  } finally {
    await emulator.stop();
  }
}

function compute(
  emulator: RunningEmulator,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${emulator.url}/v1/projects/${emulator.project}/value:compute`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify({ expression: BAND_NAMES }),
  });
}

async function statusOf(
  emulator: RunningEmulator,
  headers: Record<string, string> = {},
): Promise<number | string> {
  try {
    const response = await compute(emulator, headers);
    await response.arrayBuffer();
    return response.status;
  } catch {
    return "failed";
  }
}

test("429 beyond the concurrency quota", async () => {
  await withEmulator({ latencyMs: 400, maxConcurrent: 2 }, async (emulator) => {
    const responses = await Promise.all(Array.from({ length: 6 }, () => compute(emulator)));
    const refused = responses.filter((r) => r.status === 429);
    assert.ok(refused.length >= 3, `only ${refused.length} refused`);
    const body = (await refused[0].json()) as { error: { message: string; status: string } };
    assert.equal(body.error.status, "RESOURCE_EXHAUSTED");
    assert.match(body.error.message, /^Too Many Requests: more than 2 concurrent requests/);
    assert.equal(responses.filter((r) => r.status === 200).length, 2);
  });
});

test("429 beyond the requests-per-second quota", async () => {
  await withEmulator({ latencyMs: 0, maxRequestsPerSecond: 3 }, async (emulator) => {
    const statuses: (number | string)[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await statusOf(emulator));
    assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
    assert.ok(statuses.slice(3).includes(429));
  });
});

test("the fault injector hits its rates and replays with its seed", () => {
  const faults = resolveCostModel({
    faults: { serverErrorRate: 0.1, resetRate: 0.05, truncateRate: 0.05, stallRate: 0.05 },
  }).faults;
  const draw = (seed: number) => {
    const injector = new FaultInjector(faults, seed);
    return Array.from({ length: 20_000 }, () => injector.next().kind);
  };
  const a = draw(42);
  assert.deepEqual(draw(42), a);
  assert.notDeepEqual(draw(43), a);
  const rate = (kind: string) => a.filter((k) => k === kind).length / a.length;
  assert.ok(Math.abs(rate("serverError") - 0.1) < 0.01);
  assert.ok(Math.abs(rate("reset") - 0.05) < 0.01);
  assert.ok(Math.abs(rate("truncate") - 0.05) < 0.01);
  assert.ok(Math.abs(rate("stall") - 0.05) < 0.01);
});

test("injected 5xx, resets and truncations reach clients, deterministically", async () => {
  const options: EmulatorOptions = {
    latencyMs: 0,
    seed: 7,
    faults: { serverErrorRate: 0.3, resetRate: 0.1, truncateRate: 0.1 },
  };
  const run = async () => {
    const statuses: (number | string)[] = [];
    await withEmulator(options, async (emulator) => {
      // The algorithms endpoint is exempt: initialize must always work.
      for (let i = 0; i < 5; i++) {
        const r = await fetch(`${emulator.url}/v1/projects/${emulator.project}/algorithms`);
        assert.equal(r.status, 200);
        await r.arrayBuffer();
      }
      for (let i = 0; i < 60; i++) statuses.push(await statusOf(emulator, { Connection: "close" }));
    });
    return statuses;
  };
  const first = await run();
  assert.deepEqual(await run(), first, "same seed, same faults");
  const errors = first.filter((s) => s === 500 || s === 503).length;
  const failed = first.filter((s) => s === "failed").length;
  assert.ok(errors >= 8 && errors <= 30, `${errors} 5xx of 60`);
  assert.ok(failed >= 3 && failed <= 24, `${failed} resets/truncations of 60`);
});

test("memory limit fault: large computePixels get 'User memory limit exceeded.'", async () => {
  await withEmulator({ latencyMs: 0, faults: { memoryLimitPixels: 100 } }, async (emulator) => {
    const response = await fetch(
      `${emulator.url}/v1/projects/${emulator.project}/image:computePixels`,
      {
        method: "POST",
        body: JSON.stringify({
          expression: constantImageExpression(),
          fileFormat: "NPY",
          grid: {
            crsCode: "EPSG:4326",
            affineTransform: { scaleX: 0.001, scaleY: -0.001, translateX: 0, translateY: 0 },
            dimensions: { width: 20, height: 20 },
          },
        }),
      },
    );
    assert.equal(response.status, 400);
    assert.equal(
      ((await response.json()) as { error: { message: string } }).error.message,
      "User memory limit exceeded.",
    );
  });
});

test("auth: 401 without a token, success with one, tokens from /token", async () => {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const options: EmulatorOptions = {
    latencyMs: 0,
    auth: {
      accessTokens: ["static-token"],
      refreshToken: "refresh-1",
      serviceAccountPublicKeyPem: pem,
      tokenTtlSeconds: 600,
    },
  };
  await withEmulator(options, async (emulator) => {
    const denied = await compute(emulator);
    assert.equal(denied.status, 401);
    const error = ((await denied.json()) as { error: { status: string; message: string } }).error;
    assert.equal(error.status, "UNAUTHENTICATED");
    assert.match(error.message, /^Request had invalid authentication credentials/);
    assert.equal(await statusOf(emulator, { Authorization: "Bearer wrong" }), 401);
    assert.equal(await statusOf(emulator, { Authorization: "Bearer static-token" }), 200);

    const token = (form: Record<string, string>) =>
      fetch(`${emulator.url}/token`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(form).toString(),
      });
    const refreshed = await token({
      grant_type: "refresh_token",
      refresh_token: "refresh-1",
      client_id: "x",
    });
    assert.equal(refreshed.status, 200);
    const grant = (await refreshed.json()) as {
      access_token: string;
      expires_in: number;
      token_type: string;
    };
    assert.equal(grant.expires_in, 600);
    assert.equal(grant.token_type, "Bearer");
    assert.equal(await statusOf(emulator, { Authorization: `Bearer ${grant.access_token}` }), 200);
    const wrong = await token({ grant_type: "refresh_token", refresh_token: "nope" });
    assert.equal(wrong.status, 400);
    assert.equal(((await wrong.json()) as { error: string }).error, "invalid_grant");

    const now = Math.floor(Date.now() / 1000);
    const jwt = (claims: Record<string, unknown>, key = privateKey) => {
      const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
      const unsigned = `${encode({ alg: "RS256", typ: "JWT" })}.${encode(claims)}`;
      return `${unsigned}.${createSign("RSA-SHA256").update(unsigned).sign(key).toString("base64url")}`;
    };
    const claims = {
      iss: "sa@example.iam.gserviceaccount.com",
      aud: `${emulator.url}/token`,
      scope: "https://www.googleapis.com/auth/earthengine",
      iat: now,
      exp: now + 3600,
    };
    const jwtGrant = await token({
      grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
      assertion: jwt(claims),
    });
    assert.equal(jwtGrant.status, 200);
    const sa = (await jwtGrant.json()) as { access_token: string };
    assert.equal(await statusOf(emulator, { Authorization: `Bearer ${sa.access_token}` }), 200);
    const otherKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const forged = await token({
      grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
      assertion: jwt(claims, otherKey),
    });
    assert.equal(forged.status, 400);
    assert.equal(
      ((await forged.json()) as { error_description: string }).error_description,
      "Invalid JWT Signature.",
    );
    const expired = await token({
      grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
      assertion: jwt({ ...claims, iat: now - 7200, exp: now - 3600 }),
    });
    assert.equal(expired.status, 400);
    const status = await emulator.status();
    assert.equal(status.stats.tokenRequests, 5);
  });
});

test("startup failure reports the child's stderr", async () => {
  await assert.rejects(
    startEmulator({ latencyMs: -5 }),
    /did not start[\s\S]*latencyMs must be a number >= 0/,
  );
});
