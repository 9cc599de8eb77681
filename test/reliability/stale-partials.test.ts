/**
 * A run killed with SIGKILL cannot delete its temporary file; the next run does: only files
 * of the writer's naming scheme, only when their writer is gone, and it says how many bytes
 * it freed. A partial file of a live writer in another process is kept.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bbox } from "../../src/snippets/aoi";
import { downloadSnippets } from "../../src/snippets/batch";
import { LEGACY_PARTIAL_AGE_MS, removeStalePartials } from "../../src/snippets/outputs";
import {
  CENTER,
  eeFor,
  firstScenes,
  type RunningEmulator,
  sessionFor,
  startEmulator,
} from "./helpers";

const aoi = bbox(CENTER[0], CENTER[1], 0.09, "David");

let emulator: RunningEmulator;
let base: string;
const children: ChildProcess[] = [];

before(async () => {
  base = await mkdtemp(join(tmpdir(), "stale-partials-"));
  // Slow enough that a 1-megapixel snippet takes seconds, so the child is killed mid-run.
  emulator = await startEmulator({ latencyMs: 0, msPerMegapixel: 4000, bandwidthMBps: 0 });
});
after(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await emulator?.stop();
  await rm(base, { recursive: true, force: true });
});

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const found = await probe();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("stale partial files", () => {
  it("a rerun removes a SIGKILLed run's partial file, reports the bytes, keeps a live writer's", async () => {
    const ee = await eeFor(emulator);
    const [image] = await firstScenes(await sessionFor(emulator, ee), aoi, 1);
    const outDir = join(base, "out");

    const killed = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join(__dirname, "killed-run-child.ts"),
        emulator.url,
        emulator.project,
        outDir,
        image.id,
      ],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    children.push(killed);
    const prefix = `.${image.id}_L2A.tif.partial-${killed.pid}-`;
    // Killed while its file is open (the writer fills it when the pixels are in).
    const partial = await waitFor("the child's partial file", async () => {
      const names = await readdir(outDir).catch(() => [] as string[]);
      return names.find((n) => n.startsWith(prefix));
    });
    killed.kill("SIGKILL");
    await exited(killed);
    assert.equal(killed.signalCode, "SIGKILL");
    const killedBytes = (await stat(join(outDir, partial))).size;
    // A second writer that died with data in its file: a process that wrote and exited.
    const dead = spawn(
      process.execPath,
      [
        "-e",
        `require("node:fs").writeFileSync(process.argv[1].replace("PID", String(process.pid)), "x".repeat(5000));`,
        join(outDir, ".dead_L2A.tif.partial-PID-89abcdef-0123"),
      ],
      { stdio: "inherit" },
    );
    await exited(dead);
    const deadFile = `.dead_L2A.tif.partial-${dead.pid}-89abcdef-0123`;
    assert.equal((await stat(join(outDir, deadFile))).size, 5000);
    const leftBytes = killedBytes + 5000;

    // A writer that is alive in another process: its partial file must survive the rerun.
    const liveName = ".other_L2A.tif.partial-PID-0123abcd-4567";
    const live = spawn(
      process.execPath,
      [
        "-e",
        `require("node:fs").writeFileSync(process.argv[1].replace("PID", String(process.pid)), "x".repeat(1000)); process.stdout.write("ready\\n"); setInterval(() => {}, 1000);`,
        join(outDir, liveName),
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    children.push(live);
    await new Promise<void>((resolve) => live.stdout?.once("data", () => resolve()));
    const liveFile = liveName.replace("PID", String(live.pid));
    // Files that only look alike are not the writer's and stay too.
    await writeFile(join(outDir, "notes.partial-1-0123abcd-4567"), "mine");

    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      written.push(String(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof process.stdout.write;
    let report: Awaited<ReturnType<typeof downloadSnippets>>;
    try {
      report = await downloadSnippets(await sessionFor(emulator, ee), [image], {
        outDir,
        aoi,
        scale: 10,
        progress: true,
      });
    } finally {
      process.stdout.write = write;
    }
    assert.equal(report.failed, 0, report.items.map((i) => i.error).join("; "));
    assert.deepEqual(report.stalePartials, { files: 2, bytes: leftBytes, kept: 1 });
    assert.ok(
      written.some(
        (line) =>
          line.includes("removed 2 temporary files of interrupted runs") &&
          line.includes(`(${leftBytes} bytes)`),
      ),
      `no line about the freed bytes in: ${written.join("")}`,
    );
    const names = await readdir(outDir);
    assert.ok(!names.includes(partial), "the killed run's partial file is still there");
    assert.ok(!names.includes(deadFile), "a dead writer's partial file is still there");
    assert.ok(names.includes(liveFile), "a live writer's partial file was removed");
    assert.ok(names.includes("notes.partial-1-0123abcd-4567"));
    assert.ok(names.includes(`${image.id}_L2A.tif`));
    live.kill("SIGKILL");
    await exited(live);
  });

  it("removes a partial file without a writer's pid only once it is old", async () => {
    const dir = join(base, "legacy");
    await rm(dir, { recursive: true, force: true });
    const { mkdir } = await import("node:fs/promises");
    await mkdir(dir);
    const old = join(dir, ".a_L2A.tif.partial-0123abcd-4567");
    const fresh = join(dir, ".b_L2A.tif.partial-89abcdef-0123");
    await writeFile(old, "x".repeat(300));
    await writeFile(fresh, "y".repeat(200));
    const past = (Date.now() - LEGACY_PARTIAL_AGE_MS - 60_000) / 1000;
    await utimes(old, past, past);
    assert.deepEqual(await removeStalePartials(dir), { files: 1, bytes: 300, kept: 1 });
    assert.deepEqual(await readdir(dir), [".b_L2A.tif.partial-89abcdef-0123"]);
  });
});
