/**
 * Overload shedding for new INVITEs. Past its capacity the process falls behind, callers
 * retransmit (T1), the retransmissions add work, and calls that were taken start failing by
 * timeout. Refusing the excess at once with 503 and Retry-After keeps the calls it does take
 * fast and tells well-behaved peers (and proxies that fail over) when to come back. It decides
 * before any database work, and only for INVITEs that open a call: in-dialog requests (BYE,
 * re-INVITE, ACK) of the calls already up are never shed.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import process from 'node:process';

export interface OverloadSettings {
  /** Refuse while the event loop's recent delay is above this (ms); 0 = never for lag. */
  lagMs: number;
  /** Refuse while this process has recently used more than this share of one core (percent); 0 = never for it. */
  busyPercent: number;
  /** Refuse while this many INVITE setups are in flight (received, neither ringing nor answered yet); 0 = no bound. */
  maxSetups: number;
  /** Seconds named in Retry-After. */
  retryAfterS: number;
}

export type Shed = { status: 503; reason: string; headers: Record<string, string> };

/** The event loop's recent delay (ms) and the CPU this process used, as a share of one core. */
export interface LoopLoad {
  lagMs: number;
  busy: number;
}
export type LoadSource = () => LoopLoad;

const WINDOW_MS = 250;

/**
 * The event loop's mean delay and this process's CPU time per quarter second: the delay as the
 * smaller of the last two windows, the CPU as the smallest of the last four. A mean and not a
 * maximum, and windows in a row: one GC pause or the start-up's compiling is not overload; a
 * loop that stays late, or a process that stays on a full core for a second, is. Both are
 * needed: a loop saturated by many small UDP callbacks still runs its timers nearly on time
 * (libuv reads a few datagrams per turn), so its delay stays low while the kernel's socket
 * buffer fills; only its CPU shows it. CPU time and not the loop's utilisation, which is
 * wall-clock time in callbacks: on a machine shared with other busy processes that also counts
 * time spent waiting for a CPU, and shed calls at 100 CPS that the process could take.
 */
export function loopLoad(): { load: LoadSource; stop(): void } {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  let lastCpu = process.cpuUsage();
  let lastAt = performance.now();
  const lags = [0, 0];
  const busy = [0, 0, 0, 0];
  const timer = setInterval(() => {
    const cpu = process.cpuUsage(lastCpu);
    const at = performance.now();
    lags.shift();
    // The histogram holds the delay beyond the sampling interval itself.
    lags.push(h.count ? Math.max(0, h.mean / 1e6) : 0);
    busy.shift();
    busy.push((cpu.user + cpu.system) / 1000 / Math.max(1, at - lastAt));
    lastCpu = process.cpuUsage();
    lastAt = at;
    h.reset();
  }, WINDOW_MS);
  timer.unref();
  return {
    load: () => ({ lagMs: Math.min(...lags), busy: Math.min(...busy) }),
    stop() {
      clearInterval(timer);
      h.disable();
    },
  };
}

export class OverloadGuard {
  private inFlight = 0;
  private shedCount = 0;

  constructor(private readonly settings: OverloadSettings, private readonly load: LoadSource) {}

  /** Setups counted now: received, neither ringing nor answered yet. */
  get setups(): number {
    return this.inFlight;
  }

  /** INVITEs refused so far. */
  get shed(): number {
    return this.shedCount;
  }

  /**
   * Whether a new INVITE must be refused now, and how; if not, it counts as a setup in flight
   * until the returned `done` is called (once: when it rings, 180/183, or has its final answer).
   * A call that rings waits on a person, not on this process, so it no longer counts.
   */
  admit(): { shed: Shed } | { shed: null; done: () => void } {
    const { lagMs, busyPercent, maxSetups, retryAfterS } = this.settings;
    const load = lagMs > 0 || busyPercent > 0 ? this.load() : { lagMs: 0, busy: 0 };
    let why: string | null = null;
    if (lagMs > 0 && load.lagMs > lagMs) why = `overloaded (event loop ${Math.round(load.lagMs)} ms behind)`;
    else if (busyPercent > 0 && load.busy * 100 > busyPercent) why = `overloaded (${Math.round(load.busy * 100)} % of a CPU core)`;
    else if (maxSetups > 0 && this.inFlight >= maxSetups) why = `overloaded (${this.inFlight} call setups in progress)`;
    if (why) {
      this.shedCount++;
      return { shed: { status: 503, reason: why, headers: { 'Retry-After': String(retryAfterS), Reason: `SIP;cause=503;text="${why}"` } } };
    }
    this.inFlight++;
    let counted = true;
    return {
      shed: null,
      done: () => {
        if (!counted) return;
        counted = false;
        this.inFlight--;
      },
    };
  }
}
