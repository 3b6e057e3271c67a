/**
 * The agent's peak resident memory, recorded with every case: a pod's memory limit has to allow
 * it, and at large messages the buffers, rings and queues are what grows.
 */

/** Peak resident set size of this process so far, in KiB (getrusage ru_maxrss). */
export function peakRssKiB(): number {
  return process.resourceUsage().maxRSS;
}
