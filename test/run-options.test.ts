/** Flag parsing: sizes, durations, lists; what is accepted and what is refused. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from 'commander';
import {
  durationParser,
  parseChannels,
  parseConnections,
  parseRates,
  parseRepeat,
  parseSizes,
} from '../bench/cli/run-options.js';
import { parseDurationMs, parseSizeBytes } from '../bench/cli/units.js';
import { formatSize } from '../reports/format.js';
import {
  addedRawChannels,
  buildPlan,
  leftOutOfPlan,
  plannedChannels,
  SWEEP_RATES_PER_SEC,
  type ChannelTable,
  type PlanOptions,
} from '../bench/running/planner.js';
import { CHANNELS, CHANNEL_IDS } from '../agents/contract/channels.js';
import { UsageError } from '../bench/cli/errors.js';

describe('sizes', () => {
  it('accepts bytes and k/Ki/M/Mi suffixes', () => {
    assert.deepEqual(parseSizes('64,1k,1Ki,16KiB,1M,1Mi'), [64, 1000, 1024, 16384, 1_000_000, 1_048_576]);
    assert.equal(parseSizeBytes('1.5Ki'), 1536);
    assert.equal(parseSizeBytes('1.5'), undefined);
  });
  it('refuses what is not a size, or out of range', () => {
    for (const bad of ['', 'abc', '1Gi', '15', '65Mi', '64,,x'])
      assert.throws(() => parseSizes(bad), InvalidArgumentError, bad);
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
      settings: {
        durationMs: 100,
        warmupMs: 10,
        verify: 'sample',
        pin: 'none',
        connectTimeoutMs: 1000,
        peerTimeoutMs: 1000,
      },
    });
    assert.deepEqual(
      plan.cases.map((c) => `${c.repeat}:${c.channel}:${c.sizeBytes}`),
      ['0:tcp:64', '0:tcp:1024', '0:shm:64', '0:shm:1024', '1:tcp:64', '1:tcp:1024', '1:shm:64', '1:shm:1024'],
    );
    assert.deepEqual(
      plan.cases.map((c) => c.index),
      [0, 1, 2, 3, 4, 5, 6, 7],
    );
    assert.match(plan.runId, /^[a-z0-9]{10}$/);
  });
  it('plans the raw channel a protocol rides on before it, once, and says it added it', () => {
    const asked = parseChannels('grpc,shm,http1,h2-uds');
    assert.deepEqual(plannedChannels(asked), ['tcp', 'grpc', 'shm', 'http1', 'uds', 'h2-uds']);
    assert.deepEqual(addedRawChannels(asked), [
      { channel: 'tcp', protocol: 'grpc' },
      { channel: 'uds', protocol: 'h2-uds' },
    ]);
    // Asked for, it keeps its place and is not "added".
    assert.deepEqual(plannedChannels(parseChannels('http1,tcp')), ['tcp', 'http1']);
    assert.deepEqual(addedRawChannels(parseChannels('uds,http1-uds')), []);
  });
  it('expands "all" and refuses unknown channels', () => {
    assert.deepEqual(parseChannels('all'), CHANNEL_IDS);
    assert.throws(() => parseChannels('tcp,pigeon'), /unknown channel "pigeon"/);
  });

  // A stand-in registry (the real one has no channel without a mode or with a size bound yet):
  // tcp without throughput, uds bound to 1 KiB messages, the rest as registered.
  const restricted: ChannelTable = {
    ...CHANNELS,
    tcp: { ...CHANNELS.tcp, modes: ['latency'] },
    uds: { ...CHANNELS.uds, maxSize: { bytes: 1024, reason: 'a bound for this test' } },
  };
  const options: PlanOptions = {
    channels: parseChannels('tcp,uds,shm'),
    modes: ['latency', 'throughput'],
    sizesBytes: [64, 4096],
    repeat: 2,
    settings: {
      durationMs: 100,
      warmupMs: 10,
      verify: 'sample',
      pin: 'none',
      connectTimeoutMs: 1000,
      peerTimeoutMs: 1000,
    },
  };
  it('plans only what a channel supports, and lists what it left out and why (once, not per repeat)', () => {
    const plan = buildPlan(options, undefined, restricted);
    const planned = plan.cases.filter((c) => c.repeat === 0).map((c) => `${c.channel}:${c.mode}:${c.sizeBytes}`);
    assert.deepEqual(planned, [
      'tcp:latency:64',
      'tcp:latency:4096',
      'uds:latency:64',
      'uds:throughput:64',
      'shm:latency:64',
      'shm:latency:4096',
      'shm:throughput:64',
      'shm:throughput:4096',
    ]);
    assert.equal(plan.cases.length, 2 * planned.length);
    assert.deepEqual(
      leftOutOfPlan(options, restricted).map((l) => `${l.channel}:${l.mode}:${l.sizeBytes}: ${l.reason}`),
      [
        'tcp:throughput:64: the channel has no throughput mode (it supports latency)',
        'tcp:throughput:4096: the channel has no throughput mode (it supports latency)',
        'uds:latency:4096: above the largest message the channel carries, 1 KiB (a bound for this test)',
        'uds:throughput:4096: above the largest message the channel carries, 1 KiB (a bound for this test)',
      ],
    );
    assert.deepEqual(leftOutOfPlan(options), [], 'the registry supports every channel in both modes at these sizes');
  });
  it('refuses a plan with nothing in it, naming why', () => {
    assert.throws(
      () => buildPlan({ ...options, channels: ['tcp'], modes: ['throughput'] }, undefined, restricted),
      (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.match(
          err.message,
          /^nothing to measure: no channel supports what was asked \(tcp throughput 64 B: the channel has no throughput mode/,
        );
        return true;
      },
    );
  });
});

describe('rates and connections', () => {
  const settings = {
    durationMs: 100,
    warmupMs: 10,
    verify: 'sample',
    pin: 'none',
    connectTimeoutMs: 1000,
    peerTimeoutMs: 1000,
  } as const;

  it('parses target rates with k and M, sorted and without repeats, or sweep', () => {
    assert.deepEqual(parseRates('10k,1k,1.5M,1k'), { sweep: false, ratesPerSec: [1000, 10_000, 1_500_000] });
    assert.deepEqual(parseRates('sweep'), { sweep: true });
    for (const bad of ['', '0', '1x', '20M', 'fast', '-5'])
      assert.throws(() => parseRates(bad), InvalidArgumentError, `refuses "${bad}"`);
  });

  it('parses connection counts from 1 to 64', () => {
    assert.deepEqual(parseConnections('4,1,4,16'), [1, 4, 16]);
    for (const bad of ['0', '65', '2.5', 'many', ''])
      assert.throws(() => parseConnections(bad), InvalidArgumentError, `refuses "${bad}"`);
  });

  it('plans a sweep as rising steps, a list as its rates, and each connection count as cases of its own', () => {
    const sweep = buildPlan({
      channels: ['tcp'],
      modes: ['rate'],
      sizesBytes: [64],
      repeat: 1,
      rates: { sweep: true },
      settings,
    });
    assert.deepEqual(
      sweep.cases.map((c) => c.targetRatePerSec),
      SWEEP_RATES_PER_SEC,
    );
    assert.ok(sweep.cases.every((c) => c.sweep === true));
    assert.ok(
      SWEEP_RATES_PER_SEC.every((r, i) => i === 0 || r > SWEEP_RATES_PER_SEC[i - 1]!),
      'rising',
    );
    const listed = buildPlan({
      channels: ['tcp', 'udp'],
      modes: ['latency', 'rate'],
      sizesBytes: [64],
      repeat: 1,
      rates: { sweep: false, ratesPerSec: [1000, 5000] },
      connections: [1, 4],
      settings,
    });
    assert.deepEqual(
      listed.cases.map((c) => `${c.channel} ${c.mode} ${c.connections ?? 1} ${c.targetRatePerSec ?? '-'}`),
      [
        'tcp latency 1 -',
        'tcp latency 4 -',
        'tcp rate 1 1000',
        'tcp rate 1 5000',
        'tcp rate 4 1000',
        'tcp rate 4 5000',
        'udp latency 1 -',
        'udp rate 1 1000',
        'udp rate 1 5000',
      ],
    );
    const leftOut = leftOutOfPlan({
      channels: ['udp'],
      modes: ['latency'],
      sizesBytes: [64],
      repeat: 1,
      connections: [1, 4],
      settings,
    });
    assert.deepEqual(
      leftOut.map((l) => `${l.channel} ${l.connections}`),
      ['udp 4'],
    );
    assert.match(leftOut[0]!.reason, /one connection only/);
  });
});

describe('sessions and requests in flight', () => {
  const settings = {
    durationMs: 100,
    warmupMs: 10,
    verify: 'sample',
    pin: 'none',
    connectTimeoutMs: 1000,
    peerTimeoutMs: 1000,
  } as const;
  it('spreads h2 and grpc connections over sessions, keeps the others at one request in flight', () => {
    const options = {
      channels: ['h2', 'tcp'] as const,
      modes: ['latency'] as const,
      sizesBytes: [64],
      repeat: 1,
      connections: [1, 2, 3, 4],
      sessions: 2,
      inFlight: 4,
      settings,
    };
    const plan = buildPlan({ ...options, channels: [...options.channels], modes: [...options.modes] });
    assert.deepEqual(
      plan.cases.map((c) => `${c.channel} ${c.connections ?? 1} ${c.sessions ?? 1} ${c.inFlight ?? 1}`),
      ['tcp 1 1 1', 'tcp 2 1 1', 'tcp 3 1 1', 'tcp 4 1 1', 'h2 1 1 4', 'h2 2 2 4', 'h2 4 2 4'],
    );
    const leftOut = leftOutOfPlan({ ...options, channels: [...options.channels], modes: [...options.modes] });
    assert.deepEqual(
      leftOut.map((l) => `${l.channel} ${l.connections}: ${l.reason}`),
      ['h2 3: 3 connections do not spread evenly over 2 sessions'],
    );
  });
});
