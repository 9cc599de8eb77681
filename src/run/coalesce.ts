/**
 * Shares runs of an idempotent job between callers that want "the job done, after my
 * change": saving a manifest that many downloads update, or fsyncing a directory that many
 * files were renamed into. A call resolves once a run that began after the call has finished
 * (so that run saw the caller's change), and rejects if that run failed. Calls made while a
 * run is going share the next one, so N callers cost at most two runs, not N.
 *
 *     const saver = new Coalescer(() => writeSnapshot());
 *     change();
 *     await saver.request(); // a snapshot taken after change() is on disk
 */
export class Coalescer {
  private readonly work: () => Promise<void>;
  private requested = 0;
  private running: Promise<void> | undefined;
  private waiters: { ticket: number; resolve: () => void; reject: (error: unknown) => void }[] = [];

  constructor(work: () => Promise<void>) {
    this.work = work;
  }

  /** Whether a run is in progress or waiting to start. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  request(): Promise<void> {
    const ticket = ++this.requested;
    const done = new Promise<void>((resolve, reject) => {
      this.waiters.push({ ticket, resolve, reject });
    });
    this.running ??= this.loop();
    return done;
  }

  private async loop(): Promise<void> {
    // Started from request(): let the caller's synchronous siblings queue up for this run.
    await Promise.resolve();
    try {
      while (this.waiters.length > 0) {
        // Everyone who asked before the run starts is covered by it.
        const covered = this.requested;
        let failure: { error: unknown } | undefined;
        try {
          await this.work();
        } catch (error) {
          failure = { error };
        }
        const settled = this.waiters.filter((w) => w.ticket <= covered);
        this.waiters = this.waiters.filter((w) => w.ticket > covered);
        for (const waiter of settled) {
          if (failure) waiter.reject(failure.error);
          else waiter.resolve();
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}
