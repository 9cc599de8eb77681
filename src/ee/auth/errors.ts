/**
 * Credential errors. Every message names the credential (by variable and path, never by
 * content) and what to do; secrets are scrubbed from anything a server sent back.
 */

/** Credentials are missing, unreadable or malformed. */
export class CredentialsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CredentialsError";
  }
}

/** A token endpoint or Earth Engine refused the credentials (HTTP 400/401/403). */
export class TokenRefusedError extends CredentialsError {
  /** HTTP status of the refusal. */
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = "TokenRefusedError";
    this.status = status;
  }
}

/** The token endpoint could not be reached or answered with something unusable. */
export class TokenEndpointError extends CredentialsError {
  constructor(message: string) {
    super(message);
    this.name = "TokenEndpointError";
  }
}

// Shapes of Google secrets, scrubbed even when we do not know the exact value: access
// tokens ("ya29."), refresh tokens ("1//"), PEM blocks and JWTs (three base64url parts).
const SECRET_SHAPES: RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /ya29\.[\w.-]+/g,
  /\b1\/\/[\w.-]+/g,
  /\beyJ[\w-]+\.[\w-]+\.[\w-]+/g,
];

/** Replaces known secret values and anything shaped like a Google secret with "[redacted]". */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const secret of secrets) {
    // Short values (e.g. "x") would shred ordinary words; real secrets are long.
    if (secret && secret.length >= 8) out = out.split(secret).join("[redacted]");
  }
  for (const shape of SECRET_SHAPES) out = out.replace(shape, "[redacted]");
  return out;
}
