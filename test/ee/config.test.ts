import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, describe, it } from "node:test";
import {
  ConfigError,
  EARTH_ENGINE_HIGH_VOLUME_URL,
  EARTH_ENGINE_URL,
  findProjectRoot,
  GOOGLE_TOKEN_URI,
  loadEnv,
  parseConfig,
} from "../../src/ee/config";

const ROOT = resolve(__dirname, "..", "..");

describe("project root and .env", () => {
  const dir = mkdtempSync(join(tmpdir(), "ee-env-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("finds the package root from any directory inside it", () => {
    assert.equal(findProjectRoot(), ROOT);
    assert.equal(findProjectRoot(join(ROOT, "notebooks")), ROOT);
    assert.equal(JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).name, "ee-snippets");
  });

  it("overlays the environment on the .env file without changing process.env", () => {
    const file = join(dir, "test.env");
    writeFileSync(file, "EE_PROJECT=from-file\nEE_HIGH_VOLUME=1\n# comment\nEE_BACKEND=emulator\n");
    const loaded = loadEnv({ env: { EE_PROJECT: "from-shell", HOME: dir }, envFile: file });
    assert.equal(loaded.env.EE_PROJECT, "from-shell");
    assert.equal(loaded.env.EE_HIGH_VOLUME, "1");
    assert.equal(loaded.envFile, file);
    assert.equal(loaded.root, ROOT);
    const fromProcess = loadEnv({ envFile: file });
    assert.equal(fromProcess.env.EE_BACKEND ?? "", process.env.EE_BACKEND ?? "emulator");
    assert.notEqual(process.env.EE_PROJECT, "from-file");
  });

  it("does not read the developer's .env when a test passes its own env", () => {
    const loaded = loadEnv({ env: { HOME: dir } });
    assert.deepEqual(loaded.env, { HOME: dir });
    assert.equal(loaded.envFile, undefined);
  });

  it("treats a named but missing settings file as empty, and says which", () => {
    const missing = join(dir, "nope.env");
    const loaded = loadEnv({ env: { HOME: dir }, envFile: missing });
    assert.deepEqual(loaded.env, { HOME: dir });
    assert.equal(loaded.missingEnvFile, missing);
  });

  it("refuses a settings file it cannot read", () => {
    assert.throws(
      () => loadEnv({ envFile: dir }),
      (error: unknown) => error instanceof ConfigError && error.message.includes(dir),
    );
  });
});

describe("parseConfig", () => {
  const home = mkdtempSync(join(tmpdir(), "ee-cfg-"));
  after(() => rmSync(home, { recursive: true, force: true }));

  it("defaults to Earth Engine's URL and Google's token endpoint", () => {
    const config = parseConfig({ HOME: home }, ROOT);
    assert.equal(config.apiUrl, EARTH_ENGINE_URL);
    assert.equal(config.apiUrlSource, "default");
    assert.equal(config.tokenUri, GOOGLE_TOKEN_URI);
    assert.equal(config.backend, undefined);
    assert.equal(config.gcloudConfigDir, join(home, ".config", "gcloud"));
  });

  it("uses the high-volume endpoint with EE_HIGH_VOLUME=1, and EE_API_URL over both", () => {
    assert.equal(
      parseConfig({ HOME: home, EE_HIGH_VOLUME: "1" }).apiUrl,
      EARTH_ENGINE_HIGH_VOLUME_URL,
    );
    assert.equal(
      parseConfig({ HOME: home, EE_HIGH_VOLUME: "true" }).apiUrlSource,
      "EE_HIGH_VOLUME",
    );
    assert.equal(parseConfig({ HOME: home, EE_HIGH_VOLUME: "0" }).apiUrl, EARTH_ENGINE_URL);
    const both = parseConfig({
      HOME: home,
      EE_HIGH_VOLUME: "1",
      EE_API_URL: "http://127.0.0.1:8787//",
    });
    assert.equal(both.apiUrl, "http://127.0.0.1:8787");
    assert.equal(both.apiUrlSource, "EE_API_URL");
  });

  it("expands ~ in credential paths with HOME and resolves relative ones from the root", () => {
    const config = parseConfig(
      {
        HOME: home,
        EE_SERVICE_ACCOUNT_KEY: "~/keys/sa.json",
        GOOGLE_APPLICATION_CREDENTIALS: "adc.json",
      },
      "/project",
    );
    assert.equal(config.serviceAccountKeyFile, join(home, "keys", "sa.json"));
    assert.equal(config.applicationCredentialsFile, resolve("/project", "adc.json"));
  });

  it("reads limiter defaults", () => {
    const config = parseConfig({ HOME: home, EE_MAX_IN_FLIGHT: "8", EE_MAX_PER_SECOND: "20" });
    assert.equal(config.maxInFlight, 8);
    assert.equal(config.maxPerSecond, 20);
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    [
      "EE_BACKEND",
      { EE_BACKEND: "cloud" },
      /EE_BACKEND="cloud" is not a backend: use EE_BACKEND=emulator/,
    ],
    ["EE_HIGH_VOLUME", { EE_HIGH_VOLUME: "maybe" }, /EE_HIGH_VOLUME=1 or EE_HIGH_VOLUME=0/],
    [
      "EE_API_URL",
      { EE_API_URL: "earthengine.googleapis.com" },
      /EE_API_URL="earthengine.googleapis.com" is not a URL/,
    ],
    ["EE_API_URL scheme", { EE_API_URL: "ftp://x" }, /must be an http\(s\) URL/],
    ["EE_PROJECT", { EE_PROJECT: "My Project" }, /not its display name/],
    ["EE_MAX_IN_FLIGHT", { EE_MAX_IN_FLIGHT: "0" }, /EE_MAX_IN_FLIGHT="0" must be a whole number/],
    ["EE_TOKEN_URI", { EE_TOKEN_URI: "nope" }, /EE_TOKEN_URI="nope" is not a URL/],
  ];
  for (const [name, env, message] of bad) {
    it(`names the fix for a bad ${name}`, () => {
      assert.throws(
        () => parseConfig({ HOME: home, ...env }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});
