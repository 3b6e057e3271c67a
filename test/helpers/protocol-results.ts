/**
 * A results document with protocol cases added: `http1-uds` cases made from the document's `uds`
 * cases, with the same figures plus a known difference, so what the reports compute of a
 * protocol's cost can be checked against what was put in.
 */
import type { ResultsDocument } from '../../agents/contract/schema.js';

/**
 * `doc` plus an `http1-uds` case for each ok `uds` case: p50 raised by `addedP50Ns[repeat]`,
 * a tenth of the rate, 50 and 30 µs more CPU per message (initiator, responder), and the wire
 * bytes a responder records (the size + 123 bytes a request, 111 an answer).
 */
export function withProtocolCases(doc: ResultsDocument, addedP50Ns: readonly number[]): ResultsDocument {
  return {
    ...doc,
    cases: [
      ...doc.cases,
      ...doc.cases
        .filter((c) => c.channel === 'uds' && c.status === 'ok')
        .map((c) => ({
          ...c,
          channel: 'http1-uds' as const,
          latencyNs: c.latencyNs && { ...c.latencyNs, p50: c.latencyNs.p50 + addedP50Ns[c.repeat]! },
          throughput: c.throughput && { ...c.throughput, messagesPerSec: c.throughput.messagesPerSec / 10 },
          cpu: c.cpu && {
            initiator: { ...c.cpu.initiator, perMessageUs: c.cpu.initiator.perMessageUs + 50 },
            responder: { ...c.cpu.responder, perMessageUs: c.cpu.responder.perMessageUs + 30 },
          },
          details: { 'responder.wireBytesInPerMessage': c.sizeBytes + 123, 'responder.wireBytesOutPerMessage': 111 },
        })),
    ],
  };
}
