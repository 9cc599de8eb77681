/**
 * The emulator's auth mode, as Earth Engine answers it: no, malformed, unknown or expired
 * Bearer token -> 401 UNAUTHENTICATED; a valid token issued without an Earth Engine scope ->
 * 403 PERMISSION_DENIED. Messages are Google's own wording, which clients match on. Tokens
 * are static ones from the options or ones the token endpoint issued; with no tokens,
 * refresh token or key configured, the emulator is open.
 */
import type http from "node:http";
import { EeApiError } from "./errors";

export interface AuthOptions {
  /** Static tokens accepted as `Authorization: Bearer <token>`, for ever and with every scope. */
  accessTokens?: string[];
  /** The refresh token POST /token accepts (grant_type=refresh_token). */
  refreshToken?: string;
  /** PEM public key that verifies service-account JWT assertions (RS256). */
  serviceAccountPublicKeyPem?: string;
  tokenTtlSeconds?: number;
}

export const UNAUTHENTICATED_MESSAGE =
  "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

export const INSUFFICIENT_SCOPES_MESSAGE = "Request had insufficient authentication scopes.";

/** Scopes that let a token call Earth Engine (its own two, or the cloud-platform umbrella). */
export const EARTH_ENGINE_SCOPES = [
  "https://www.googleapis.com/auth/earthengine",
  "https://www.googleapis.com/auth/earthengine.readonly",
  "https://www.googleapis.com/auth/cloud-platform",
];

/** A token the emulator's /token endpoint issued. */
export interface IssuedToken {
  expiresAt: number;
  /** Scopes it was granted; undefined when the grant named none (all of the credential's). */
  scopes?: string[];
}

export class AccessTokens {
  private readonly issued = new Map<string, IssuedToken>();

  constructor(readonly options: AuthOptions = {}) {}

  get enabled(): boolean {
    const auth = this.options;
    return Boolean(
      (auth.accessTokens?.length ?? 0) > 0 || auth.refreshToken || auth.serviceAccountPublicKeyPem,
    );
  }

  get ttlSeconds(): number {
    return this.options.tokenTtlSeconds ?? 3600;
  }

  /** Remembers a token the token endpoint issued, valid until `expiresAt` (ms since epoch). */
  remember(token: string, expiresAt: number, scopes?: string[]): void {
    this.issued.set(token, { expiresAt, scopes });
  }

  /** Throws Earth Engine's 401 or 403 unless the request carries a token that may call the API. */
  authorize(req: http.IncomingMessage, now: number = Date.now()): void {
    const header = req.headers.authorization;
    const token = header ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined;
    if (!token) throw new EeApiError(401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE);
    if (this.options.accessTokens?.includes(token)) return;
    const grant = this.issued.get(token);
    if (!grant || grant.expiresAt <= now) {
      throw new EeApiError(401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE);
    }
    if (grant.scopes && !grant.scopes.some((scope) => EARTH_ENGINE_SCOPES.includes(scope))) {
      throw new EeApiError(403, "PERMISSION_DENIED", INSUFFICIENT_SCOPES_MESSAGE);
    }
  }
}

/**
 * The scopes a token request asks for: the `scope` form field (Google's token endpoint lets
 * a refresh narrow its scopes), else the assertion's scope claim (already verified by the
 * caller). Undefined means unrestricted.
 */
export function requestedScopes(form: URLSearchParams): string[] | undefined {
  const fromForm = form.get("scope");
  if (fromForm) return fromForm.split(/[\s,]+/).filter(Boolean);
  const payload = form.get("assertion")?.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as {
      scope?: unknown;
    };
    return typeof claims.scope === "string" ? claims.scope.split(" ").filter(Boolean) : undefined;
  } catch {
    return undefined;
  }
}
