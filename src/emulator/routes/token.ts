/**
 * POST /token: Google's OAuth token endpoint, reduced to the two grants our users have
 * (a refresh token, a service account's signed JWT). Answers in OAuth's error shape
 * `{"error", "error_description"}`, not Earth Engine's.
 */
import { randomBytes, verify as verifySignature } from "node:crypto";
import { type AccessTokens, requestedScopes } from "../auth";
import { type Handler, jsonReply, type Reply } from "../http";

export function tokenHandler(tokens: AccessTokens): Handler {
  return async (context) => {
    const oauthError = (status: number, error: string, description: string): Reply =>
      jsonReply(status, { error, error_description: description });
    if (context.method !== "POST")
      return oauthError(
        400,
        "invalid_request",
        "Use POST with an application/x-www-form-urlencoded body.",
      );
    const form = new URLSearchParams((await context.body()).toString("utf8"));
    const grant = form.get("grant_type");
    const auth = tokens.options;
    const issue = (): Reply => {
      const ttl = tokens.ttlSeconds;
      const accessToken = `ya29.emulator-${randomBytes(24).toString("base64url")}`;
      tokens.remember(accessToken, Date.now() + ttl * 1000, requestedScopes(form));
      return jsonReply(200, { access_token: accessToken, expires_in: ttl, token_type: "Bearer" });
    };
    if (grant === "refresh_token") {
      const given = form.get("refresh_token");
      if (!given)
        return oauthError(400, "invalid_request", "Missing required parameter: refresh_token");
      if (!auth.refreshToken || given !== auth.refreshToken)
        return oauthError(400, "invalid_grant", "Token has been expired or revoked.");
      return issue();
    }
    if (grant === "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      const assertion = form.get("assertion");
      if (!assertion)
        return oauthError(400, "invalid_request", "Missing required parameter: assertion");
      if (!auth.serviceAccountPublicKeyPem)
        return oauthError(
          400,
          "invalid_grant",
          "No service account is configured on this emulator.",
        );
      const problem = checkJwt(assertion, auth.serviceAccountPublicKeyPem);
      if (problem) return oauthError(400, "invalid_grant", problem);
      return issue();
    }
    return oauthError(400, "unsupported_grant_type", `Invalid grant_type: ${grant ?? ""}`);
  };
}

/** Verifies an RS256 JWT assertion; returns what is wrong, or undefined when it is valid. */
export function checkJwt(assertion: string, publicKeyPem: string): string | undefined {
  const parts = assertion.split(".");
  if (parts.length !== 3) return "Invalid JWT: expected three dot-separated parts.";
  let header: { alg?: string };
  let claims: { iss?: string; aud?: string; exp?: number; iat?: number; scope?: string };
  try {
    header = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8"));
    claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
  } catch {
    return "Invalid JWT: header and claims must be base64url JSON.";
  }
  if (header.alg !== "RS256") return `Invalid JWT: alg must be RS256, got ${String(header.alg)}.`;
  let valid = false;
  try {
    valid = verifySignature(
      "RSA-SHA256",
      Buffer.from(`${parts[0]}.${parts[1]}`),
      publicKeyPem,
      Buffer.from(parts[2], "base64url"),
    );
  } catch {
    valid = false;
  }
  if (!valid) return "Invalid JWT Signature.";
  if (!claims.iss) return "Invalid JWT: the iss claim (service account email) is missing.";
  if (typeof claims.aud !== "string" || !/\/token$/.test(claims.aud)) {
    return "Invalid JWT: the aud claim must be the token endpoint URL (…/token).";
  }
  const now = Date.now() / 1000;
  if (
    typeof claims.exp !== "number" ||
    claims.exp < now ||
    (typeof claims.iat === "number" && (claims.iat > now + 300 || claims.exp - claims.iat > 3600))
  ) {
    return "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.";
  }
  return undefined;
}
