/**
 * The OAuth 2.0 token request (RFC 6749 section 4 / RFC 7523): a form POST that answers
 * {access_token, expires_in, token_type} or {error, error_description}.
 */
import { redact, TokenEndpointError, TokenRefusedError } from "./errors";
import type { IssuedToken } from "./token";

/** Google access tokens live an hour; assume that when a server omits expires_in. */
const DEFAULT_EXPIRES_IN_SECONDS = 3600;

export interface TokenRequest {
  tokenUri: string;
  /** Form fields (grant_type, assertion / refresh_token, client_id, client_secret). */
  form: Record<string, string>;
  /** Names the credential in messages, e.g. "service account key /x.json (EE_SERVICE_ACCOUNT_KEY)". */
  label: string;
  /** What to do when the endpoint refuses the credential. */
  fixWhenRefused: string;
  signal?: AbortSignal;
}

/**
 * Token endpoints carry secrets in both directions, so they must be HTTPS; plain http is
 * accepted only on loopback, where tests and the emulator run.
 */
export function checkTokenUri(tokenUri: string, label: string): URL {
  let url: URL;
  try {
    url = new URL(tokenUri);
  } catch {
    throw new TokenEndpointError(`The token endpoint "${tokenUri}" of ${label} is not a URL.`);
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new TokenEndpointError(
      `The token endpoint ${url.origin} of ${label} is not HTTPS: credentials are only sent ` +
        "over HTTPS (plain http only to 127.0.0.1). Fix token_uri / EE_TOKEN_URI.",
    );
  }
  return url;
}

interface TokenReply {
  access_token?: unknown;
  expires_in?: unknown;
  token_type?: unknown;
  error?: unknown;
  error_description?: unknown;
}

/** Requests a token; refusals become TokenRefusedError with the endpoint's reason, minus secrets. */
export async function requestToken(request: TokenRequest): Promise<IssuedToken> {
  const url = checkTokenUri(request.tokenUri, request.label);
  // grant_type and client_id are public and would otherwise blank out ordinary words.
  const secrets = Object.entries(request.form)
    .filter(([name]) => name !== "grant_type" && name !== "client_id")
    .map(([, value]) => value);
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams(request.form).toString(),
      signal: request.signal,
      redirect: "error",
    });
  } catch (error) {
    const reason = error instanceof Error ? (error.cause ?? error) : error;
    const detail = reason instanceof Error ? reason.message : String(reason);
    throw new TokenEndpointError(
      redact(
        `Could not reach the token endpoint ${url.origin}${url.pathname} for ${request.label} ` +
          `(${detail}): check the network connection, or the endpoint URL.`,
        secrets,
      ),
    );
  }
  const text = await response.text();
  let reply: TokenReply | undefined;
  try {
    reply = JSON.parse(text) as TokenReply;
  } catch {
    reply = undefined;
  }
  if (!response.ok) {
    const reason = reply
      ? [reply.error, reply.error_description].filter((part) => typeof part === "string").join(": ")
      : "";
    const endpoint = `${url.origin}${url.pathname}`;
    const answer = `HTTP ${response.status}${reason ? `, ${reason}` : ""}`;
    if (response.status >= 400 && response.status < 500) {
      throw new TokenRefusedError(
        redact(
          `The token endpoint ${endpoint} refused ${request.label} (${answer}): ${request.fixWhenRefused}`,
          secrets,
        ),
        response.status,
      );
    }
    throw new TokenEndpointError(
      redact(
        `The token endpoint ${endpoint} failed while issuing a token for ${request.label} ` +
          `(${answer}): this is on the server's side; try again in a few minutes.`,
        secrets,
      ),
    );
  }
  if (!reply || typeof reply.access_token !== "string" || reply.access_token === "") {
    throw new TokenEndpointError(
      `The token endpoint ${url.origin}${url.pathname} answered ${request.label} without an ` +
        "access_token: check that the endpoint URL is an OAuth 2.0 token endpoint.",
    );
  }
  if (typeof reply.token_type === "string" && reply.token_type.toLowerCase() !== "bearer") {
    throw new TokenEndpointError(
      `The token endpoint issued a "${reply.token_type}" token for ${request.label}; ` +
        "Earth Engine needs a Bearer token.",
    );
  }
  const expiresIn = Number(reply.expires_in ?? DEFAULT_EXPIRES_IN_SECONDS);
  return {
    accessToken: reply.access_token,
    expiresInSeconds:
      Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : DEFAULT_EXPIRES_IN_SECONDS,
  };
}
