/**
 * Finding credentials and turning them into a token provider. Order, first match wins (the
 * explicit .env settings before the ambient, machine-wide ones):
 *   1. EE_SERVICE_ACCOUNT_KEY   a service-account JSON key file
 *   2. EE_ACCESS_TOKEN          a raw access token (no refresh)
 *   3. GOOGLE_APPLICATION_CREDENTIALS   an ADC file (service account or authorized user)
 *   4. ~/.config/earthengine/credentials   the Python client's refresh token
 *   5. gcloud's application_default_credentials.json
 */

import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config";
import { CredentialsError } from "./errors";
import { issueServiceAccountToken, parseServiceAccountKey } from "./service-account";
import {
  type CredentialSource,
  RefreshingTokenProvider,
  type RefreshOptions,
  StaticTokenProvider,
  type TokenProvider,
} from "./token";
import { issueUserToken, parseAuthorizedUser, parseEarthEngineCredentials } from "./user";

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
  return undefined;
}

/** Reads a credentials file as a JSON object; messages name the file, never its contents. */
async function readJsonFile(path: string, label: string): Promise<Record<string, unknown>> {
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
  return json as Record<string, unknown>;
}

/** An ADC file may hold either kind of credential; anything else is named and refused. */
async function adcProvider(
  source: CredentialSource,
  path: string,
  config: Config,
  options: RefreshOptions,
): Promise<TokenProvider> {
  const json = await readJsonFile(path, source.label);
  if (json.type === "service_account") {
    const key = parseServiceAccountKey(json, `The ${source.label}`);
    return new RefreshingTokenProvider(
      source,
      (signal) => issueServiceAccountToken(key, source, signal),
      options,
    );
  }
  if (json.type === "authorized_user") {
    const credentials = parseAuthorizedUser(
      json,
      `The ${source.label}`,
      config.tokenUri,
      GCLOUD_LOGIN_FIX,
    );
    return new RefreshingTokenProvider(
      source,
      (signal) => issueUserToken(credentials, source, GCLOUD_LOGIN_FIX, signal),
      options,
    );
  }
  throw new CredentialsError(
    `The ${source.label} has type ${JSON.stringify(json.type ?? null)}; supported are ` +
      '"service_account" and "authorized_user": use a service-account key ' +
      "(EE_SERVICE_ACCOUNT_KEY) or `gcloud auth application-default login`.",
  );
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
  switch (source.kind) {
    case "service-account-key": {
      const json = await readJsonFile(source.path as string, source.label);
      const key = parseServiceAccountKey(json, `The ${source.label}`);
      return new RefreshingTokenProvider(
        source,
        (signal) => issueServiceAccountToken(key, source, signal),
        options,
      );
    }
    case "access-token": {
      if (!config.accessToken) throw new CredentialsError("EE_ACCESS_TOKEN is empty.");
      return new StaticTokenProvider(source, config.accessToken, options);
    }
    case "application-default":
    case "gcloud":
      return adcProvider(source, source.path as string, config, options);
    case "earthengine-credentials": {
      const json = await readJsonFile(source.path as string, source.label);
      const credentials = parseEarthEngineCredentials(json, `The ${source.label}`, config.tokenUri);
      return new RefreshingTokenProvider(
        source,
        (signal) => issueUserToken(credentials, source, EARTHENGINE_LOGIN_FIX, signal),
        options,
      );
    }
  }
}
