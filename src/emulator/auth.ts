/**
 * Bearer-token checks on /v1: static tokens from the options, or tokens the token endpoint
 * issued and that have not expired. With no tokens, refresh token or key configured, the
 * emulator is open.
 */
import type http from "node:http";
import { EeApiError } from "./errors";

export interface AuthOptions {
  /** Static tokens accepted as `Authorization: Bearer <token>`. */
  accessTokens?: string[];
  /** The refresh token POST /token accepts (grant_type=refresh_token). */
  refreshToken?: string;
  /** PEM public key that verifies service-account JWT assertions (RS256). */
  serviceAccountPublicKeyPem?: string;
  tokenTtlSeconds?: number;
}

const UNAUTHENTICATED_MESSAGE =
  "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

export class AccessTokens {
  private readonly issued = new Map<string, number>();

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
  remember(token: string, expiresAt: number): void {
    this.issued.set(token, expiresAt);
  }

  /** Throws Earth Engine's 401 unless the request carries a valid Bearer token. */
  authorize(req: http.IncomingMessage): void {
    const header = req.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) throw new EeApiError(401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE);
    const token = match[1];
    if (this.options.accessTokens?.includes(token)) return;
    const expiry = this.issued.get(token);
    if (expiry !== undefined && expiry > Date.now()) return;
    throw new EeApiError(401, "UNAUTHENTICATED", UNAUTHENTICATED_MESSAGE);
  }
}
