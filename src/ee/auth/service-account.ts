/**
 * Service-account keys: the JSON key file Google Cloud issues, exchanged for access tokens
 * with a signed JWT (the jwt-bearer grant, RFC 7523), signed locally with node:crypto.
 */
import { createPrivateKey, type KeyObject, sign } from "node:crypto";
import { CredentialsError } from "./errors";
import { requestToken } from "./oauth";
import type { CredentialSource, IssuedToken } from "./token";

/** Earth Engine's own scope plus cloud-platform, which Cloud-project-based access needs. */
export const EARTH_ENGINE_SCOPES = [
  "https://www.googleapis.com/auth/earthengine",
  "https://www.googleapis.com/auth/cloud-platform",
];

const DEFAULT_SERVICE_ACCOUNT_TOKEN_URI = "https://oauth2.googleapis.com/token";
/** Google accepts assertions valid for at most an hour. */
const ASSERTION_LIFETIME_SECONDS = 3600;

export interface ServiceAccountKey {
  clientEmail: string;
  tokenUri: string;
  privateKeyId?: string;
  /** Parsed key; a KeyObject does not print its material when inspected. */
  privateKey: KeyObject;
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

/**
 * Validates a parsed key file. `where` names the file in messages; the key's contents never
 * appear in them.
 */
export function parseServiceAccountKey(json: unknown, where: string): ServiceAccountKey {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new CredentialsError(`${where} is not a JSON object: download a new JSON key.`);
  }
  const key = json as Record<string, unknown>;
  if (key.type !== "service_account") {
    throw new CredentialsError(
      `${where} has type ${JSON.stringify(key.type ?? null)}, not "service_account": point ` +
        "EE_SERVICE_ACCOUNT_KEY at a service account's JSON key (IAM > Service accounts > Keys).",
    );
  }
  const missing = ["client_email", "private_key"].filter(
    (field) => typeof key[field] !== "string" || key[field] === "",
  );
  if (missing.length > 0) {
    throw new CredentialsError(
      `${where} has no ${missing.join(" or ")}: the file is incomplete; download a new JSON key.`,
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key.private_key as string);
  } catch {
    throw new CredentialsError(
      `${where}: private_key is not a readable PEM private key (damaged or edited?): ` +
        "download a new JSON key.",
    );
  }
  if (privateKey.asymmetricKeyType !== "rsa") {
    throw new CredentialsError(
      `${where}: private_key is a ${privateKey.asymmetricKeyType} key; Google service-account ` +
        "keys are RSA: download a new JSON key.",
    );
  }
  const tokenUri =
    typeof key.token_uri === "string" && key.token_uri !== ""
      ? key.token_uri
      : DEFAULT_SERVICE_ACCOUNT_TOKEN_URI;
  return {
    clientEmail: key.client_email as string,
    tokenUri,
    privateKeyId: typeof key.private_key_id === "string" ? key.private_key_id : undefined,
    privateKey,
  };
}

/** A signed RS256 JWT asserting the service account's identity to its token endpoint. */
export function signAssertion(
  key: ServiceAccountKey,
  nowSeconds: number = Math.floor(Date.now() / 1000),
  scopes: readonly string[] = EARTH_ENGINE_SCOPES,
): string {
  const header = {
    alg: "RS256",
    typ: "JWT",
    ...(key.privateKeyId ? { kid: key.privateKeyId } : {}),
  };
  const claims = {
    iss: key.clientEmail,
    scope: scopes.join(" "),
    aud: key.tokenUri,
    iat: nowSeconds,
    exp: nowSeconds + ASSERTION_LIFETIME_SECONDS,
  };
  const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = sign("sha256", Buffer.from(unsigned), key.privateKey);
  return `${unsigned}.${base64url(signature)}`;
}

/** Exchanges a fresh assertion for an access token at the key's token_uri. */
export function issueServiceAccountToken(
  key: ServiceAccountKey,
  source: CredentialSource,
  signal: AbortSignal,
): Promise<IssuedToken> {
  return requestToken({
    tokenUri: key.tokenUri,
    form: {
      grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
      assertion: signAssertion(key),
    },
    label: source.label,
    fixWhenRefused:
      `check that the service account ${key.clientEmail} and this key still exist and are ` +
      "enabled (IAM > Service accounts), that this computer's clock is right, and create a new " +
      "key if the old one was deleted.",
    signal,
  });
}
