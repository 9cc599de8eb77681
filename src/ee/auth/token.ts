/**
 * Access tokens for a session. google-auth-library issues and caches them and refreshes them
 * before expiry; this wrapper adds what a notebook needs on top: concurrent callers share one
 * request, a failed refresh keeps the still-valid token, every new token is handed on (to the
 * official client), and failures become our named errors without secrets.
 */
import { CredentialsError, explainTokenFailure } from "./errors";

export interface AccessToken {
  /** The bearer token. Never log it. */
  accessToken: string;
  /** When it stops working, in ms since the epoch (Date.now() clock). */
  expiresAt: number;
}

/** Where credentials came from, for banners and error messages (names and paths only). */
export interface CredentialSource {
  kind:
    | "service-account-key"
    | "access-token"
    | "application-default"
    | "earthengine-credentials"
    | "gcloud"
    | "metadata-server";
  /** e.g. "service account key /path/key.json (EE_SERVICE_ACCOUNT_KEY)". */
  label: string;
  /** The credentials file, when there is one. */
  path?: string;
}

export interface TokenProvider {
  readonly source: CredentialSource;
  /** A valid token; refreshed by the library when it nears expiry. */
  getToken(signal?: AbortSignal): Promise<AccessToken>;
  /** New tokens received so far (for tests and diagnostics). */
  readonly refreshes: number;
}

export interface RefreshOptions {
  /**
   * Refresh this long before expiry; default 5 minutes (the library's own default), capped
   * at a quarter of the token's lifetime so short-lived tokens are used for most of their life.
   */
  marginMs?: number;
  /** Called with every new token, e.g. to hand it to the Earth Engine client. */
  onRefresh?: (token: AccessToken) => void;
  /** Non-fatal problems (a failed refresh while the old token still works). */
  warn?: (message: string) => void;
  /** What to do when the token endpoint refuses the credential. */
  fixWhenRefused?: string;
  /** Values that must never appear in a message (refresh tokens, client secrets). */
  secrets?: readonly string[];
}

/** The part of google-auth-library's AuthClient this module uses. */
export interface LibraryClient {
  getAccessToken(): Promise<{ token?: string | null }>;
  credentials: { expiry_date?: number | null };
  eagerRefreshThresholdMillis: number;
}

export const DEFAULT_REFRESH_MARGIN_MS = 5 * 60_000;
/** Google access tokens live an hour; assume that when a credential does not say. */
const DEFAULT_LIFETIME_MS = 60 * 60_000;

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

/** A provider over any google-auth-library client (service account, user, external, metadata). */
export class LibraryTokenProvider implements TokenProvider {
  readonly source: CredentialSource;
  // Private fields keep the client (and its tokens) out of util.inspect / notebook display.
  readonly #client: LibraryClient;
  readonly #options: RefreshOptions;
  #current?: AccessToken;
  #pending?: Promise<AccessToken>;
  #refreshes = 0;

  constructor(source: CredentialSource, client: LibraryClient, options: RefreshOptions = {}) {
    this.source = source;
    this.#client = client;
    this.#options = options;
    client.eagerRefreshThresholdMillis = options.marginMs ?? DEFAULT_REFRESH_MARGIN_MS;
  }

  get refreshes(): number {
    return this.#refreshes;
  }

  getToken(signal?: AbortSignal): Promise<AccessToken> {
    const current = this.#current;
    const margin = this.#client.eagerRefreshThresholdMillis;
    if (current && Date.now() < current.expiresAt - margin) return Promise.resolve(current);
    // One library call at a time: a burst of 40 tile requests sends one refresh, not 40.
    if (!this.#pending) {
      this.#pending = this.#fetch().finally(() => {
        this.#pending = undefined;
      });
    }
    return raceAbort(this.#pending, signal);
  }

  async #fetch(): Promise<AccessToken> {
    let token: string | null | undefined;
    try {
      token = (await this.#client.getAccessToken()).token;
    } catch (error) {
      const explained = explainTokenFailure(error, this.source.label, this.#options);
      const current = this.#current;
      if (current && Date.now() < current.expiresAt) {
        // Still valid: keep working on it; the next call after the margin tries again.
        (this.#options.warn ?? console.warn)(
          `ee-snippets: could not refresh the access token from ${this.source.label}; using ` +
            `the current one until it expires (${explained.message}).`,
        );
        return current;
      }
      throw explained;
    }
    if (!token) {
      throw new CredentialsError(
        `${this.source.label} produced no access token: check the credential, or use another ` +
          "(see .env.example).",
      );
    }
    if (token === this.#current?.accessToken) return this.#current;
    const now = Date.now();
    const expiresAt = this.#client.credentials.expiry_date ?? now + DEFAULT_LIFETIME_MS;
    const margin = Math.min(
      this.#options.marginMs ?? DEFAULT_REFRESH_MARGIN_MS,
      (expiresAt - now) / 4,
    );
    // The library refreshes inside this window; short test tokens need a proportionate one.
    this.#client.eagerRefreshThresholdMillis = Math.max(0, margin);
    const result = { accessToken: token, expiresAt };
    this.#current = result;
    this.#refreshes += 1;
    this.#options.onRefresh?.(result);
    return result;
  }
}

/** Google access tokens live one hour; a raw token's age is unknown, so assume it is fresh. */
export const RAW_TOKEN_ASSUMED_LIFETIME_MS = 60 * 60_000;

/** Says that EE_ACCESS_TOKEN cannot be refreshed and what to do instead. */
export const RAW_TOKEN_EXPIRED_FIX =
  "EE_ACCESS_TOKEN is a raw access token: it cannot be refreshed and Google access tokens " +
  "last at most an hour. Put a fresh token in .env (e.g. `gcloud auth print-access-token`) and " +
  "connect again, or configure a refreshing credential (EE_SERVICE_ACCOUNT_KEY or Application " +
  "Default Credentials).";

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
    options: { now?: () => number; warn?: (message: string) => void } = {},
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
          "ee-snippets: EE_ACCESS_TOKEN was read over an hour ago, so Earth Engine will soon " +
            `answer 401. ${RAW_TOKEN_EXPIRED_FIX.replace("EE_ACCESS_TOKEN is", "It is")}`,
        );
      }
      // Keep handing it out: the server, not a guess, decides when it is dead.
      expiresAt = now + 10 * 60_000;
    }
    return Promise.resolve({ accessToken: this.#token, expiresAt });
  }
}
