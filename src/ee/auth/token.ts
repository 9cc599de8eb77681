/**
 * Access tokens that stay valid: fetched once, reused until shortly before expiry, then
 * refreshed by exactly one request however many callers are waiting (a burst of 40 tile
 * requests must not send 40 refreshes to the token endpoint).
 */
import { CredentialsError } from "./errors";

export interface AccessToken {
  /** The bearer token. Never log it. */
  accessToken: string;
  /** When it stops working, in ms since the epoch (Date.now() clock). */
  expiresAt: number;
}

/** What a token endpoint returned: a token and its lifetime. */
export interface IssuedToken {
  accessToken: string;
  expiresInSeconds: number;
}

/** Where credentials came from, for banners and error messages (names and paths only). */
export interface CredentialSource {
  kind:
    | "service-account-key"
    | "access-token"
    | "application-default"
    | "earthengine-credentials"
    | "gcloud";
  /** e.g. "service account key /path/key.json (EE_SERVICE_ACCOUNT_KEY)". */
  label: string;
  /** The credentials file, when there is one. */
  path?: string;
}

export interface TokenProvider {
  readonly source: CredentialSource;
  /** A token valid for at least the refresh margin; refreshes when needed. */
  getToken(signal?: AbortSignal): Promise<AccessToken>;
  /** Token fetches so far (for tests and diagnostics). */
  readonly refreshes: number;
}

export interface RefreshOptions {
  /**
   * Refresh this long before expiry; default 5 minutes, capped at a quarter of the token's
   * lifetime so short-lived tokens (tests use seconds) are still used for most of their life.
   */
  marginMs?: number;
  /** Clock, for tests. */
  now?: () => number;
  /** Called with every new token, e.g. to hand it to the Earth Engine client. */
  onRefresh?: (token: AccessToken) => void;
  /** Non-fatal problems (a failed refresh while the old token still works). */
  warn?: (message: string) => void;
  /** Longest a token request may take; default 30 s. */
  timeoutMs?: number;
}

export const DEFAULT_REFRESH_MARGIN_MS = 5 * 60_000;
const DEFAULT_TOKEN_TIMEOUT_MS = 30_000;

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error("The operation was aborted.");
}

/** Waits for a shared promise, giving up (for this caller only) when its signal aborts. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortError(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

interface HeldToken {
  readonly accessToken: string;
  readonly expiresAt: number;
  refreshAt: number;
}

/** A provider over any token-issuing function (service account, refresh token). */
export class RefreshingTokenProvider implements TokenProvider {
  readonly source: CredentialSource;
  // Private fields keep tokens out of util.inspect / notebook display of the provider.
  readonly #issue: (signal: AbortSignal) => Promise<IssuedToken>;
  readonly #marginMs: number;
  readonly #now: () => number;
  readonly #onRefresh?: (token: AccessToken) => void;
  readonly #warn: (message: string) => void;
  readonly #timeoutMs: number;
  #current?: HeldToken;
  #pending?: Promise<AccessToken>;
  #refreshes = 0;

  constructor(
    source: CredentialSource,
    issue: (signal: AbortSignal) => Promise<IssuedToken>,
    options: RefreshOptions = {},
  ) {
    this.source = source;
    this.#issue = issue;
    this.#marginMs = options.marginMs ?? DEFAULT_REFRESH_MARGIN_MS;
    this.#now = options.now ?? Date.now;
    this.#onRefresh = options.onRefresh;
    this.#warn = options.warn ?? ((message) => console.warn(message));
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TOKEN_TIMEOUT_MS;
  }

  get refreshes(): number {
    return this.#refreshes;
  }

  getToken(signal?: AbortSignal): Promise<AccessToken> {
    const current = this.#current;
    if (current && this.#now() < current.refreshAt) {
      return Promise.resolve({ accessToken: current.accessToken, expiresAt: current.expiresAt });
    }
    if (!this.#pending) {
      this.#pending = this.#refresh().finally(() => {
        this.#pending = undefined;
      });
    }
    return raceAbort(this.#pending, signal);
  }

  async #refresh(): Promise<AccessToken> {
    // The refresh is shared, so no single caller's signal may cancel it; a timeout bounds it.
    const signal = AbortSignal.timeout(this.#timeoutMs);
    this.#refreshes += 1;
    let issued: IssuedToken;
    try {
      issued = await this.#issue(signal);
    } catch (error) {
      const current = this.#current;
      const now = this.#now();
      if (current && now < current.expiresAt) {
        // Still valid: keep working on it, and retry later rather than on every call.
        current.refreshAt = now + Math.min(30_000, (current.expiresAt - now) / 2);
        this.#warn(
          `ee-snippets: could not refresh the access token from ${this.source.label}; ` +
            `using the current one until it expires (${error instanceof Error ? error.message : String(error)}).`,
        );
        return { accessToken: current.accessToken, expiresAt: current.expiresAt };
      }
      throw error;
    }
    if (!(issued.expiresInSeconds > 0)) {
      throw new CredentialsError(
        `The token from ${this.source.label} has no lifetime (expires_in ${issued.expiresInSeconds}).`,
      );
    }
    const issuedAt = this.#now();
    const lifetimeMs = issued.expiresInSeconds * 1000;
    const margin = Math.min(this.#marginMs, lifetimeMs / 4);
    const token: HeldToken = {
      accessToken: issued.accessToken,
      expiresAt: issuedAt + lifetimeMs,
      refreshAt: issuedAt + lifetimeMs - margin,
    };
    this.#current = token;
    const result = { accessToken: token.accessToken, expiresAt: token.expiresAt };
    this.#onRefresh?.(result);
    return result;
  }
}

/** Google access tokens live one hour; a raw token's age is unknown, so assume it is fresh. */
export const RAW_TOKEN_ASSUMED_LIFETIME_MS = 60 * 60_000;

/**
 * A raw access token (EE_ACCESS_TOKEN): it cannot be refreshed, so once an hour has passed
 * since it was read, warn once that requests will start failing with 401.
 */
export class StaticTokenProvider implements TokenProvider {
  readonly source: CredentialSource;
  readonly #token: string;
  readonly #now: () => number;
  readonly #warn: (message: string) => void;
  readonly #readAt: number;
  #warned = false;

  constructor(
    source: CredentialSource,
    token: string,
    options: Pick<RefreshOptions, "now" | "warn"> = {},
  ) {
    this.source = source;
    this.#token = token;
    this.#now = options.now ?? Date.now;
    this.#warn = options.warn ?? ((message) => console.warn(message));
    this.#readAt = this.#now();
  }

  get refreshes(): number {
    return 0;
  }

  /** True once the assumed lifetime has passed. */
  get probablyExpired(): boolean {
    return this.#now() >= this.#readAt + RAW_TOKEN_ASSUMED_LIFETIME_MS;
  }

  getToken(signal?: AbortSignal): Promise<AccessToken> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const now = this.#now();
    let expiresAt = this.#readAt + RAW_TOKEN_ASSUMED_LIFETIME_MS;
    if (now >= expiresAt) {
      if (!this.#warned) {
        this.#warned = true;
        this.#warn(
          "ee-snippets: EE_ACCESS_TOKEN was read over an hour ago and Google access tokens " +
            "last at most an hour, so Earth Engine will soon answer 401: put a fresh token in " +
            ".env (e.g. `gcloud auth print-access-token`) and connect again, or configure a " +
            "refreshing credential (EE_SERVICE_ACCOUNT_KEY or Application Default Credentials).",
        );
      }
      // Keep handing it out: the server, not a guess, decides when it is dead.
      expiresAt = now + 10 * 60_000;
    }
    return Promise.resolve({ accessToken: this.#token, expiresAt });
  }
}
