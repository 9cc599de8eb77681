/**
 * Secrets hygiene: drive every credential failure path of connect() and check that no
 * token, refresh token, client secret or key material appears in the error (message, stack,
 * cause, inspected form) or in anything printed meanwhile.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { inspect } from "node:util";
import { connect } from "../../src/ee/session";
import { startTokenServer, type TokenServer, writeServiceAccountKey } from "./auth/token-server";
import { type FakeEarthEngine, startFakeEarthEngine } from "./fake-earth-engine";

// Deliberately not shaped like Google secrets, so only exact-value scrubbing can hide them.
const ACCESS_TOKEN = "access-SECRET-9d8c7b6a5f4e";
const REFRESH_TOKEN = "refresh-SECRET-1a2b3c4d5e6f";
const CLIENT_SECRET = "client-SECRET-0f9e8d7c6b5a";

async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe("no secret in any failure", () => {
  let tokens: TokenServer;
  let strict: TokenServer;
  let ee: FakeEarthEngine;
  let key: ReturnType<typeof writeServiceAccountKey>;
  let dir: string;
  let deadUrl: string;
  let keyLines: string[];

  before(async () => {
    tokens = await startTokenServer({ refreshToken: "some-other-refresh-token" });
    strict = await startTokenServer({
      refreshToken: "some-other-refresh-token",
      clientId: "another-client-id",
    });
    key = writeServiceAccountKey(tokens.url);
    tokens.publicKeyPem = key.publicKeyPem;
    ee = await startFakeEarthEngine({
      accept: (token) => token.startsWith("issued-token-"),
      forbiddenProjects: ["not-registered"],
    });
    dir = mkdtempSync(join(tmpdir(), "ee-secrets-"));
    deadUrl = await closedPortUrl();
    // Every full line of the key's body is key material.
    keyLines = key.privateKeyPem.split("\n").filter((line) => line.length >= 40);
  });
  after(async () => {
    await tokens.close();
    await strict.close();
    await ee.close();
    rmSync(key.dir, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  });

  function writeJson(name: string, value: unknown): string {
    const file = join(dir, name);
    writeFileSync(file, typeof value === "string" ? value : JSON.stringify(value));
    return file;
  }

  function home(credentials?: unknown): string {
    const h = mkdtempSync(join(dir, "home-"));
    if (credentials !== undefined) {
      mkdirSync(join(h, ".config", "earthengine"), { recursive: true });
      writeFileSync(join(h, ".config", "earthengine", "credentials"), JSON.stringify(credentials));
    }
    return h;
  }

  const userAdc = {
    type: "authorized_user",
    client_id: "adc-client-id",
    client_secret: CLIENT_SECRET,
    refresh_token: REFRESH_TOKEN,
  };

  type Case = {
    name: string;
    env: () => Record<string, string>;
    mode?: TokenServer["mode"];
    /** Named error the path must give. */
    expect?: RegExp;
    /** GCE_METADATA_HOST in the process environment, where google-auth-library reads it. */
    metadataHost?: () => string;
  };
  const cases: Case[] = [
    {
      name: "raw token refused by Earth Engine (401)",
      env: () => ({
        HOME: home(),
        EE_PROJECT: "p-test",
        EE_API_URL: ee.url,
        EE_ACCESS_TOKEN: ACCESS_TOKEN,
      }),
    },
    {
      name: "project refused by Earth Engine (403)",
      env: () => ({
        HOME: home(),
        EE_PROJECT: "not-registered",
        EE_API_URL: ee.url,
        EE_SERVICE_ACCOUNT_KEY: key.keyFile,
      }),
    },
    {
      name: "Earth Engine unreachable",
      env: () => ({
        HOME: home(),
        EE_PROJECT: "p-test",
        EE_API_URL: deadUrl,
        EE_ACCESS_TOKEN: ACCESS_TOKEN,
      }),
    },
    {
      name: "missing project with a raw token",
      env: () => ({ HOME: home(), EE_BACKEND: "earthengine", EE_ACCESS_TOKEN: ACCESS_TOKEN }),
    },
    {
      name: "authorized_user refresh token refused",
      env: () => ({
        HOME: home(),
        EE_PROJECT: "p-test",
        EE_API_URL: ee.url,
        EE_TOKEN_URI: tokens.url,
        GOOGLE_APPLICATION_CREDENTIALS: writeJson("adc.json", userAdc),
      }),
    },
    {
      name: "token endpoint that echoes the request",
      mode: "echo",
      env: () => ({
        HOME: home(),
        EE_PROJECT: "p-test",
        EE_API_URL: ee.url,
        EE_TOKEN_URI: tokens.url,
        GOOGLE_APPLICATION_CREDENTIALS: writeJson("adc-echo.json", userAdc),
      }),
    },
    {
      name: "service-account assertion echoed back",
      mode: "echo",
      env: () => ({
        HOME: home(),
        EE_PROJECT: "p-test",
        EE_API_URL: ee.url,
        EE_SERVICE_ACCOUNT_KEY: key.keyFile,
      }),
    },
    {
      name: "Python credentials refused",
      env: () => ({
        HOME: home({ refresh_token: REFRESH_TOKEN, client_id: "c", client_secret: CLIENT_SECRET }),
        EE_PROJECT: "p-test",
        EE_API_URL: ee.url,
        EE_TOKEN_URI: tokens.url,
      }),
    },
    {
      name: "token endpoint failing (503)",
      mode: "fail",
      env: () => ({
        HOME: home({ refresh_token: REFRESH_TOKEN }),
        EE_PROJECT: "p-test",
        EE_API_URL: ee.url,
        EE_TOKEN_URI: tokens.url,
      }),
    },
    {
      name: "token endpoint unreachable",
      env: () => ({
        HOME: home({ refresh_token: REFRESH_TOKEN }),
        EE_PROJECT: "p-test",
        EE_API_URL: ee.url,
        EE_TOKEN_URI: `${deadUrl}/token`,
      }),
    },
    {
      name: "truncated key file",
      env: () => ({
        HOME: home(),
        EE_PROJECT: "p-test",
        EE_SERVICE_ACCOUNT_KEY: writeJson(
          "truncated.json",
          `{"type":"service_account","private_key":${JSON.stringify(key.privateKeyPem)}, "client_email": "x`,
        ),
      }),
    },
    {
      name: "key file of the wrong type",
      env: () => ({
        HOME: home(),
        EE_PROJECT: "p-test",
        EE_SERVICE_ACCOUNT_KEY: writeJson("wrong.json", {
          ...userAdc,
          private_key: key.privateKeyPem,
        }),
      }),
    },
    {
      name: "key without client_email",
      env: () => ({
        HOME: home(),
        EE_PROJECT: "p-test",
        EE_SERVICE_ACCOUNT_KEY: writeJson("no-email.json", {
          type: "service_account",
          private_key: key.privateKeyPem,
        }),
      }),
    },
    {
      name: "ADC of an unsupported type",
      env: () => ({
        HOME: home(),
        EE_PROJECT: "p-test",
        GOOGLE_APPLICATION_CREDENTIALS: writeJson("external.json", {
          type: "external_account",
          client_secret: CLIENT_SECRET,
          refresh_token: REFRESH_TOKEN,
        }),
      }),
    },
    {
      name: "key JSON in EE_SERVICE_ACCOUNT_KEY, truncated",
      expect:
        /^CredentialsError: The service account key JSON in EE_SERVICE_ACCOUNT_KEY is not valid JSON/,
      env: () => ({
        HOME: home(),
        EE_PROJECT: "p-test",
        EE_SERVICE_ACCOUNT_KEY: `{"type":"service_account","private_key":${JSON.stringify(key.privateKeyPem)}, "client_`,
      }),
    },
    {
      name: "token endpoint refusing the client (401)",
      expect: /^TokenRefusedError: .*HTTP 401, invalid_client/,
      env: () => ({
        HOME: home(),
        EE_PROJECT: "p-test",
        EE_API_URL: ee.url,
        EE_TOKEN_URI: strict.url,
        GOOGLE_APPLICATION_CREDENTIALS: writeJson("adc-401.json", {
          ...userAdc,
          refresh_token: "some-other-refresh-token",
        }),
      }),
    },
    {
      name: "external_account whose STS refuses the subject token",
      expect: /^TokenRefusedError: The token endpoint http:\/\/127\.0\.0\.1:\d+\/token refused/,
      env: () => ({
        HOME: home(),
        EE_PROJECT: "p-test",
        EE_API_URL: ee.url,
        GOOGLE_APPLICATION_CREDENTIALS: writeJson("external.json", {
          type: "external_account",
          audience:
            "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
          subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
          token_url: tokens.url,
          credential_source: { file: writeJson("subject.txt", REFRESH_TOKEN) },
        }),
      }),
    },
    {
      name: "metadata server absent",
      expect:
        /^TokenEndpointError: Could not get a token for the metadata server's service account/,
      metadataHost: () => deadUrl.replace("http://", ""),
      env: () => ({
        HOME: home(),
        EE_PROJECT: "p-test",
        EE_API_URL: ee.url,
        GCE_METADATA_HOST: deadUrl.replace("http://", ""),
      }),
    },
    {
      name: "GCE_METADATA_HOST only in .env",
      expect: /^CredentialsError: GCE_METADATA_HOST is set in \.env.*export it in the shell/,
      env: () => ({
        HOME: home(),
        EE_PROJECT: "p-test",
        GCE_METADATA_HOST: "127.0.0.1:9",
      }),
    },
    {
      name: "plain-http token endpoint off loopback",
      env: () => ({
        HOME: home({ refresh_token: REFRESH_TOKEN, client_secret: CLIENT_SECRET }),
        EE_PROJECT: "p-test",
        EE_TOKEN_URI: "http://tokens.example.com/token",
      }),
    },
  ];

  for (const c of cases) {
    it(`${c.name}: fails with a message free of secrets`, async () => {
      const printed: string[] = [];
      const saved = { log: console.log, warn: console.warn, error: console.error };
      const capture = (...args: unknown[]) => printed.push(args.map((a) => inspect(a)).join(" "));
      console.log = capture;
      console.warn = capture;
      console.error = capture;
      tokens.mode = c.mode ?? "ok";
      const savedHost = process.env.GCE_METADATA_HOST;
      if (c.metadataHost) process.env.GCE_METADATA_HOST = c.metadataHost();
      let caught: unknown;
      try {
        const session = await connect({ env: c.env() });
        await session.close();
      } catch (error) {
        caught = error;
      } finally {
        Object.assign(console, saved);
        tokens.mode = "ok";
        if (savedHost === undefined) delete process.env.GCE_METADATA_HOST;
        else process.env.GCE_METADATA_HOST = savedHost;
      }
      assert.ok(caught instanceof Error, "the path must fail");
      if (process.env.SHOW_MESSAGES) saved.log(`[${c.name}] ${caught.name}: ${caught.message}`);
      assert.ok(caught.message.length > 40, "with a message that explains");
      if (c.expect) assert.match(`${caught.name}: ${caught.message}`, c.expect);
      const everything = [
        caught.message,
        caught.stack ?? "",
        inspect(caught, { depth: 8, showHidden: true }),
        ...printed,
      ].join("\n");
      for (const secret of [ACCESS_TOKEN, REFRESH_TOKEN, CLIENT_SECRET, ...keyLines]) {
        assert.ok(
          !everything.includes(secret),
          `leaked ${secret.slice(0, 12)}... in: ${caught.message}`,
        );
      }
      assert.doesNotMatch(everything, /PRIVATE KEY-----\n?[A-Za-z0-9+/]{20}/);
      assert.doesNotMatch(everything, /eyJ[\w-]+\.[\w-]+\.[\w-]+/, "no signed assertion");
    });
  }
});
