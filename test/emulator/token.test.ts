/** POST /token and Bearer checks (src/emulator/routes/token.ts, src/emulator/auth.ts). */
import assert from "node:assert/strict";
import { createSign, generateKeyPairSync } from "node:crypto";
import type http from "node:http";
import { Readable } from "node:stream";
import { test } from "node:test";
import { AccessTokens } from "../../src/emulator/auth";
import { EeApiError } from "../../src/emulator/errors";
import { RequestContext } from "../../src/emulator/http";
import { checkJwt, tokenHandler } from "../../src/emulator/routes/token";

function request(method: string, body: string, headers: Record<string, string> = {}) {
  const req = Readable.from([Buffer.from(body)]) as unknown as http.IncomingMessage;
  req.method = method;
  req.headers = headers;
  return new RequestContext(req, new URL("http://127.0.0.1/token"), Date.now(), 1 << 20);
}

async function post(tokens: AccessTokens, form: Record<string, string>) {
  const reply = await tokenHandler(tokens)(request("POST", new URLSearchParams(form).toString()));
  return { status: reply.status, body: JSON.parse(reply.body.toString("utf8")) };
}

test("a refresh token buys an access token that then passes the Bearer check", async () => {
  const tokens = new AccessTokens({ refreshToken: "1//refresh", tokenTtlSeconds: 60 });
  assert.ok(tokens.enabled);
  const { status, body } = await post(tokens, {
    grant_type: "refresh_token",
    refresh_token: "1//refresh",
  });
  assert.equal(status, 200);
  assert.equal(body.expires_in, 60);
  assert.equal(body.token_type, "Bearer");
  const bearer = { authorization: `Bearer ${body.access_token}` };
  tokens.authorize(request("GET", "", bearer).req);
  assert.throws(
    () => tokens.authorize(request("GET", "", { authorization: "Bearer forged" }).req),
    (error: unknown) => error instanceof EeApiError && error.httpStatus === 401,
  );
});

test("OAuth's error shapes: wrong refresh token, missing fields, unknown grant, GET", async () => {
  const tokens = new AccessTokens({ refreshToken: "1//refresh" });
  assert.deepEqual(await post(tokens, { grant_type: "refresh_token", refresh_token: "no" }), {
    status: 400,
    body: { error: "invalid_grant", error_description: "Token has been expired or revoked." },
  });
  assert.deepEqual(await post(tokens, { grant_type: "refresh_token" }), {
    status: 400,
    body: {
      error: "invalid_request",
      error_description: "Missing required parameter: refresh_token",
    },
  });
  assert.deepEqual(await post(tokens, { grant_type: "password" }), {
    status: 400,
    body: { error: "unsupported_grant_type", error_description: "Invalid grant_type: password" },
  });
  const get = await tokenHandler(tokens)(request("GET", ""));
  assert.equal(get.status, 400);
  assert.equal(JSON.parse(get.body.toString("utf8")).error, "invalid_request");
});

test("service-account JWTs: signature, audience and lifetime are checked", () => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const now = Math.floor(Date.now() / 1000);
  const jwt = (claims: Record<string, unknown>) => {
    const head = Buffer.from(JSON.stringify({ alg: "RS256", typ: "JWT" })).toString("base64url");
    const body = Buffer.from(JSON.stringify(claims)).toString("base64url");
    const signature = createSign("RSA-SHA256").update(`${head}.${body}`).sign(privateKey);
    return `${head}.${body}.${signature.toString("base64url")}`;
  };
  const good = {
    iss: "sa@p.iam.gserviceaccount.com",
    aud: "http://x/token",
    iat: now,
    exp: now + 3600,
  };
  assert.equal(checkJwt(jwt(good), pem), undefined);
  assert.equal(checkJwt("a.b", pem), "Invalid JWT: expected three dot-separated parts.");
  assert.match(checkJwt(jwt({ ...good, aud: "http://x/other" }), pem) ?? "", /aud claim/);
  assert.match(checkJwt(jwt({ ...good, exp: now + 7200 }), pem) ?? "", /short-lived token/);
  const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
  assert.equal(
    checkJwt(jwt(good), other.export({ type: "spki", format: "pem" }).toString()),
    "Invalid JWT Signature.",
  );
});

test("with no tokens, refresh token or key configured, the emulator is open", () => {
  assert.equal(new AccessTokens({}).enabled, false);
  assert.equal(new AccessTokens({ accessTokens: [] }).enabled, false);
  assert.equal(new AccessTokens({ accessTokens: ["t"] }).enabled, true);
});
