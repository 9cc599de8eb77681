/**
 * Client and emulator CPU per tutorial snippet at 2 m, for profiling the download engine:
 * `node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof bench/profile-2m.ts [images] [--keep DIR]`.
 * The emulator runs in its own process, so a CPU profile of this one is the client alone;
 * the emulator's CPU is read from its status. Prints each file's SHA-256, so a change to the
 * engine can be checked to leave the bytes alone.
 */
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { downloadImage } from "../src/download";
import { SNIPPET_BANDS } from "../src/snippets/batch";
import { measureWindow, round, scratchDir, sessionEmulator } from "./scenarios/common";
import { emulatorSession, TUTORIAL_AOI, tutorialJobs } from "./scenarios/tutorial";
import { DEFAULT_MODEL, FINE_SCALE } from "./scenarios/tutorial-2m";

/**
 * CPU ms of this process's threads from /proc (Linux): the main thread (the event loop) and
 * the rest (libuv's thread pool: deflate, file I/O; V8's GC and compiler threads). The CPU
 * profile alone would not show the pool, and on a loaded machine its samples are wall time.
 */
function threadCpuMs(pid = process.pid): { main: number; others: number } | undefined {
  try {
    const ticks = (tid: string) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // utime and stime, fields 14 and 15 of stat(5), in clock ticks of 10 ms.
      return (Number(fields[11]) + Number(fields[12])) * 10;
    };
    let others = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      if (tid !== String(pid)) others += ticks(tid);
    }
    return { main: ticks(String(pid)), others };
  } catch {
    return undefined;
  }
}

/** The emulator startEmulator spawned: this process's only child (Linux), else undefined. */
function emulatorPid(): number | undefined {
  try {
    const children = readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, "utf8")
      .trim()
      .split(" ")
      .filter(Boolean);
    return children.length === 1 ? Number(children[0]) : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const keepAt = args.indexOf("--keep");
  const keep = keepAt >= 0 ? args[keepAt + 1] : undefined;
  const images = Number(
    args.find((a, i) => /^\d+$/.test(a) && !(keepAt >= 0 && i === keepAt + 1)) ?? 3,
  );
  // No modelled latency or compute: the window measures CPU, not waiting.
  const session = await emulatorSession(
    { ...DEFAULT_MODEL, latencyMs: 0, msPerMegapixel: 0, bandwidthMBps: Number.POSITIVE_INFINITY },
    { maxInFlight: 40, maxPerSecond: 100 },
  );
  const scratch = scratchDir("profile-2m");
  const dir = keep ?? scratch.path;
  mkdirSync(dir, { recursive: true });
  try {
    const jobs = await tutorialJobs(session, images + 1);
    const download = (i: number) =>
      downloadImage(session, jobs[i].image, join(dir, `${jobs[i].id}.tif`), {
        region: TUTORIAL_AOI,
        scale: FINE_SCALE,
        overwrite: true,
        bands: SNIPPET_BANDS,
      });
    await download(0); // warm-up: JIT on both sides
    const stop = await measureWindow(sessionEmulator(session));
    const emulator = emulatorPid();
    const cpu0 = process.cpuUsage();
    const threads0 = threadCpuMs();
    const emulator0 = emulator ? threadCpuMs(emulator) : undefined;
    for (let i = 1; i <= images; i++) await download(i);
    const threads1 = threadCpuMs();
    const cpu = process.cpuUsage(cpu0);
    const emulator1 = emulator ? threadCpuMs(emulator) : undefined;
    const m = await stop();
    process.stdout.write(
      `${JSON.stringify({
        images,
        wallMsPerImage: round(m.wallMs / images, 0),
        clientCpuMsPerImage: round(m.clientCpuMs / images, 0),
        clientSystemCpuMsPerImage: round(cpu.system / 1000 / images, 0),
        emulatorCpuMsPerImage: round(m.emulator.cpuMs / images, 0),
        ...(threads0 && threads1
          ? {
              mainThreadCpuMsPerImage: round((threads1.main - threads0.main) / images, 0),
              otherThreadsCpuMsPerImage: round((threads1.others - threads0.others) / images, 0),
            }
          : {}),
        // The emulator's main thread (HTTP, NPY encoding, pacing) and its render threads.
        ...(emulator0 && emulator1
          ? {
              emulatorMainThreadCpuMsPerImage: round((emulator1.main - emulator0.main) / images, 0),
              emulatorOtherThreadsCpuMsPerImage: round(
                (emulator1.others - emulator0.others) / images,
                0,
              ),
            }
          : {}),
      })}\n`,
    );
    for (let i = 0; i <= images; i++) {
      const file = join(dir, `${jobs[i].id}.tif`);
      const sha = createHash("sha256").update(readFileSync(file)).digest("hex");
      process.stdout.write(`${sha}  ${jobs[i].id}.tif\n`);
    }
  } finally {
    scratch.remove();
    await session.close();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : error}\n`);
  process.exitCode = 1;
});
