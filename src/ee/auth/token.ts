/**
 * Access tokens for a session. google-auth-library issues and caches them and refreshes them
 * before expiry; this wrapper adds what a notebook needs on top: concurrent callers share one
 * request, a failed refresh keeps the still-valid token, every new token is handed on (to the
 * official client), and failures become our named errors without secrets.
 */
import type { AuthClient } from "google-auth-library";
import { CredentialsError, explainTokenFailure, TokenRefusedError } from "./errors";

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
  /**
   * Earth Engine refused `rejected` although it had not expired by our clock (revoked, clock
   * skew, a raw token's end): a new token, or an error that says why there is none.
   */
  renew(rejected: string, signal?: AbortSignal): Promise<AccessToken>;
  /** New tokens received so far (for tests and diagnostics). */
  readonly refreshes: number;
}

export interface RefreshOptions {
  /**
   * Refresh this long before expiry; default the library's (5 minutes), capped at a quarter
   * of the token's lifetime so short-lived tokens are used for most of their life.
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
export type LibraryClient = Pick<
  AuthClient,
  "getAccessToken" | "credentials" | "eagerRefreshThresholdMillis"
>;

/** Google access tokens live an hour: assumed when a credential does not say, and for raw tokens. */
const TOKEN_LIFETIME_MS = 60 * 60_000;

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error("The operation was aborted.");
}

/** Waits for a shared promise, giving up (for this caller only) when its signal aborts. */
async function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) throw abortError(signal);
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/**
 * A provider over any google-auth-library client (service account, user, external, metadata).
 * The library caches the token, refreshes it within eagerRefreshThresholdMillis of expiry and
 * shares one refresh among concurrent callers; this adds the margin for short tokens, keeping
 * a still-valid token when a refresh fails, a forced refresh after a refusal, and onRefresh.
 */
export class LibraryTokenProvider implements TokenProvider {
  readonly source: CredentialSource;
  // Private fields keep the client (and its tokens) out of util.inspect / notebook display.
  readonly #client: LibraryClient;
  readonly #options: RefreshOptions;
  readonly #baseMargin: number;
  #margin: number;
  #current?: AccessToken;
  #refreshes = 0;

  constructor(source: CredentialSource, client: LibraryClient, options: RefreshOptions = {}) {
    this.source = source;
    this.#client = client;
    this.#options = options;
    this.#baseMargin = options.marginMs ?? client.eagerRefreshThresholdMillis;
    this.#margin = this.#baseMargin;
    client.eagerRefreshThresholdMillis = this.#margin;
  }

  get refreshes(): number {
    return this.#refreshes;
  }

  getToken(signal?: AbortSignal): Promise<AccessToken> {
    return raceAbort(this.#fetch(false), signal);
  }

  async renew(rejected: string, signal?: AbortSignal): Promise<AccessToken> {
    const current = await this.getToken(signal);
    // Another request already got past this refusal: its new token serves this one too.
    if (current.accessToken !== rejected) return current;
    return raceAbort(this.#fetch(true), signal);
  }

  async #fetch(force: boolean): Promise<AccessToken> {
    const client = this.#client;
    let token: string | null | undefined;
    try {
      // An infinite threshold makes the library treat its cached token as expiring; it reads
      // the threshold synchronously, so restoring it at once leaves other callers unaffected.
      if (force) client.eagerRefreshThresholdMillis = Number.POSITIVE_INFINITY;
      const pending = client.getAccessToken();
      client.eagerRefreshThresholdMillis = this.#margin;
      token = (await pending).token;
    } catch (error) {
      const explained = explainTokenFailure(error, this.source.label, this.#options);
      const current = this.#current;
      if (!force && current && Date.now() < current.expiresAt) {
        // Still valid: keep working on it; the next call inside the margin tries again.
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
    const expiresAt = client.credentials.expiry_date ?? now + TOKEN_LIFETIME_MS;
    // The library refreshes inside this window; short test tokens need a proportionate one.
    this.#margin = Math.max(0, Math.min(this.#baseMargin, (expiresAt - now) / 4));
    client.eagerRefreshThresholdMillis = this.#margin;
    const result = { accessToken: token, expiresAt };
    this.#current = result;
    this.#refreshes += 1;
    this.#options.onRefresh?.(result);
    return result;
  }
}

/** Says that EE_ACCESS_TOKEN cannot be refreshed and what to do instead. */
export const RAW_TOKEN_EXPIRED_FIX =
  "EE_ACCESS_TOKEN is a raw access token: it cannot be refreshed, and Google access tokens " +
  "last at most an hour. Either set a credential that refreshes itself (EE_SERVICE_ACCOUNT_KEY, " +
  "`gcloud auth application-default login`, or `earthengine authenticate`) and remove " +
  "EE_ACCESS_TOKEN from .env, or paste a fresh token into .env (e.g. `gcloud auth " +
  "print-access-token`) and rerun the Setup cell (connect()).";

/**
 * A raw access token (EE_ACCESS_TOKEN): it cannot be refreshed, so once an hour has passed
 * since it was read, warn once that requests will start failing with 401; once Earth Engine
 * refuses it, say so and what to do.
 */
export class StaticTokenProvider implements TokenProvider {
  readonly source: CredentialSource;
  readonly refreshes = 0;
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

  getToken(signal?: AbortSignal): Promise<AccessToken> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    const now = this.#now();
    let expiresAt = this.#readAt + TOKEN_LIFETIME_MS;
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

  renew(): Promise<AccessToken> {
    return Promise.reject(new TokenRefusedError(RAW_TOKEN_EXPIRED_FIX, 401));
  }
}
