/**
 * The measurement clock: performance.now() called through a bound copy. A double in
 * milliseconds that keeps nanosecond resolution for the lifetime of an agent and, unlike
 * process.hrtime.bigint(), allocates nothing. The bound copy saves looking up the `performance`
 * global, which Node defines as an accessor: a getter call before every clock read, and so
 * inside every measured interval.
 */
export const now: () => number = performance.now.bind(performance);
