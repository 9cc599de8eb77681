import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  createTokenProvider,
  EARTHENGINE_PYTHON_CLIENT_ID,
  EARTHENGINE_PYTHON_CLIENT_SECRET,
  findCredentials,
} from "../../../src/ee/auth/credentials";
import {
  CredentialsError,
  TokenEndpointError,
  TokenRefusedError,
} from "../../../src/ee/auth/errors";
import { type Env, parseConfig } from "../../../src/ee/config";
import { startTokenServer, type TokenServer, writeServiceAccountKey } from "./token-server";

const REFRESH_TOKEN = "refresh-value-7f3a9c2e41";

function tempHome(): string {
  return mkdtempSync(join(tmpdir(), "ee-home-"));
}

function configFor(env: Env, root = tmpdir()) {
  return parseConfig(env, root);
}

async function tokenFor(env: Env) {
  const config = configFor(env);
  const source = findCredentials(config);
  assert.ok(source, "a credential should be found");
  const provider = await createTokenProvider(source, config);
  return { source, token: await provider.getToken() };
}

describe("service account keys", () => {
  let server: TokenServer;
  let key: ReturnType<typeof writeServiceAccountKey>;
  before(async () => {
    server = await startTokenServer({ ttlSeconds: 3600 });
    key = writeServiceAccountKey(server.url);
    server.publicKeyPem = key.publicKeyPem;
  });
  after(async () => {
    await server.close();
    rmSync(key.dir, { recursive: true, force: true });
  });

  it("signs an RS256 assertion and exchanges it for a token at token_uri", async () => {
    const { source, token } = await tokenFor({
      HOME: tempHome(),
      EE_SERVICE_ACCOUNT_KEY: key.keyFile,
    });
    assert.equal(source.kind, "service-account-key");
    assert.match(source.label, /EE_SERVICE_ACCOUNT_KEY/);
    assert.equal(token.accessToken, "issued-token-1");
    const claims = server.claims.at(-1);
    assert.equal(claims?.iss, key.clientEmail);
    // google-auth-library addresses every assertion to Google's endpoint; the key's token_uri
    // decides only where it is sent (this server verified and counted it).
    assert.equal(claims?.aud, "https://oauth2.googleapis.com/token");
    assert.equal(server.claims.length, 1);
    assert.equal(
      claims?.scope,
      "https://www.googleapis.com/auth/earthengine https://www.googleapis.com/auth/cloud-platform",
    );
    assert.equal(Number(claims?.exp) - Number(claims?.iat), 3600);
  });

  it("resolves a relative key path from the project root", () => {
    const config = parseConfig(
      { HOME: tempHome(), EE_SERVICE_ACCOUNT_KEY: "service-account.json" },
      key.dir,
    );
    assert.equal(config.serviceAccountKeyFile, key.keyFile);
  });

  it("uses a service-account file named by GOOGLE_APPLICATION_CREDENTIALS", async () => {
    const { source, token } = await tokenFor({
      HOME: tempHome(),
      GOOGLE_APPLICATION_CREDENTIALS: key.keyFile,
    });
    assert.equal(source.kind, "application-default");
    assert.match(token.accessToken, /^issued-token-/);
  });

  it("reports a refused key with the endpoint's reason and the fix", async () => {
    server.mode = "refuse";
    try {
      await assert.rejects(
        tokenFor({ HOME: tempHome(), EE_SERVICE_ACCOUNT_KEY: key.keyFile }),
        (error: unknown) => {
          assert.ok(error instanceof TokenRefusedError);
          assert.equal(error.status, 400);
          assert.match(error.message, /invalid_grant: Token has been expired or revoked/);
          assert.match(error.message, /service account .* still exist/);
          assert.doesNotMatch(error.message, /eyJ/); // no assertion
          return true;
        },
      );
    } finally {
      server.mode = "ok";
    }
  });

  it("reports a failing endpoint as such, not as refused credentials", async () => {
    server.mode = "fail";
    try {
      await assert.rejects(
        tokenFor({ HOME: tempHome(), EE_SERVICE_ACCOUNT_KEY: key.keyFile }),
        (error: unknown) => error instanceof TokenEndpointError && /HTTP 503/.test(error.message),
      );
    } finally {
      server.mode = "ok";
    }
  });
});

describe("broken key files", () => {
  const dir = mkdtempSync(join(tmpdir(), "ee-badkeys-"));
  const valid = writeServiceAccountKey("https://oauth2.googleapis.com/token", dir);
  after(() => rmSync(dir, { recursive: true, force: true }));
  const keyBody = valid.privateKeyPem.split("\n")[5] ?? "";

  const cases: { name: string; content?: string; expect: RegExp }[] = [
    { name: "missing", expect: /does not exist: fix the path/ },
    {
      name: "truncated",
      content: `{"type": "service_account", "private_key": "${valid.privateKeyPem.slice(0, 200).replace(/\n/g, "\\n")}`,
      expect: /is not valid JSON .*download or create it again/,
    },
    {
      name: "wrong-type",
      content: JSON.stringify({ type: "authorized_user", refresh_token: REFRESH_TOKEN }),
      expect: /type "authorized_user", not "service_account"/,
    },
    {
      name: "no-private-key",
      content: JSON.stringify({ type: "service_account", client_email: "a@b.c" }),
      expect: /has no private_key/,
    },
    {
      name: "damaged-pem",
      content: JSON.stringify({
        type: "service_account",
        client_email: "a@b.c",
        // Lines lost from the middle, as after a bad copy and paste.
        private_key: valid.privateKeyPem
          .split("\n")
          .slice(0, 6)
          .concat(valid.privateKeyPem.split("\n").slice(-3))
          .join("\n"),
      }),
      expect: /private_key is not a readable PEM private key/,
    },
  ];
  for (const c of cases) {
    it(`explains a ${c.name} key file without quoting it`, async () => {
      const file = join(dir, `${c.name}.json`);
      if (c.content !== undefined) writeFileSync(file, c.content);
      const config = configFor({ HOME: tempHome(), EE_SERVICE_ACCOUNT_KEY: file });
      const source = findCredentials(config);
      assert.ok(source);
      await assert.rejects(createTokenProvider(source, config), (error: unknown) => {
        assert.ok(error instanceof CredentialsError);
        assert.match(error.message, c.expect);
        assert.ok(error.message.includes(file), "names the file");
        assert.ok(!error.message.includes(keyBody), "never quotes the key");
        assert.ok(!error.message.includes(REFRESH_TOKEN));
        return true;
      });
    });
  }

  it("refuses to send credentials to a plain-http token endpoint off loopback", async () => {
    const file = join(dir, "http-uri.json");
    writeFileSync(
      file,
      JSON.stringify({
        type: "service_account",
        client_email: valid.clientEmail,
        private_key: valid.privateKeyPem,
        token_uri: "http://tokens.example.com/token",
      }),
    );
    const config = configFor({ HOME: tempHome(), EE_SERVICE_ACCOUNT_KEY: file });
    const source = findCredentials(config);
    assert.ok(source);
    // Refused while reading the key, before any request could carry the assertion.
    await assert.rejects(createTokenProvider(source, config), /not HTTPS/);
  });
});

describe("refresh-token credentials", () => {
  let server: TokenServer;
  before(async () => {
    server = await startTokenServer({ refreshToken: REFRESH_TOKEN, ttlSeconds: 600 });
  });
  after(() => server.close());

  it("refreshes an authorized_user ADC file at EE_TOKEN_URI", async () => {
    const home = tempHome();
    const file = join(home, "adc.json");
    writeFileSync(
      file,
      JSON.stringify({
        type: "authorized_user",
        client_id: "adc-client.apps.googleusercontent.com",
        client_secret: "adc-client-secret-value",
        refresh_token: REFRESH_TOKEN,
      }),
    );
    const { source, token } = await tokenFor({
      HOME: home,
      GOOGLE_APPLICATION_CREDENTIALS: file,
      EE_TOKEN_URI: server.url,
    });
    assert.equal(source.kind, "application-default");
    assert.match(token.accessToken, /^issued-token-/);
    const form = server.requests.at(-1);
    assert.equal(form?.grant_type, "refresh_token");
    assert.equal(form?.client_id, "adc-client.apps.googleusercontent.com");
    assert.equal(form?.client_secret, "adc-client-secret-value");
  });

  it("uses the Python client's stored refresh token with its public client id", async () => {
    const home = tempHome();
    mkdirSync(join(home, ".config", "earthengine"), { recursive: true });
    writeFileSync(
      join(home, ".config", "earthengine", "credentials"),
      JSON.stringify({ refresh_token: REFRESH_TOKEN }),
    );
    const { source, token } = await tokenFor({ HOME: home, EE_TOKEN_URI: server.url });
    assert.equal(source.kind, "earthengine-credentials");
    assert.match(token.accessToken, /^issued-token-/);
    const form = server.requests.at(-1);
    assert.equal(form?.client_id, EARTHENGINE_PYTHON_CLIENT_ID);
    assert.equal(form?.client_secret, EARTHENGINE_PYTHON_CLIENT_SECRET);
  });

  it("finds gcloud's ADC file under HOME, or under CLOUDSDK_CONFIG", async () => {
    const home = tempHome();
    const adc = JSON.stringify({
      type: "authorized_user",
      client_id: "gcloud-client",
      client_secret: "gcloud-secret-value",
      refresh_token: REFRESH_TOKEN,
    });
    mkdirSync(join(home, ".config", "gcloud"), { recursive: true });
    writeFileSync(join(home, ".config", "gcloud", "application_default_credentials.json"), adc);
    const { source } = await tokenFor({ HOME: home, EE_TOKEN_URI: server.url });
    assert.equal(source.kind, "gcloud");
    assert.equal(
      source.path,
      join(home, ".config", "gcloud", "application_default_credentials.json"),
    );

    const other = tempHome();
    writeFileSync(join(other, "application_default_credentials.json"), adc);
    const moved = findCredentials(configFor({ HOME: tempHome(), CLOUDSDK_CONFIG: other }));
    assert.equal(moved?.path, join(other, "application_default_credentials.json"));
  });

  it("tells how to sign in again when the refresh token is revoked", async () => {
    const home = tempHome();
    mkdirSync(join(home, ".config", "earthengine"), { recursive: true });
    writeFileSync(
      join(home, ".config", "earthengine", "credentials"),
      JSON.stringify({ refresh_token: "revoked-refresh-token-value" }),
    );
    await assert.rejects(tokenFor({ HOME: home, EE_TOKEN_URI: server.url }), (error: unknown) => {
      assert.ok(error instanceof TokenRefusedError);
      assert.match(error.message, /earthengine authenticate/);
      assert.ok(!error.message.includes("revoked-refresh-token-value"));
      return true;
    });
  });

  it("refuses ADC types it cannot use, naming the supported ones", async () => {
    const home = tempHome();
    const file = join(home, "gdch.json");
    writeFileSync(file, JSON.stringify({ type: "gdch_service_account", audience: "x" }));
    await assert.rejects(
      tokenFor({ HOME: home, GOOGLE_APPLICATION_CREDENTIALS: file }),
      /type "gdch_service_account"; supported are "service_account", "authorized_user", "external_account", "impersonated_service_account"/,
    );
  });

  it("names what an incomplete external_account file lacks", async () => {
    const home = tempHome();
    const file = join(home, "external.json");
    writeFileSync(file, JSON.stringify({ type: "external_account", audience: "x" }));
    await assert.rejects(
      tokenFor({ HOME: home, GOOGLE_APPLICATION_CREDENTIALS: file }),
      /external_account\) needs audience, token_url and credential_source/,
    );
  });
});

describe("which credential wins", () => {
  it("prefers explicit settings over the machine's sign-ins, in documented order", () => {
    const home = tempHome();
    mkdirSync(join(home, ".config", "earthengine"), { recursive: true });
    mkdirSync(join(home, ".config", "gcloud"), { recursive: true });
    writeFileSync(join(home, ".config", "earthengine", "credentials"), "{}");
    writeFileSync(join(home, ".config", "gcloud", "application_default_credentials.json"), "{}");
    const all: Env = {
      HOME: home,
      EE_SERVICE_ACCOUNT_KEY: "/k.json",
      EE_ACCESS_TOKEN: "raw",
      GOOGLE_APPLICATION_CREDENTIALS: "/adc.json",
    };
    const kinds: string[] = [];
    for (const drop of [
      "",
      "EE_SERVICE_ACCOUNT_KEY",
      "EE_ACCESS_TOKEN",
      "GOOGLE_APPLICATION_CREDENTIALS",
    ]) {
      if (drop) delete all[drop];
      kinds.push(findCredentials(configFor(all))?.kind ?? "none");
    }
    rmSync(join(home, ".config", "earthengine"), { recursive: true });
    kinds.push(findCredentials(configFor(all))?.kind ?? "none");
    rmSync(join(home, ".config", "gcloud"), { recursive: true });
    kinds.push(findCredentials(configFor(all))?.kind ?? "none");
    assert.deepEqual(kinds, [
      "service-account-key",
      "access-token",
      "application-default",
      "earthengine-credentials",
      "gcloud",
      "none",
    ]);
  });
});
