/**
 * The fixed part of every message, as both agents and the orchestrator's size checks know it.
 * Native-free, so the CLI can use it without loading the agents' libc bindings.
 */

/** Bytes of header at the start of every message; the smallest message is a bare header. */
export const HEADER_BYTES = 16;
