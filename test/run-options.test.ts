/** Flag parsing: sizes, durations, lists; what is accepted and what is refused. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { durationParser, parseChannels, parseRepeat, parseSizes } from '../bench/run-options.js';
import { parseDurationMs, parseSizeBytes } from '../bench/units.js';
import { formatSize } from '../reports/size.js';
import { buildPlan } from '../bench/plan.js';

describe('sizes', () => {
  it('accepts bytes and k/Ki/M/Mi suffixes', () => {
    assert.deepEqual(parseSizes('64,1k,1Ki,16KiB,1M,1Mi'), [64, 1000, 1024, 16384, 1_000_000, 1_048_576]);
    assert.equal(parseSizeBytes('1.5Ki'), 1536);
    assert.equal(parseSizeBytes('1.5'), undefined);
  });
  it('refuses what is not a size, or out of range', () => {
    for (const bad of ['', 'abc', '1Gi', '15', '65Mi', '64,,x']) assert.throws(() => parseSizes(bad), InvalidArgumentError, bad);
  });
  it('prints sizes the way users write them', () => {
    assert.deepEqual([64, 1024, 65536, 1048576, 1000].map(formatSize), ['64 B', '1 KiB', '64 KiB', '1 MiB', '1000 B']);
  });
});

describe('durations and counts', () => {
  it('parses ms, s and m', () => {
    assert.deepEqual(['500ms', '2s', '1.5s', '1m'].map(parseDurationMs), [500, 2000, 1500, 60000]);
    assert.equal(parseDurationMs('5'), undefined);
  });
  it('enforces bounds', () => {
    const parse = durationParser(100, 1000);
    assert.equal(parse('100ms'), 100);
    assert.throws(() => parse('99ms'), InvalidArgumentError);
    assert.throws(() => parse('2s'), InvalidArgumentError);
    assert.throws(() => parseRepeat('1.5'), InvalidArgumentError);
  });
});

describe('planner', () => {
  it('puts repeats outermost and numbers cases in order', () => {
    const plan = buildPlan({
      channels: parseChannels('tcp,shm'),
      modes: ['latency'],
      sizesBytes: [64, 1024],
      repeat: 2,
      settings: { durationMs: 100, warmupMs: 10, verify: 'sample', pin: 'none', connectTimeoutMs: 1000, peerTimeoutMs: 1000 },
    });
    assert.deepEqual(plan.cases.map((c) => `${c.repeat}:${c.channel}:${c.sizeBytes}`), [
      '0:tcp:64', '0:tcp:1024', '0:shm:64', '0:shm:1024', '1:tcp:64', '1:tcp:1024', '1:shm:64', '1:shm:1024',
    ]);
    assert.deepEqual(plan.cases.map((c) => c.index), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.match(plan.runId, /^[a-z0-9]{10}$/);
  });
  it('expands "all" and refuses unknown channels', () => {
    assert.equal(parseChannels('all').length, 8);
    assert.throws(() => parseChannels('tcp,udp'), /unknown channel "udp"/);
  });
});
