import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import type { Backend } from "../../src/ee/backend";
import { AuthorizationError, RequestError } from "../../src/ee/errors";
import { RequestLimiter } from "../../src/ee/limiter";
import { withRetries } from "../../src/ee/retry";
import { closeIdleConnections, eeRequest, httpPost } from "../../src/ee/transport";

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A loopback server whose behaviour each test sets per path. */
let server: http.Server;
let base = "";
const handlers = new Map<string, Handler>();
const connections = new Set<import("node:net").Socket>();
let connectionCount = 0;
const seenAuth: (string | undefined)[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    seenAuth.push(req.headers.authorization);
    req.resume();
    req.on("end", () => {
      const handler = handlers.get(req.url ?? "");
      if (handler) handler(req, res);
      else res.writeHead(404).end();
    });
  });
  server.on("connection", (socket) => {
    connectionCount++;
    connections.add(socket);
    socket.on("close", () => connections.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  closeIdleConnections();
  for (const s of connections) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
});

const backend = (token?: string): Backend => ({
  kind: "earthengine",
  apiUrl: base,
  project: "p",
  authorization: async () => (token ? `Bearer ${token}` : undefined),
});

const eeError = (res: http.ServerResponse, status: number, message: string, headers = {}) =>
  res
    .writeHead(status, { "content-type": "application/json", ...headers })
    .end(JSON.stringify({ error: { code: status, message, status: "X" } }));

describe("httpPost", () => {
  it("returns the whole body and reuses keep-alive connections", async () => {
    const payload = Buffer.alloc(300_000, 7);
    handlers.set("/ok", (_req, res) =>
      res.writeHead(200, { "content-length": payload.length }).end(payload),
    );
    const before = connectionCount;
    for (let i = 0; i < 3; i++) {
      const r = await httpPost(`${base}/ok`, "{}");
      assert.equal(r.status, 200);
      assert.ok(r.body.equals(payload));
    }
    assert.equal(connectionCount - before, 1, "one socket for three sequential requests");
  });

  it("reads chunked bodies without a Content-Length", async () => {
    handlers.set("/chunked", (_req, res) => {
      res.writeHead(200);
      res.write("abc");
      res.end("def");
    });
    assert.equal((await httpPost(`${base}/chunked`, "{}")).body.toString(), "abcdef");
  });

  it("reports a body cut short of its Content-Length as retryable", async () => {
    handlers.set("/truncated", (_req, res) => {
      res.writeHead(200, { "content-length": 1000 });
      res.write(Buffer.alloc(400));
      setTimeout(() => res.socket?.destroy(), 10);
    });
    await assert.rejects(httpPost(`${base}/truncated`, "{}"), (e: unknown) => {
      assert.ok(e instanceof RequestError && e.retryable, String(e));
      assert.match(e.message, /cut off after 400 of 1000 bytes/);
      return true;
    });
  });

  it("reports a connection reset as retryable", async () => {
    handlers.set("/reset", (req) => req.socket.destroy());
    await assert.rejects(httpPost(`${base}/reset`, "{}"), (e: unknown) => {
      assert.ok(
        e instanceof RequestError && e.retryable && /failed|cut off/.test(e.message),
        String(e),
      );
      return true;
    });
  });

  it("times out a stalled reply", async () => {
    handlers.set("/stall", (_req, res) => {
      res.writeHead(200, { "content-length": 10 });
      res.write("12345");
      // never finishes; the client's deadline must fire
    });
    await assert.rejects(httpPost(`${base}/stall`, "{}", { timeoutMs: 100 }), (e: unknown) => {
      assert.ok(e instanceof RequestError && e.retryable, String(e));
      assert.match(e.message, /within 100 ms/);
      return true;
    });
  });

  it("stops when aborted", async () => {
    handlers.set("/slow", () => {});
    const controller = new AbortController();
    const pending = httpPost(`${base}/slow`, "{}", { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(pending, { name: "AbortError" });
  });
});

describe("eeRequest", () => {
  it("sends the backend's authorization and returns the bytes", async () => {
    handlers.set("/v1/projects/p/value:compute", (_req, res) => res.end('{"result": 1}'));
    const body = await eeRequest(
      backend("secret-token"),
      `${base}/v1/projects/p/value:compute`,
      {},
    );
    assert.equal(body.toString(), '{"result": 1}');
    assert.equal(seenAuth.at(-1), "Bearer secret-token");
  });

  it("turns 429 with Retry-After and 500 into retryable errors", async () => {
    handlers.set("/429", (_req, res) =>
      eeError(res, 429, "Too many concurrent requests.", { "retry-after": "3" }),
    );
    handlers.set("/500", (_req, res) => eeError(res, 500, "Internal error."));
    await assert.rejects(eeRequest(backend(), `${base}/429`, {}), (e: unknown) => {
      assert.ok(e instanceof RequestError);
      assert.equal(e.status, 429);
      assert.equal(e.retryAfterSeconds, 3);
      assert.ok(e.retryable);
      return true;
    });
    await assert.rejects(eeRequest(backend(), `${base}/500`, {}), { retryable: true, status: 500 });
  });

  it("asks for a split on size refusals, and is fatal on other 400s with EE's message", async () => {
    handlers.set("/mem", (_req, res) => eeError(res, 400, "User memory limit exceeded."));
    handlers.set("/size", (_req, res) =>
      eeError(
        res,
        400,
        "Total request size (60000000 bytes) must be less than or equal to 50331648 bytes.",
      ),
    );
    handlers.set("/bad", (_req, res) => eeError(res, 400, "Image.foo is not a function."));
    await assert.rejects(eeRequest(backend(), `${base}/mem`, {}), { split: true });
    await assert.rejects(eeRequest(backend(), `${base}/size`, {}), { split: true });
    await assert.rejects(eeRequest(backend(), `${base}/bad`, {}), (e: unknown) => {
      assert.ok(e instanceof RequestError && !e.retryable && !e.split);
      assert.match(e.message, /Image\.foo is not a function/);
      return true;
    });
  });

  it("asks for a split, never a retry, on timeouts and memory limits whatever their status", async () => {
    const cases: [number, string][] = [
      [400, "Computation timed out."],
      [500, "Computation timed out."],
      [503, "Computation timed out."],
      [504, "Computation timed out."],
      [429, "User memory limit exceeded."],
      [500, "User memory limit exceeded."],
    ];
    for (const [status, message] of cases) {
      const path = `/deterministic-${status}-${message.length}`;
      handlers.set(path, (_req, res) => eeError(res, status, message));
      await assert.rejects(eeRequest(backend(), `${base}${path}`, {}), (e: unknown) => {
        assert.ok(e instanceof RequestError, String(e));
        assert.equal(e.split, true, `${status} ${message}`);
        assert.equal(e.retryable, false, `${status} ${message}`);
        assert.equal(e.status, status);
        assert.ok(e.message.includes(message));
        return true;
      });
    }
  });

  it("says the token was refused on 401/403, without echoing the token", async () => {
    handlers.set("/401", (_req, res) =>
      eeError(res, 401, "Request had invalid authentication credentials."),
    );
    await assert.rejects(eeRequest(backend("tok-123"), `${base}/401`, {}), (e: unknown) => {
      assert.ok(e instanceof AuthorizationError);
      assert.match(e.message, /refused the token.*invalid authentication.*\.env/s);
      assert.doesNotMatch(e.message, /tok-123/);
      return true;
    });
  });

  it("after a 401, renews the token once and retries with it", async () => {
    handlers.set("/renew", (req, res) => {
      if (req.headers.authorization === "Bearer fresh-456") res.end("pixels");
      else eeError(res, 401, "Request had invalid authentication credentials.");
    });
    const rejected: string[] = [];
    const renewing: Backend = {
      ...backend("stale-123"),
      renewAuthorization: async (old) => {
        rejected.push(old);
        return "Bearer fresh-456";
      },
    };
    const before = seenAuth.length;
    const body = await eeRequest(renewing, `${base}/renew`, {});
    assert.equal(body.toString(), "pixels");
    assert.deepEqual(rejected, ["Bearer stale-123"]);
    assert.deepEqual(seenAuth.slice(before), ["Bearer stale-123", "Bearer fresh-456"]);
  });

  it("a 401 after the renewal is final: one renewal, two requests", async () => {
    handlers.set("/always401", (_req, res) =>
      eeError(res, 401, "Request had invalid authentication credentials."),
    );
    let renewals = 0;
    const renewing: Backend = {
      ...backend("stale-123"),
      renewAuthorization: async () => {
        renewals++;
        return "Bearer also-bad-789";
      },
    };
    const before = seenAuth.length;
    await assert.rejects(eeRequest(renewing, `${base}/always401`, {}), (e: unknown) => {
      assert.ok(e instanceof AuthorizationError);
      assert.doesNotMatch(e.message, /stale-123|also-bad-789/);
      return true;
    });
    assert.equal(renewals, 1);
    assert.equal(seenAuth.length - before, 2);
  });

  it("when no new token can be had, the 401 says why and what to do instead", async () => {
    handlers.set("/raw401", (_req, res) =>
      eeError(res, 401, "Request had invalid authentication credentials."),
    );
    const raw: Backend = {
      ...backend("raw-token-123"),
      renewAuthorization: async () => {
        throw new Error("EE_ACCESS_TOKEN is a raw access token: it cannot be refreshed.");
      },
    };
    await assert.rejects(eeRequest(raw, `${base}/raw401`, {}), (e: unknown) => {
      assert.ok(e instanceof AuthorizationError);
      assert.equal(e.status, 401);
      assert.match(e.message, /HTTP 401: Request had invalid authentication credentials/);
      assert.match(e.message, /raw access token: it cannot be refreshed/);
      assert.doesNotMatch(e.message, /raw-token-123/);
      return true;
    });
  });

  it("recovers from transient failures through the limiter and retry loop", async () => {
    let calls = 0;
    handlers.set("/flaky", (req, res) => {
      calls++;
      if (calls === 1) req.socket.destroy();
      else if (calls === 2) eeError(res, 503, "Service unavailable", { "retry-after": "0" });
      else res.end("done");
    });
    const limiter = new RequestLimiter({ maxInFlight: 2 });
    let retries = 0;
    const body = await withRetries(
      () => limiter.run(() => eeRequest(backend(), `${base}/flaky`, {})),
      { policy: { baseDelayMs: 1 }, onRetry: () => retries++ },
    );
    assert.equal(body.toString(), "done");
    assert.equal(retries, 2);
  });
});
