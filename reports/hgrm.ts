/**
 * HdrHistogram percentile-distribution text (the .hgrm format HdrHistogram's plotter reads), one
 * per latency case, values in microseconds. A pure function: file names and contents.
 */
import * as hdr from 'hdr-histogram-js';
import type { ResultsDocument } from '../agents/contract/schema.js';

/** `{ fileName: content }` for every latency case that recorded a histogram. */
export function renderHgrm(doc: ResultsDocument): Record<string, string> {
  const files: Record<string, string> = {};
  for (const c of doc.cases) {
    if (!c.histogram) continue;
    const histogram = hdr.decodeFromCompressedBase64(c.histogram);
    // Recorded in ns; the plotter's convention is one unit ratio for the whole file: 1000 → µs.
    files[`${String(c.index).padStart(3, '0')}-${c.channel}-${c.mode}-${c.sizeBytes}B-r${c.repeat + 1}.hgrm`] =
      histogram.outputPercentileDistribution(5, 1000);
  }
  return files;
}
