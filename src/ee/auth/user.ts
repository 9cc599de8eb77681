/**
 * User credentials: a long-lived refresh token exchanged for access tokens (the refresh_token
 * grant). Both gcloud's Application Default Credentials ("authorized_user") and the Python
 * Earth Engine client (~/.config/earthengine/credentials) store one.
 */
import { CredentialsError } from "./errors";
import { requestToken } from "./oauth";
import type { CredentialSource, IssuedToken } from "./token";

/**
 * The Python earthengine-api's installed-application OAuth client (ee/oauth.py CLIENT_ID and
 * CLIENT_SECRET). `earthengine authenticate` writes refresh tokens issued to this client,
 * often without naming it, so refreshing them needs these public values (an installed app's
 * "secret" is not confidential by design).
 */
export const EARTHENGINE_PYTHON_CLIENT_ID =
  "517222506229-vsmmajv00ul0bs7p89v5m89qs8eb9359.apps.googleusercontent.com";
export const EARTHENGINE_PYTHON_CLIENT_SECRET = "RUP0RZ6e0pPhDzsqIJ7KlNd1";

export interface RefreshTokenCredentials {
  refreshToken: string;
  clientId: string;
  clientSecret: string;
  tokenUri: string;
  /** Project the credentials bill quota to (quota_project_id / project), if the file names one. */
  quotaProject?: string;
}

function stringField(record: Record<string, unknown>, field: string): string | undefined {
  const value = record[field];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** Validates an "authorized_user" file (gcloud's ADC) without echoing its values. */
export function parseAuthorizedUser(
  json: Record<string, unknown>,
  where: string,
  tokenUri: string,
  fix: string,
): RefreshTokenCredentials {
  const missing = ["client_id", "client_secret", "refresh_token"].filter(
    (field) => stringField(json, field) === undefined,
  );
  if (missing.length > 0) {
    throw new CredentialsError(`${where} has no ${missing.join(", ")}: ${fix}`);
  }
  return {
    refreshToken: stringField(json, "refresh_token") as string,
    clientId: stringField(json, "client_id") as string,
    clientSecret: stringField(json, "client_secret") as string,
    tokenUri,
    quotaProject: stringField(json, "quota_project_id"),
  };
}

/** Validates the Python client's credentials file; client id/secret default to its own app. */
export function parseEarthEngineCredentials(
  json: Record<string, unknown>,
  where: string,
  tokenUri: string,
): RefreshTokenCredentials {
  const refreshToken = stringField(json, "refresh_token");
  if (refreshToken === undefined) {
    throw new CredentialsError(
      `${where} has no refresh_token: run \`earthengine authenticate\` (Python earthengine-api) ` +
        "again, or use another credential (see .env.example).",
    );
  }
  return {
    refreshToken,
    clientId: stringField(json, "client_id") ?? EARTHENGINE_PYTHON_CLIENT_ID,
    clientSecret: stringField(json, "client_secret") ?? EARTHENGINE_PYTHON_CLIENT_SECRET,
    tokenUri,
    quotaProject: stringField(json, "project"),
  };
}

export function issueUserToken(
  credentials: RefreshTokenCredentials,
  source: CredentialSource,
  fixWhenRefused: string,
  signal: AbortSignal,
): Promise<IssuedToken> {
  return requestToken({
    tokenUri: credentials.tokenUri,
    form: {
      grant_type: "refresh_token",
      refresh_token: credentials.refreshToken,
      client_id: credentials.clientId,
      client_secret: credentials.clientSecret,
    },
    label: source.label,
    fixWhenRefused,
    signal,
  });
}
