/** Retry pacing for failed REGISTERs: exponential, capped, with jitter so lines do not retry in lockstep. */

export interface BackoffTuning {
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/**
 * Delay before retry number `failures` (1 = after the first failure): base·2^(n-1) capped at max,
 * then "equal jitter": a uniformly random point in the upper half, so the delay never drops below
 * half the exponential value and never exceeds it.
 */
export function backoffDelay(failures: number, tuning: BackoffTuning, random: () => number = Math.random): number {
  const n = Math.max(1, failures);
  const exp = Math.min(tuning.backoffMaxMs, tuning.backoffBaseMs * 2 ** Math.min(n - 1, 40));
  return Math.round(exp / 2 + random() * (exp / 2));
}
