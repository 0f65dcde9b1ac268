/**
 * Exponential backoff, capped, with "equal jitter": between half and all of base·2ⁿ⁻¹, so
 * retries spread out but never come back sooner than half the step.
 */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
