/**
 * The log follower's bookkeeping, against a FAKE log source with the kubelet's semantics for a
 * log request (every line of the file stamped at or after sinceTime, in the file's order, each
 * with its stamp; follow keeps the stream open). The real kubelet and API server breaking a
 * stream are in kubernetes.test.ts (a kubelet restart) and kubernetes-fake.test.ts (a close and
 * a silence); here are the orders of lines they cannot produce on demand: stamps out of order
 * between stdout and stderr, several lines in one nanosecond, a node whose clock is not UTC.
 */
import assert from 'node:assert/strict';
import { PassThrough, type Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { LogFollower, timeKey } from '../bench/targets/log-follower.js';

/** A container's log file as the kubelet serves it, and the streams it has open. */
class FakeLog {
  readonly file: string[] = [];
  readonly requests: (string | undefined)[] = [];
  running = true;
  private streams: PassThrough[] = [];

  append(stamp: string, text: string): void {
    this.file.push(`${stamp} ${text}`);
    for (const s of this.streams) s.write(`${stamp} ${text}\n`);
  }
  /** Ends every open stream, as an API server restart does. */
  breakStreams(): void {
    for (const s of this.streams) s.end();
    this.streams = [];
  }
  source() {
    return {
      open: async (into: Writable, follow: boolean, sinceTime?: string) => {
        this.requests.push(sinceTime);
        const stream = new PassThrough();
        stream.pipe(into);
        const since = sinceTime ? timeKey(sinceTime)! : '';
        for (const line of this.file)
          if (timeKey(line.slice(0, line.indexOf(' ')))! >= since) stream.write(`${line}\n`);
        if (follow && this.running) this.streams.push(stream);
        else stream.end();
        return () => stream.end();
      },
      running: async () => this.running,
      note: () => undefined,
    };
  }
}

/** A started follower of a fresh fake log, and every line it will pass on. */
async function follow(): Promise<{ log: FakeLog; lines: Promise<string[]> }> {
  const log = new FakeLog();
  const follower = new LogFollower(log.source());
  await follower.start();
  const lines = (async () => {
    let text = '';
    for await (const chunk of follower.lines) text += chunk;
    return text.split('\n').filter(Boolean);
  })();
  return { log, lines };
}

describe('log follower', () => {
  it('passes a live stream on as it is, stamps out of order included', async () => {
    const { log, lines } = await follow();
    log.append('2026-12-04T10:00:01.000000002Z', 'stdout a');
    log.append('2026-12-04T10:00:01.000000001Z', 'stderr b, stamped earlier but written later');
    log.append('2026-12-04T10:00:02.5Z', 'stdout c');
    log.running = false;
    log.breakStreams();
    assert.deepEqual(await lines, ['stdout a', 'stderr b, stamped earlier but written later', 'stdout c']);
  });

  it("after a break, reopens from the last line's second and skips exactly the lines it had, equal stamps included", async () => {
    const { log, lines } = await follow();
    log.append('2026-12-04T10:00:00.9Z', 'one');
    log.append('2026-12-04T10:00:01.000000007Z', 'two');
    log.append('2026-12-04T10:00:01.000000007Z', 'three, same nanosecond');
    log.breakStreams();
    log.append('2026-12-04T10:00:01.000000007Z', 'four, same nanosecond, written while no stream was open');
    log.append('2026-12-04T10:00:03Z', 'five');
    // The follower waits for the kubelet's report of an exit before it takes the close as a break.
    await new Promise((r) => setTimeout(r, 3500));
    log.append('2026-12-04T10:00:04Z', 'six');
    log.running = false;
    log.breakStreams();
    assert.deepEqual(await lines, [
      'one',
      'two',
      'three, same nanosecond',
      'four, same nanosecond, written while no stream was open',
      'five',
      'six',
    ]);
    assert.equal(log.requests[1], '2026-12-04T10:00:01Z', 'reopened at the second of the last line');
  });

  it('reads stamps with an offset (a node not on UTC) as the same instants in UTC', async () => {
    assert.equal(timeKey('2026-12-04T12:00:01.25+02:00'), '2026-12-04T10:00:01.250000000');
    assert.equal(timeKey('2026-12-04T10:00:01Z'), '2026-12-04T10:00:01.000000000');
    assert.equal(timeKey('not a stamp'), undefined);
    const { log, lines } = await follow();
    log.append('2026-12-04T12:00:01.1+02:00', 'a');
    log.running = false;
    log.breakStreams();
    log.append('2026-12-04T12:00:02.1+02:00', 'b, after the break');
    assert.deepEqual(await lines, ['a', 'b, after the break']);
    assert.equal(log.requests[1], '2026-12-04T10:00:01Z', 'sinceTime in UTC');
  });
});
