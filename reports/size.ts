/** How reports (and the CLI) print a message size. */

/** `64 B`, `16 KiB`, `1 MiB`, `1000 B`: the unit is binary when the size divides evenly. */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}
