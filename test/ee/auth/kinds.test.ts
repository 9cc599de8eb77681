/**
 * Every credential kind, end to end and offline: connect() to an emulator that requires
 * tokens, findImages, one snippet download. Tokens come from loopback endpoints only: the
 * emulator's /token (service accounts, user refresh tokens), and a local metadata server,
 * STS and IAM (google-identity.ts) that mint theirs from the emulator.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { AuthorizationError } from "../../../src/ee/errors";
import { connect, type Session, TokenRefusedError } from "../../../src/ee/session";
import { type RunningEmulator, startEmulator } from "../../../src/emulator/index";
import { bbox } from "../../../src/snippets/aoi";
import { downloadSnippet } from "../../../src/snippets/batch";
import { scenesUntil } from "../../reliability/helpers";
import { type GoogleIdentity, startGoogleIdentity } from "./google-identity";
import { makeKeyPair, mintAccessToken, writeServiceAccountKey } from "./token-server";

const REFRESH_TOKEN = "kinds-refresh-SECRET-5a4b3c2d";
const SUBJECT_TOKEN = "kinds-subject-SECRET-9f8e7d6c";
const aoi = bbox(-82.435, 8.3958, 0.01, "kinds");

describe("every credential kind, end to end against the emulator's auth", () => {
  let emulator: RunningEmulator;
  let identity: GoogleIdentity;
  let dir: string;
  let keyFile: string;
  let keyJson: string;

  before(async () => {
    const pair = makeKeyPair();
    emulator = await startEmulator({
      latencyMs: 0,
      msPerMegapixel: 0,
      bandwidthMBps: 0,
      auth: {
        refreshToken: REFRESH_TOKEN,
        serviceAccountPublicKeyPem: pair.publicKeyPem,
        tokenTtlSeconds: 3600,
      },
    });
    identity = await startGoogleIdentity({
      emulatorUrl: emulator.url,
      refreshToken: REFRESH_TOKEN,
      subjectToken: SUBJECT_TOKEN,
    });
    dir = mkdtempSync(join(tmpdir(), "ee-kinds-"));
    const key = writeServiceAccountKey(`${emulator.url}/token`, dir, pair);
    keyFile = key.keyFile;
    keyJson = JSON.stringify({
      type: "service_account",
      client_email: key.clientEmail,
      private_key: pair.privateKeyPem,
      token_uri: `${emulator.url}/token`,
    });
  });
  after(async () => {
    await identity.close();
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function home(): string {
    return mkdtempSync(join(dir, "home-"));
  }

  function file(name: string, value: unknown): string {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(value));
    return path;
  }

  const authorizedUser = () => ({
    type: "authorized_user",
    client_id: "kinds-client.apps.googleusercontent.com",
    client_secret: "kinds-client-secret",
    refresh_token: REFRESH_TOKEN,
  });

  /** connect -> findImages -> one snippet, and the session's token is the emulator's. */
  async function runTutorial(env: Record<string, string>): Promise<Session> {
    const session = await connect({
      env: { EE_PROJECT: emulator.project, EE_API_URL: emulator.url, ...env },
      quiet: true,
    });
    try {
      assert.equal(session.backend.kind, "earthengine");
      const images = await scenesUntil(session, aoi, "2024-02-01");
      assert.ok(images.length > 0, "findImages went through the client with our token");
      const outDir = mkdtempSync(join(dir, "out-"));
      const result = await downloadSnippet(session, images[0] as never, {
        outDir,
        aoi,
        scale: 10,
      });
      assert.ok((await stat(result.path)).size > 0, "the snippet was written");
      assert.match((await session.backend.authorization()) ?? "", /^Bearer ya29\.emulator-/);
      return session;
    } finally {
      await session.close();
    }
  }

  it("a service-account key file (EE_SERVICE_ACCOUNT_KEY)", async () => {
    const session = await runTutorial({ HOME: home(), EE_SERVICE_ACCOUNT_KEY: keyFile });
    assert.equal(session.credentials?.kind, "service-account-key");
  });

  it("a service-account key's JSON in EE_SERVICE_ACCOUNT_KEY", async () => {
    const session = await runTutorial({ HOME: home(), EE_SERVICE_ACCOUNT_KEY: keyJson });
    assert.equal(session.credentials?.label, "service account key JSON in EE_SERVICE_ACCOUNT_KEY");
    assert.ok(!session.banner.includes("PRIVATE KEY"));
  });

  it("GOOGLE_APPLICATION_CREDENTIALS: service_account", async () => {
    const session = await runTutorial({ HOME: home(), GOOGLE_APPLICATION_CREDENTIALS: keyFile });
    assert.equal(session.credentials?.kind, "application-default");
  });

  it("GOOGLE_APPLICATION_CREDENTIALS: authorized_user", async () => {
    await runTutorial({
      HOME: home(),
      EE_TOKEN_URI: `${emulator.url}/token`,
      GOOGLE_APPLICATION_CREDENTIALS: file("user.json", authorizedUser()),
    });
  });

  it("GOOGLE_APPLICATION_CREDENTIALS: external_account (workload identity federation)", async () => {
    const subjectFile = join(dir, "subject-token.txt");
    writeFileSync(subjectFile, SUBJECT_TOKEN);
    const before = identity.counts.sts;
    await runTutorial({
      HOME: home(),
      GOOGLE_APPLICATION_CREDENTIALS: file("external.json", {
        type: "external_account",
        audience:
          "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
        subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
        token_url: `${identity.url}/v1/token`,
        credential_source: { file: subjectFile },
      }),
    });
    assert.equal(identity.counts.sts, before + 1, "one STS exchange");
  });

  it("GOOGLE_APPLICATION_CREDENTIALS: impersonated_service_account", async () => {
    const before = identity.counts.iam;
    await runTutorial({
      HOME: home(),
      EE_TOKEN_URI: `${emulator.url}/token`,
      GOOGLE_APPLICATION_CREDENTIALS: file("impersonated.json", {
        type: "impersonated_service_account",
        service_account_impersonation_url: `${identity.url}/v1/projects/-/serviceAccounts/target@p.iam.gserviceaccount.com:generateAccessToken`,
        source_credentials: authorizedUser(),
        delegates: [],
      }),
    });
    assert.equal(identity.counts.iam, before + 1, "one generateAccessToken call");
  });

  it("gcloud's application_default_credentials.json, found under CLOUDSDK_CONFIG", async () => {
    const gcloud = join(dir, "gcloud");
    mkdirSync(gcloud, { recursive: true });
    writeFileSync(
      join(gcloud, "application_default_credentials.json"),
      JSON.stringify(authorizedUser()),
    );
    const session = await runTutorial({
      HOME: home(),
      CLOUDSDK_CONFIG: gcloud,
      EE_TOKEN_URI: `${emulator.url}/token`,
    });
    assert.equal(session.credentials?.kind, "gcloud");
  });

  it("the Python client's ~/.config/earthengine/credentials", async () => {
    const pyHome = home();
    mkdirSync(join(pyHome, ".config", "earthengine"), { recursive: true });
    writeFileSync(
      join(pyHome, ".config", "earthengine", "credentials"),
      JSON.stringify({ refresh_token: REFRESH_TOKEN }),
    );
    const session = await runTutorial({ HOME: pyHome, EE_TOKEN_URI: `${emulator.url}/token` });
    assert.equal(session.credentials?.kind, "earthengine-credentials");
  });

  it("the metadata server (GCE_METADATA_HOST)", async () => {
    const saved = process.env.GCE_METADATA_HOST;
    // google-auth-library reads the variable from the process environment.
    process.env.GCE_METADATA_HOST = identity.host;
    const before = identity.counts.metadata;
    try {
      const session = await runTutorial({ HOME: home(), GCE_METADATA_HOST: identity.host });
      assert.equal(session.credentials?.kind, "metadata-server");
      assert.equal(identity.counts.metadata, before + 1);
    } finally {
      if (saved === undefined) delete process.env.GCE_METADATA_HOST;
      else process.env.GCE_METADATA_HOST = saved;
    }
  });

  it("a raw EE_ACCESS_TOKEN", async () => {
    const minted = await mintAccessToken(`${emulator.url}/token`, REFRESH_TOKEN);
    const session = await runTutorial({ HOME: home(), EE_ACCESS_TOKEN: minted.access_token });
    assert.equal(session.credentials?.kind, "access-token");
  });
});

describe("tokens that expire mid-run", () => {
  let emulator: RunningEmulator;
  let dir: string;

  before(async () => {
    emulator = await startEmulator({
      latencyMs: 50,
      msPerMegapixel: 0,
      bandwidthMBps: 0,
      auth: { refreshToken: REFRESH_TOKEN, tokenTtlSeconds: 2 },
    });
    dir = mkdtempSync(join(tmpdir(), "ee-expiry-"));
  });
  after(async () => {
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("2 s tokens refresh under 24 concurrent downloads for 5 s with no failed request", async () => {
    const pyHome = mkdtempSync(join(dir, "home-"));
    mkdirSync(join(pyHome, ".config", "earthengine"), { recursive: true });
    writeFileSync(
      join(pyHome, ".config", "earthengine", "credentials"),
      JSON.stringify({ refresh_token: REFRESH_TOKEN }),
    );
    const session = await connect({
      env: {
        HOME: pyHome,
        EE_PROJECT: emulator.project,
        EE_API_URL: emulator.url,
        EE_TOKEN_URI: `${emulator.url}/token`,
      },
      quiet: true,
    });
    try {
      const images = await scenesUntil(session, aoi, "2024-07-01");
      assert.ok(images.length >= 24, `${images.length} scenes`);
      const statusBefore = await emulator.status();
      const tokensBefore = statusBefore.stats.tokenRequests;
      const deadline = Date.now() + 5000;
      let downloads = 0;
      // 24 workers keep downloading until past two token lifetimes.
      await Promise.all(
        images.slice(0, 24).map(async (image, worker) => {
          for (let round = 0; Date.now() < deadline; round++) {
            const outDir = join(dir, `w${worker}-r${round}`);
            await downloadSnippet(session, image as never, { outDir, aoi, scale: 10 });
            downloads += 1;
          }
        }),
      );
      const status = await emulator.status();
      assert.ok(downloads >= 48, `${downloads} downloads`);
      const refreshed = status.stats.tokenRequests - tokensBefore;
      assert.ok(refreshed >= 2, `refreshed ${refreshed} times during 5 s of 2 s tokens`);
      assert.ok(refreshed <= 6, `one refresh per lifetime, not one per request (${refreshed})`);
      assert.equal(status.stats.byStatus["401"] ?? 0, 0, "no request was refused");
      // The official client follows the refresh too.
      await sleep(100);
      assert.ok((await scenesUntil(session, aoi, "2024-02-01")).length > 0);
    } finally {
      await session.close();
    }
  });

  /** A session whose only credential is `token` as EE_ACCESS_TOKEN, in a fresh HOME. */
  const connectWithRawToken = (token: string) =>
    connect({
      env: {
        HOME: mkdtempSync(join(dir, "home-")),
        EE_PROJECT: emulator.project,
        EE_API_URL: emulator.url,
        EE_ACCESS_TOKEN: token,
      },
      quiet: true,
    });

  it("a raw token that expires mid-run: the next download and search say what to do", async () => {
    const minted = await mintAccessToken(`${emulator.url}/token`, REFRESH_TOKEN);
    const session = await connectWithRawToken(minted.access_token);
    try {
      const search = () => scenesUntil(session, aoi, "2024-02-01");
      const images = await search();
      assert.ok(images.length > 0, "the token worked while fresh");
      await sleep(2100); // the emulator's 2 s tokens
      const explained = (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, /invalid authentication credentials/);
        assert.match(error.message, /EE_ACCESS_TOKEN is a raw access token/);
        assert.match(error.message, /cannot be refreshed/);
        assert.match(error.message, /EE_SERVICE_ACCOUNT_KEY/);
        assert.match(error.message, /fresh token.*rerun the Setup cell/);
        assert.ok(!error.message.includes(minted.access_token), "the token is never shown");
        return true;
      };
      await assert.rejects(
        downloadSnippet(session, images[0] as never, {
          outDir: mkdtempSync(join(dir, "out-")),
          aoi,
          scale: 10,
        }),
        (error: unknown) => {
          assert.ok(error instanceof AuthorizationError, String(error));
          assert.equal(error.status, 401);
          return explained(error);
        },
      );
      await assert.rejects(search(), explained);
    } finally {
      await session.close();
    }
  });

  it("an expired raw token fails with 401 and says it cannot be refreshed", async () => {
    const minted = await mintAccessToken(`${emulator.url}/token`, REFRESH_TOKEN);
    await sleep(2100);
    await assert.rejects(connectWithRawToken(minted.access_token), (error: unknown) => {
      assert.ok(error instanceof TokenRefusedError);
      assert.equal(error.status, 401);
      assert.match(error.message, /EE_ACCESS_TOKEN has expired/);
      assert.match(error.message, /cannot be refreshed/);
      assert.ok(!error.message.includes(minted.access_token));
      return true;
    });
  });
});
