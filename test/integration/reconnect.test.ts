/**
 * Rerunning a notebook's Setup cell: reconnect() keeps the session while the configuration
 * (.env, the environment, the options) is unchanged, and connects anew when it changed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ConfigError, reconnect, type Session } from "../../src/index";

const dir = mkdtempSync(join(tmpdir(), "reconnect-test-"));
const envFile = join(dir, ".env");
const open: Session[] = [];
after(async () => {
  for (const session of open) await session.close();
  rmSync(dir, { recursive: true, force: true });
});

async function alive(session: Session): Promise<boolean> {
  return session.emulator
    ? session.emulator.status().then(
        () => true,
        () => false,
      )
    : false;
}

test("reconnect reuses the session until .env changes, then switches and closes the old one", async () => {
  writeFileSync(envFile, "EE_BACKEND=emulator\n");
  const options = { env: {}, envFile, quiet: true };
  const first = await reconnect(undefined, options);
  open.push(first);
  assert.equal(first.backend.kind, "emulator");
  assert.match(first.banner, /emulator/);

  assert.equal(await reconnect(first, options), first, "same configuration: same session");

  writeFileSync(envFile, "EE_BACKEND=emulator\nEE_MAX_IN_FLIGHT=7\n");
  const second = await reconnect(first, options);
  open.push(second);
  assert.notEqual(second, first, ".env changed: a new session");
  assert.equal(second.requests.stats().limit, 7, "the new session has the new settings");
  assert.equal(await alive(first), false, "the old session's emulator was stopped");
  assert.equal(await alive(second), true);

  // Switching to Earth Engine without a project fails with the fix, and keeps what works.
  writeFileSync(envFile, "EE_BACKEND=earthengine\n");
  await assert.rejects(reconnect(second, options), ConfigError);
  assert.equal(await alive(second), true, "a failed reconnect leaves the previous session open");
});

test("options are part of the configuration", async () => {
  writeFileSync(envFile, "EE_BACKEND=emulator\n");
  const first = await reconnect(undefined, { env: {}, envFile, quiet: true, maxPerSecond: 50 });
  open.push(first);
  const again = await reconnect(first, { env: {}, envFile, quiet: true, maxPerSecond: 50 });
  assert.equal(again, first);
  const other = await reconnect(first, { env: {}, envFile, quiet: true, maxPerSecond: 60 });
  open.push(other);
  assert.notEqual(other, first);
});
