/**
 * Finding credentials and handing them to google-auth-library. Order, first match wins (the
 * explicit .env settings before the ambient, machine-wide ones):
 *   1. EE_SERVICE_ACCOUNT_KEY   a service-account JSON key: a file path, or the JSON itself
 *   2. EE_ACCESS_TOKEN          a raw access token (no refresh)
 *   3. GOOGLE_APPLICATION_CREDENTIALS   an ADC file of any kind
 *   4. ~/.config/earthengine/credentials   the Python client's refresh token
 *   5. gcloud's application_default_credentials.json (any ADC kind)
 *   6. the metadata server (GCE_METADATA_HOST, or running on Google Cloud)
 * What is ours: this order, reading files with errors that name the file and never quote
 * it, and refusing to send secrets anywhere but HTTPS or loopback. Tokens come from the library.
 */
import { createPrivateKey } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type AuthClient,
  Compute,
  ExternalAccountClient,
  Impersonated,
  JWT,
  UserRefreshClient,
} from "google-auth-library";
import type { Config } from "../config";
import { CredentialsError } from "./errors";
import {
  type CredentialSource,
  LibraryTokenProvider,
  type RefreshOptions,
  StaticTokenProvider,
  type TokenProvider,
} from "./token";

/** Earth Engine's own scope plus cloud-platform, which Cloud-project-based access needs. */
export const EARTH_ENGINE_SCOPES = [
  "https://www.googleapis.com/auth/earthengine",
  "https://www.googleapis.com/auth/cloud-platform",
];

/** The token endpoint google-auth-library sends service-account assertions to. */
const GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token";

/**
 * The Python earthengine-api's installed-application OAuth client (ee/oauth.py CLIENT_ID and
 * CLIENT_SECRET). `earthengine authenticate` writes refresh tokens issued to this client,
 * often without naming it, so refreshing them needs these public values (an installed app's
 * "secret" is not confidential by design).
 */
export const EARTHENGINE_PYTHON_CLIENT_ID =
  "517222506229-vsmmajv00ul0bs7p89v5m89qs8eb9359.apps.googleusercontent.com";
export const EARTHENGINE_PYTHON_CLIENT_SECRET = "RUP0RZ6e0pPhDzsqIJ7KlNd1";

/** Fix for refused or broken gcloud user credentials. */
export const GCLOUD_LOGIN_FIX =
  "run `gcloud auth application-default login --scopes=https://www.googleapis.com/auth/" +
  "earthengine,https://www.googleapis.com/auth/cloud-platform` again (the refresh token was " +
  "revoked or expired), or use another credential (see .env.example).";
/** Fix for refused or broken Python-client credentials. */
export const EARTHENGINE_LOGIN_FIX =
  "run `earthengine authenticate` (Python earthengine-api) again (the refresh token was " +
  "revoked or expired), or use another credential (see .env.example).";

export function earthEngineCredentialsPath(config: Config): string {
  return join(config.home, ".config", "earthengine", "credentials");
}

export function gcloudAdcPath(config: Config): string {
  return join(config.gcloudConfigDir, "application_default_credentials.json");
}

/** The credential that connect() would use, or undefined when none is configured. */
export function findCredentials(config: Config): CredentialSource | undefined {
  if (config.serviceAccountKeyJson) {
    return {
      kind: "service-account-key",
      label: "service account key JSON in EE_SERVICE_ACCOUNT_KEY",
    };
  }
  if (config.serviceAccountKeyFile) {
    return {
      kind: "service-account-key",
      label: `service account key ${config.serviceAccountKeyFile} (EE_SERVICE_ACCOUNT_KEY)`,
      path: config.serviceAccountKeyFile,
    };
  }
  if (config.accessToken) {
    return { kind: "access-token", label: "access token in EE_ACCESS_TOKEN" };
  }
  if (config.applicationCredentialsFile) {
    return {
      kind: "application-default",
      label:
        `Application Default Credentials ${config.applicationCredentialsFile} ` +
        "(GOOGLE_APPLICATION_CREDENTIALS)",
      path: config.applicationCredentialsFile,
    };
  }
  const python = earthEngineCredentialsPath(config);
  if (existsSync(python)) {
    return {
      kind: "earthengine-credentials",
      label: `Python client credentials ${python}`,
      path: python,
    };
  }
  const gcloud = gcloudAdcPath(config);
  if (existsSync(gcloud)) {
    return {
      kind: "gcloud",
      label: `gcloud Application Default Credentials ${gcloud}`,
      path: gcloud,
    };
  }
  if (config.metadataServer) {
    return {
      kind: "metadata-server",
      label: `the metadata server's service account (${config.metadataServer})`,
    };
  }
  return undefined;
}

type Json = Record<string, unknown>;

function parseJson(text: string, label: string): Json {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // JSON.parse's own message quotes the text around the error, which may be key material.
    const position = /position (\d+)/.exec(error instanceof Error ? error.message : "")?.[1];
    throw new CredentialsError(
      `The ${label} is not valid JSON${position ? ` (error at character ${position})` : ""}: ` +
        "it may be truncated or edited; download or create it again.",
    );
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new CredentialsError(`The ${label} is not a JSON object: download or create it again.`);
  }
  return json as Json;
}

/** Reads a credentials file as a JSON object; messages name the file, never its contents. */
async function readJsonFile(path: string, label: string): Promise<Json> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const what =
      code === "ENOENT"
        ? "does not exist"
        : code === "EACCES" || code === "EPERM"
          ? "cannot be read (permission denied)"
          : code === "EISDIR"
            ? "is a directory, not a file"
            : `cannot be read (${code ?? "error"})`;
    throw new CredentialsError(
      `The ${label} ${what}: fix the path (relative paths in .env are from the project root) ` +
        "or remove the setting.",
    );
  }
  return parseJson(text, label);
}

function text(json: Json, field: string): string | undefined {
  const value = json[field];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * Credentials carry secrets in both directions, so every endpoint a file names must be HTTPS;
 * plain http is accepted only on loopback, where tests and the emulator run.
 */
export function checkEndpoint(value: string, what: string, label: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CredentialsError(`The ${what} of ${label} is not a URL: fix it or create it again.`);
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new CredentialsError(
      `The ${what} ${url.origin} of ${label} is not HTTPS: credentials are only sent over ` +
        "HTTPS (plain http only to 127.0.0.1). Fix token_uri / EE_TOKEN_URI.",
    );
  }
  return url;
}

const SERVICE_ACCOUNT_FIX = "download a new JSON key (IAM > Service accounts > Keys).";

function serviceAccountClient(json: Json, label: string): AuthClient {
  const missing = ["client_email", "private_key"].filter((field) => !text(json, field));
  if (missing.length > 0) {
    throw new CredentialsError(
      `The ${label} has no ${missing.join(" or ")}: the file is incomplete; ${SERVICE_ACCOUNT_FIX}`,
    );
  }
  let keyType: string | undefined;
  try {
    keyType = createPrivateKey(json.private_key as string).asymmetricKeyType;
  } catch {
    throw new CredentialsError(
      `The ${label}: private_key is not a readable PEM private key (damaged or edited?): ` +
        SERVICE_ACCOUNT_FIX,
    );
  }
  if (keyType !== "rsa") {
    throw new CredentialsError(
      `The ${label}: private_key is a ${keyType} key; Google service-account keys are RSA: ` +
        SERVICE_ACCOUNT_FIX,
    );
  }
  const client = new JWT({
    email: json.client_email as string,
    key: json.private_key as string,
    keyId: text(json, "private_key_id"),
    scopes: EARTH_ENGINE_SCOPES,
    quotaProjectId: text(json, "quota_project_id"),
  });
  // The library always posts assertions to Google's endpoint; a key naming another
  // token_uri (a test server, a private endpoint) gets its requests sent there instead.
  const tokenUri = text(json, "token_uri");
  if (tokenUri && tokenUri !== GOOGLE_TOKEN_URI) {
    const target = checkEndpoint(tokenUri, "token endpoint", label).href;
    client.transporter.interceptors.request.add({
      resolved: async (request) => {
        if (String(request.url) === GOOGLE_TOKEN_URI) request.url = new URL(target);
        return request;
      },
    });
  }
  return client;
}

function userClient(
  json: Json,
  label: string,
  tokenUri: string,
  fix: string,
  defaults?: { clientId: string; clientSecret: string },
): AuthClient {
  const clientId = text(json, "client_id") ?? defaults?.clientId;
  const clientSecret = text(json, "client_secret") ?? defaults?.clientSecret;
  const refreshToken = text(json, "refresh_token");
  const missing = Object.entries({
    client_id: clientId,
    client_secret: clientSecret,
    refresh_token: refreshToken,
  })
    .filter(([, value]) => !value)
    .map(([name]) => name);
  if (missing.length > 0)
    throw new CredentialsError(`The ${label} has no ${missing.join(", ")}: ${fix}`);
  checkEndpoint(tokenUri, "token endpoint", label);
  return new UserRefreshClient({
    clientId,
    clientSecret,
    refreshToken,
    endpoints: { oauth2TokenUrl: tokenUri },
    // Not sent to Earth Engine (EE_PROJECT is); the library sends it when this client is
    // an impersonation's source, as its own ADC loader does.
    quotaProjectId: text(json, "quota_project_id") ?? text(json, "project"),
  });
}

/** Workload identity federation: the library reads the subject token and calls STS itself. */
function externalClient(json: Json, label: string): AuthClient {
  const tokenUrl = text(json, "token_url");
  if (!text(json, "audience") || !tokenUrl || typeof json.credential_source !== "object") {
    throw new CredentialsError(
      `The ${label} (external_account) needs audience, token_url and credential_source: ` +
        "create it again with `gcloud iam workload-identity-pools create-cred-config`.",
    );
  }
  checkEndpoint(tokenUrl, "token_url", label);
  const impersonation = text(json, "service_account_impersonation_url");
  if (impersonation) checkEndpoint(impersonation, "service_account_impersonation_url", label);
  // The library picks the kind (file, URL, executable, AWS); the endpoints were checked above.
  const options = { ...json, scopes: EARTH_ENGINE_SCOPES } as never;
  return withoutUnvalidatedWarning(() => ExternalAccountClient.fromJSON(options) as AuthClient);
}

function impersonatedClient(json: Json, label: string, config: Config): AuthClient {
  const url = text(json, "service_account_impersonation_url");
  const target = url ? /([^/]+):generateAccessToken$/.exec(url)?.[1] : undefined;
  const source = json.source_credentials;
  if (!url || !target || typeof source !== "object" || source === null) {
    throw new CredentialsError(
      `The ${label} (impersonated_service_account) needs source_credentials and a ` +
        "service_account_impersonation_url ending in :generateAccessToken: create it again " +
        "with `gcloud auth application-default login --impersonate-service-account=...`.",
    );
  }
  const endpoint = checkEndpoint(url, "service_account_impersonation_url", label);
  const sourceClient = clientForJson(source as Json, `${label} (source_credentials)`, config);
  // The library takes the target from this URL but always calls Google's IAM host; use the
  // file's host so that the file alone says where its requests go.
  return withoutUnvalidatedWarning(
    () =>
      new Impersonated({
        sourceClient: sourceClient as never,
        targetPrincipal: decodeURIComponent(target),
        targetScopes: EARTH_ENGINE_SCOPES,
        delegates: Array.isArray(json.delegates) ? (json.delegates as string[]) : [],
        endpoint: endpoint.origin,
      }),
  );
}

/**
 * Impersonated's constructor warns, on every connect, that the configuration's URLs are not
 * validated; checkEndpoint validated them, so silence it the way the library's own ADC loader
 * does (an internal helper: without it the warning is merely printed).
 */
function withoutUnvalidatedWarning<T>(create: () => T): T {
  let suppress: ((fn: () => T) => T) | undefined;
  try {
    suppress = (
      require("google-auth-library/build/src/util") as { suppressAdcWarning?: typeof suppress }
    ).suppressAdcWarning;
  } catch {
    suppress = undefined;
  }
  return suppress ? suppress(create) : create();
}

const ADC_TYPES = [
  "service_account",
  "authorized_user",
  "external_account",
  "impersonated_service_account",
];

/** An ADC file may hold any of Google's credential kinds; anything else is named and refused. */
function clientForJson(json: Json, label: string, config: Config): AuthClient {
  switch (json.type) {
    case "service_account":
      return serviceAccountClient(json, label);
    case "authorized_user":
      return userClient(json, label, config.tokenUri, GCLOUD_LOGIN_FIX);
    case "external_account":
      return externalClient(json, label);
    case "impersonated_service_account":
      return impersonatedClient(json, label, config);
  }
  throw new CredentialsError(
    `The ${label} has type ${JSON.stringify(json.type ?? null)}; supported are ` +
      `${ADC_TYPES.map((type) => `"${type}"`).join(", ")}: use a service-account key ` +
      "(EE_SERVICE_ACCOUNT_KEY) or `gcloud auth application-default login`.",
  );
}

/** Values in a credential file that must never appear in a message. */
function secretsOf(json: Json): string[] {
  return ["private_key", "client_secret", "refresh_token"]
    .map((field) => text(json, field))
    .filter((value): value is string => value !== undefined);
}

/**
 * Reads and validates the credential and returns a provider. No token is requested yet:
 * the first getToken() does that (connect() calls it at once, so bad credentials fail early).
 */
export async function createTokenProvider(
  source: CredentialSource,
  config: Config,
  options: RefreshOptions = {},
): Promise<TokenProvider> {
  const provider = (client: AuthClient, json: Json, fixWhenRefused?: string) =>
    new LibraryTokenProvider(source, client, {
      ...options,
      fixWhenRefused,
      secrets: [...(options.secrets ?? []), ...secretsOf(json)],
    });
  switch (source.kind) {
    case "service-account-key": {
      const json = config.serviceAccountKeyJson
        ? parseJson(config.serviceAccountKeyJson, source.label)
        : await readJsonFile(source.path as string, source.label);
      if (json.type !== "service_account") {
        throw new CredentialsError(
          `The ${source.label} has type ${JSON.stringify(json.type ?? null)}, not ` +
            '"service_account": point EE_SERVICE_ACCOUNT_KEY at a service account\'s JSON key ' +
            "(IAM > Service accounts > Keys).",
        );
      }
      return provider(
        serviceAccountClient(json, source.label),
        json,
        `check that the service account ${String(json.client_email)} and this key still ` +
          "exist and are enabled (IAM > Service accounts), that this computer's clock is " +
          "right, and create a new key if the old one was deleted.",
      );
    }
    case "access-token": {
      if (!config.accessToken) throw new CredentialsError("EE_ACCESS_TOKEN is empty.");
      return new StaticTokenProvider(source, config.accessToken, options);
    }
    case "application-default":
    case "gcloud": {
      const json = await readJsonFile(source.path as string, source.label);
      const fix = json.type === "authorized_user" ? GCLOUD_LOGIN_FIX : undefined;
      return provider(clientForJson(json, source.label, config), json, fix);
    }
    case "earthengine-credentials": {
      const json = await readJsonFile(source.path as string, source.label);
      const client = userClient(json, source.label, config.tokenUri, EARTHENGINE_LOGIN_FIX, {
        clientId: EARTHENGINE_PYTHON_CLIENT_ID,
        clientSecret: EARTHENGINE_PYTHON_CLIENT_SECRET,
      });
      return provider(client, json, EARTHENGINE_LOGIN_FIX);
    }
    case "metadata-server":
      if (
        config.metadataServer !== "metadata.google.internal" &&
        process.env.GCE_METADATA_HOST !== config.metadataServer
      ) {
        throw new CredentialsError(
          "GCE_METADATA_HOST is set in .env, but google-auth-library reads it from the process " +
            "environment only: export it in the shell that starts Jupyter, or remove it.",
        );
      }
      return provider(
        new Compute({ scopes: EARTH_ENGINE_SCOPES }),
        {},
        "give this machine's service account the cloud-platform scope and Earth Engine access " +
          "in EE_PROJECT, or use another credential (see .env.example).",
      );
  }
}
