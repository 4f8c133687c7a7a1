/** The media benchmark's Realtime stand-in, in a process of its own so its work is not the callers'. */
import { RealtimeStandIn } from '../test/helpers/realtime-standin.js';

const standIn = await new RealtimeStandIn({ toneHz: 1000, toneMs: 1000, speedup: 50, speechRms: 500, silenceMs: 400 }).start();
process.send!({ type: 'listening', baseUrl: standIn.baseUrl });
process.on('message', (m: { type: string; from?: number }) => {
  if (m.type !== 'appends') return;
  // hrtime is CLOCK_MONOTONIC: the same clock in every process on the machine.
  process.send!({ type: 'appends', sessions: standIn.sessions.slice(m.from ?? 0).map((s) => s.appendTimes) });
});
process.on('SIGTERM', () => { void standIn.stop().then(() => process.exit(0)); });
