/** Builds a "second run" from a fixture by scaling its measurements: an injected slowdown or noise. */
import * as hdr from 'hdr-histogram-js';
import type { CaseResult, ResultsDocument } from '../../agents/contract/schema.js';
import { newLatencyHistogram } from '../../agents/measure/loop.js';

/** A copy of `doc` whose round trips are multiplied and throughputs divided by `factor(case)`. */
export function scaledResults(doc: ResultsDocument, factor: (c: CaseResult) => number, label: string): ResultsDocument {
  const cases = doc.cases.map((c) => {
    const f = factor(c);
    if (c.status !== 'ok') return c;
    const scaled: CaseResult = { ...c };
    if (c.latencyNs && c.histogram) {
      const source = hdr.decodeFromCompressedBase64(c.histogram) as unknown as hdr.JsHistogram;
      const target = newLatencyHistogram();
      const it = source.recordedValuesIterator;
      it.reset();
      while (it.hasNext()) {
        const step = it.next();
        target.recordValueWithCount(Math.round(step.valueIteratedTo * f), step.countAtValueIteratedTo);
      }
      scaled.histogram = hdr.encodeIntoCompressedBase64(target);
      const l = c.latencyNs;
      scaled.latencyNs = {
        ...l,
        p50: Math.round(l.p50 * f),
        p90: Math.round(l.p90 * f),
        p99: Math.round(l.p99 * f),
        p999: Math.round(l.p999 * f),
        max: Math.round(l.max * f),
        mean: l.mean * f,
      };
    }
    if (c.throughput)
      scaled.throughput = {
        bytesPerSec: c.throughput.bytesPerSec / f,
        messagesPerSec: c.throughput.messagesPerSec / f,
      };
    return scaled;
  });
  return { ...doc, run: { ...doc.run, label }, cases };
}
