/**
 * Settings from the environment and the project's .env file, validated once, with errors that
 * name the variable to fix. Nothing here touches the network or prints anything.
 *
 * .env is read from the project root (found from this file's location), not from the current
 * directory: a notebook kernel runs in notebooks/, a test runner in the root, and both must
 * see the same settings.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parse as parseDotenv } from "dotenv";

export const PACKAGE_NAME = "ee-snippets";

/** Earth Engine's REST root. */
export const EARTH_ENGINE_URL = "https://earthengine.googleapis.com";
/** Meant for many small automated requests (e.g. tiled downloads); same API, separate quota pool. */
export const EARTH_ENGINE_HIGH_VOLUME_URL = "https://earthengine-highvolume.googleapis.com";
/** Google's OAuth 2.0 token endpoint, used to refresh user (refresh-token) credentials. */
export const GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token";

export type BackendKind = "emulator" | "earthengine";

/** A setting is missing or malformed; the message names the variable and the fix. */
export class ConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConfigError";
  }
}

export type Env = Record<string, string | undefined>;

export interface LoadEnvOptions {
  /** Variables to use instead of process.env (tests pass their own). */
  env?: Env;
  /** A .env file to read instead of `<project root>/.env`; relative paths are from the root. */
  envFile?: string;
}

export interface LoadedEnv {
  /** Variables from the environment, over those from the .env file. */
  env: Env;
  /** The .env file read, when one existed. */
  envFile?: string;
  /** An envFile that was named but does not exist (treated as empty, as dotenv does). */
  missingEnvFile?: string;
  root: string;
}

let cachedRoot: string | undefined;

/** The directory holding this project's package.json, whatever the working directory is. */
export function findProjectRoot(start: string = __dirname): string {
  if (start === __dirname && cachedRoot) return cachedRoot;
  for (const from of [start, process.cwd()]) {
    let dir = resolve(from);
    for (;;) {
      if (isProjectRoot(dir)) {
        if (start === __dirname) cachedRoot = dir;
        return dir;
      }
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return process.cwd();
}

function isProjectRoot(dir: string): boolean {
  const manifest = join(dir, "package.json");
  if (!existsSync(manifest)) return false;
  try {
    return (JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown }).name === PACKAGE_NAME;
  } catch {
    return false;
  }
}

/**
 * Reads .env (without changing process.env, so edits to .env apply on the next connect() in
 * the same kernel) and overlays the environment: a variable set in the shell wins over .env,
 * as with dotenv's default.
 */
export function loadEnv(options: LoadEnvOptions = {}): LoadedEnv {
  const root = findProjectRoot();
  const base = options.env ?? process.env;
  const explicit = options.envFile !== undefined;
  // Tests that pass their own env must not pick up the developer's real .env.
  if (options.env && !explicit) return { env: { ...base }, root };
  const path = resolve(root, options.envFile ?? ".env");
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return { env: { ...base }, root, missingEnvFile: explicit ? path : undefined };
    }
    throw new ConfigError(
      `Cannot read the settings file ${path} (${(error as NodeJS.ErrnoException).code ?? "error"}): ` +
        "check its permissions, or the envFile option.",
    );
  }
  const fromFile = parseDotenv(text);
  const env: Env = { ...fromFile };
  for (const [name, value] of Object.entries(base)) {
    if (value !== undefined) env[name] = value;
  }
  return { env, envFile: path, root };
}

export interface Config {
  /** EE_BACKEND when set; otherwise the session decides from project and credentials. */
  backend?: BackendKind;
  /** EE_PROJECT: the Cloud project registered for Earth Engine. */
  project?: string;
  /** REST root for Earth Engine, without a trailing slash. */
  apiUrl: string;
  /** Whether apiUrl came from EE_API_URL, EE_HIGH_VOLUME or the default. */
  apiUrlSource: "EE_API_URL" | "EE_HIGH_VOLUME" | "default";
  /** EE_SERVICE_ACCOUNT_KEY, resolved to an absolute path (when it is a path). */
  serviceAccountKeyFile?: string;
  /** EE_SERVICE_ACCOUNT_KEY when it holds the key's JSON itself (e.g. from a secret store). */
  serviceAccountKeyJson?: string;
  /** EE_ACCESS_TOKEN: a raw OAuth access token, used as is (it cannot be refreshed). */
  accessToken?: string;
  /** GOOGLE_APPLICATION_CREDENTIALS, resolved to an absolute path. */
  applicationCredentialsFile?: string;
  /**
   * The metadata server to take tokens from: GCE_METADATA_HOST (which google-auth-library
   * reads from the process environment), or Google's own when running on Google Cloud.
   */
  metadataServer?: string;
  /** Token endpoint for refresh-token credentials (EE_TOKEN_URI; tests point it at a local server). */
  tokenUri: string;
  /** The home directory credentials files are looked up under. */
  home: string;
  /** gcloud's configuration directory (CLOUDSDK_CONFIG, else the platform default). */
  gcloudConfigDir: string;
  /** EE_MAX_IN_FLIGHT / EE_MAX_PER_SECOND: defaults for the session's request limiter. */
  maxInFlight?: number;
  maxPerSecond?: number;
  /** Project root; relative paths in .env are taken from here. */
  root: string;
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** Strips the trailing slash the client's path building breaks on, after checking the URL. */
export function normalizeApiUrl(value: string, variable: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      `${variable}="${value}" is not a URL: use e.g. ${EARTH_ENGINE_URL} (no path), or remove it.`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new ConfigError(`${variable} must be an http(s) URL, not ${url.protocol}//...`);
  }
  if (url.search || url.hash) {
    throw new ConfigError(`${variable} must not have a query or fragment: use just the REST root.`);
  }
  return value.trim().replace(/\/+$/, "");
}

function parseFlag(env: Env, name: string): boolean {
  const value = nonEmpty(env[name])?.toLowerCase();
  if (value === undefined || ["0", "false", "no", "off"].includes(value)) return false;
  if (["1", "true", "yes", "on"].includes(value)) return true;
  throw new ConfigError(
    `${name}="${env[name]}" is not a yes/no value: use ${name}=1 or ${name}=0.`,
  );
}

function parsePositiveInteger(env: Env, name: string): number | undefined {
  const value = nonEmpty(env[name]);
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new ConfigError(`${name}="${value}" must be a whole number of at least 1.`);
  }
  return number;
}

/** Expands "~/" with the configured home and makes relative paths relative to the root. */
export function resolvePath(path: string, home: string, root: string): string {
  if (path === "~") return home;
  if (path.startsWith("~/") || path.startsWith("~\\")) return join(home, path.slice(2));
  return isAbsolute(path) ? path : resolve(root, path);
}

/** Environment variables Cloud Run and Cloud Functions set in every container. */
const GOOGLE_CLOUD_RUNTIME_VARIABLES = ["K_SERVICE", "CLOUD_RUN_JOB", "FUNCTION_TARGET"];

/**
 * GCE_METADATA_HOST when set; else Google's metadata server when the machine says it runs on
 * Google Cloud (its BIOS names Google: Compute Engine, Vertex AI Workbench, Colab Enterprise;
 * or Cloud Run's variables). Local reads only: a laptop never waits for a network probe.
 * METADATA_SERVER_DETECTION=none (google-auth-library's switch) turns detection off.
 */
function metadataServer(env: Env): string | undefined {
  const host = nonEmpty(env.GCE_METADATA_HOST);
  if (host) return host;
  if (nonEmpty(env.METADATA_SERVER_DETECTION)?.toLowerCase() === "none") return undefined;
  if (GOOGLE_CLOUD_RUNTIME_VARIABLES.some((name) => nonEmpty(env[name]))) {
    return "metadata.google.internal";
  }
  try {
    if (/Google/.test(readFileSync("/sys/class/dmi/id/bios_vendor", "utf8"))) {
      return "metadata.google.internal";
    }
  } catch {
    // Not Linux, or no DMI information: not a Google Cloud VM as far as we can tell.
  }
  return undefined;
}

/** Validates the variables; reads no files but the BIOS vendor (credentials are read by src/ee/auth). */
export function parseConfig(env: Env, root: string = findProjectRoot()): Config {
  let backend: BackendKind | undefined;
  const backendValue = nonEmpty(env.EE_BACKEND)?.toLowerCase();
  if (backendValue === "emulator" || backendValue === "earthengine") backend = backendValue;
  else if (backendValue !== undefined) {
    throw new ConfigError(
      `EE_BACKEND="${env.EE_BACKEND}" is not a backend: use EE_BACKEND=emulator or ` +
        "EE_BACKEND=earthengine, or leave it unset to choose from EE_PROJECT and credentials.",
    );
  }

  const project = nonEmpty(env.EE_PROJECT);
  if (project !== undefined && !/^[a-z0-9][a-z0-9-:.]*[a-z0-9]$/.test(project)) {
    throw new ConfigError(
      `EE_PROJECT="${project}" does not look like a Cloud project id (lowercase letters, digits ` +
        "and hyphens, e.g. my-ee-project): set it to the project id, not its display name.",
    );
  }

  const highVolume = parseFlag(env, "EE_HIGH_VOLUME");
  const explicitUrl = nonEmpty(env.EE_API_URL);
  let apiUrl = EARTH_ENGINE_URL;
  let apiUrlSource: Config["apiUrlSource"] = "default";
  if (explicitUrl !== undefined) {
    apiUrl = normalizeApiUrl(explicitUrl, "EE_API_URL");
    apiUrlSource = "EE_API_URL";
  } else if (highVolume) {
    apiUrl = EARTH_ENGINE_HIGH_VOLUME_URL;
    apiUrlSource = "EE_HIGH_VOLUME";
  }

  const tokenUriValue = nonEmpty(env.EE_TOKEN_URI);
  const tokenUri =
    tokenUriValue === undefined ? GOOGLE_TOKEN_URI : normalizeApiUrl(tokenUriValue, "EE_TOKEN_URI");

  const home = nonEmpty(env.HOME) ?? nonEmpty(env.USERPROFILE) ?? homedir();
  const gcloudConfigValue = nonEmpty(env.CLOUDSDK_CONFIG);
  const appData = nonEmpty(env.APPDATA);
  const gcloudConfigDir = gcloudConfigValue
    ? resolvePath(gcloudConfigValue, home, root)
    : process.platform === "win32" && appData
      ? join(appData, "gcloud")
      : join(home, ".config", "gcloud");

  const keyValue = nonEmpty(env.EE_SERVICE_ACCOUNT_KEY);
  // A key's JSON starts with "{"; no sensible path does.
  const keyJson = keyValue?.startsWith("{") ? keyValue : undefined;
  const keyFile = keyJson ? undefined : keyValue;
  const adcFile = nonEmpty(env.GOOGLE_APPLICATION_CREDENTIALS);
  const config: Config = {
    backend,
    project,
    apiUrl,
    apiUrlSource,
    serviceAccountKeyFile: keyFile ? resolvePath(keyFile, home, root) : undefined,
    serviceAccountKeyJson: keyJson,
    accessToken: nonEmpty(env.EE_ACCESS_TOKEN),
    applicationCredentialsFile: adcFile ? resolvePath(adcFile, home, root) : undefined,
    metadataServer: metadataServer(env),
    tokenUri,
    home,
    gcloudConfigDir,
    maxInFlight: parsePositiveInteger(env, "EE_MAX_IN_FLIGHT"),
    maxPerSecond: parsePositiveInteger(env, "EE_MAX_PER_SECOND"),
    root,
  };
  return config;
}
