import type { Brain } from '../brain/index.js';
import { defaultBrain } from '../brain/index.js';
import type { Config } from '../config.js';
import type { Agent } from '../domain/agents.js';
import type { EventBus } from '../events/bus.js';
import { SessionRegistry } from './sessions.js';

export interface CallRuntimeOptions {
  /** Replaces every agent's brain (benchmarks, tests). */
  brain?: Brain;
  /** Where call context updates are published; sessions follow them instead of re-reading the call every turn. */
  bus?: EventBus;
}

/** How many recent prompt→first-token latencies are kept for reporting. */
const LATENCY_SAMPLES = 10_000;

/**
 * The live side of calls in this process: the relay sessions and the brains that answer in them.
 * Created by the composition root; the Twilio edge and the supervisor routes share it.
 */
export class CallRuntime {
  readonly sessions = new SessionRegistry();
  /** What an inbound call hears first when its agent has no greeting of its own. */
  readonly defaultGreeting: string;
  private readonly fallback: Brain;
  /** Open relay sockets, so shutdown can close them. */
  private readonly closers = new Set<() => Promise<void>>();

  private readonly contextWatchers = new Map<string, (context: Record<string, unknown>) => void>();
  private readonly latencies: number[] = [];
  private latencyNext = 0;

  constructor(config: Config, opts: CallRuntimeOptions = {}) {
    this.fallback = opts.brain ?? defaultBrain(config);
    this.defaultGreeting = config.defaultGreeting;
    // For the process's lifetime: the bus drops its subscribers when it closes.
    opts.bus?.subscribe((e) => {
      if (e.type !== 'context.updated' || !e.callSid) return;
      this.contextWatchers.get(e.callSid)?.(e.data.context);
    });
  }

  /** Calls `onChange` with the call's whole context whenever it is updated; returns the way to stop. */
  watchContext(callSid: string, onChange: (context: Record<string, unknown>) => void): () => void {
    this.contextWatchers.set(callSid, onChange);
    return () => {
      if (this.contextWatchers.get(callSid) === onChange) this.contextWatchers.delete(callSid);
    };
  }

  /** Records how long a reply took from the caller's final prompt to its first token, in ms. */
  observeFirstToken(ms: number): void {
    if (this.latencies.length < LATENCY_SAMPLES) this.latencies.push(ms);
    else this.latencies[this.latencyNext++ % LATENCY_SAMPLES] = ms;
  }

  /** The recent prompt→first-token latencies (ms), oldest first not guaranteed. */
  firstTokenLatencies(): readonly number[] {
    return this.latencies;
  }

  /** The brain answering for an agent. One kind for all agents today; per-agent handlers plug in here. */
  brainFor(_agent: Agent): Brain {
    return this.fallback;
  }

  activeCalls(): number {
    return this.sessions.size();
  }

  /** Tracks an open socket; the returned function forgets it. */
  track(close: () => Promise<void>): () => void {
    this.closers.add(close);
    return () => { this.closers.delete(close); };
  }

  /** Closes every relay socket (shutdown) and waits until each session recorded why its call ended. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.closers].map((close) => close().catch(() => undefined)));
  }
}
