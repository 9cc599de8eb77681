/** Request counters the admin status endpoint reports (per endpoint and per HTTP status). */

export interface EndpointStats {
  requests: number;
  inFlight: number;
  maxInFlight: number;
}

export interface EmulatorStats {
  requests: number;
  inFlight: number;
  maxInFlight: number;
  byStatus: Record<string, number>;
  byEndpoint: Record<string, EndpointStats>;
  tokenRequests: number;
  /** This process's CPU time (user + system) since the last reset. */
  cpuMs: number;
}

export class RequestStats {
  private stats!: EmulatorStats;
  private cpuAtReset = process.cpuUsage();

  constructor() {
    this.reset();
  }

  /** Counts a request to `endpoint` in; pass the result to `end`. */
  begin(endpoint: string): EndpointStats {
    const counters = this.stats.byEndpoint[endpoint] ?? {
      requests: 0,
      inFlight: 0,
      maxInFlight: 0,
    };
    this.stats.byEndpoint[endpoint] = counters;
    this.stats.requests++;
    this.stats.inFlight++;
    this.stats.maxInFlight = Math.max(this.stats.maxInFlight, this.stats.inFlight);
    counters.requests++;
    counters.inFlight++;
    counters.maxInFlight = Math.max(counters.maxInFlight, counters.inFlight);
    return counters;
  }

  /** Counts a request out; `status` -1 is a dropped connection (a reset). */
  end(counters: EndpointStats, status: number): void {
    this.stats.inFlight--;
    counters.inFlight--;
    const key = status === -1 ? "reset" : String(status);
    this.stats.byStatus[key] = (this.stats.byStatus[key] ?? 0) + 1;
  }

  countTokenRequest(): void {
    this.stats.tokenRequests++;
  }

  snapshot(): EmulatorStats {
    const cpu = process.cpuUsage(this.cpuAtReset);
    return { ...this.stats, cpuMs: (cpu.user + cpu.system) / 1000 };
  }

  /** Zeroes the counts; requests still in flight stay counted, so they end at zero. */
  reset(): void {
    this.cpuAtReset = process.cpuUsage();
    const inFlight = this.stats?.inFlight ?? 0;
    const byEndpoint: Record<string, EndpointStats> = {};
    for (const [name, s] of Object.entries(this.stats?.byEndpoint ?? {})) {
      byEndpoint[name] = { requests: 0, inFlight: s.inFlight, maxInFlight: s.inFlight };
    }
    this.stats = {
      requests: 0,
      inFlight,
      maxInFlight: inFlight,
      byStatus: {},
      byEndpoint,
      tokenRequests: 0,
      cpuMs: 0,
    };
  }
}
