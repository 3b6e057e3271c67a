/**
 * Following a container's log through the Kubernetes API so that no line is lost or doubled when
 * the stream breaks. A followed log can end while the container runs (an API server or kubelet
 * restart, a load balancer's idle timeout), and client-node pipes the response without passing
 * on its errors, so a reset connection may never end at all: silence is the only sign. So:
 *
 * - every line comes with the kubelet's timestamp (`timestamps=true`), which is stripped before it
 *   is passed on;
 * - when the stream ends, or stays silent for STALL_MS, it is opened again with `sinceTime` at the
 *   second of the last line passed on. The kubelet then sends, in the file's order, every line
 *   stamped at or after that second, so exactly those already passed on are skipped (counted from
 *   their timestamps, not from the start of the log, which rotation would shift). A live stream is
 *   never filtered: stdout and stderr lines may carry timestamps slightly out of order;
 * - when the container has stopped, one last read without follow collects what a broken stream
 *   may have missed before the end;
 * - opening fails (the kubelet down while the API answers) are retried until RECONNECT_BUDGET_MS
 *   passes without a working stream (an API that stops answering is the pod monitor's to notice).
 */
import { PassThrough, type Writable } from 'node:stream';
import { sleep } from './kubernetes/kube-calls.js';

/** Silence after which a followed stream is taken as broken and opened again. */
export const STALL_MS = 10_000;
/** How long reopening may keep failing before the follower gives up. */
const RECONNECT_BUDGET_MS = 90_000;
/** Pause between two failed attempts to open the log. */
const RETRY_MS = 1000;
/** How long a stream that ended waits for the kubelet to report the container's exit (its next relist). */
const EXIT_REPORT_MS = 3000;
/** A source that keeps ending with nothing new is broken: give up after this many closes in a row. */
const MAX_REOPENINGS = 50;
/** Longest wait for the last read (without follow) to end. */
const LAST_READ_MS = 30_000;

/** What the follower needs from the cluster. */
export interface LogSource {
  /**
   * Opens the log (with timestamps) into `into`, following it or not, from `sinceTime` (RFC 3339,
   * whole seconds, UTC) when given; resolves to a function that aborts the request.
   */
  open(into: Writable, follow: boolean, sinceTime?: string): Promise<() => void>;
  /** Whether the container still runs; undefined when that cannot be told now. */
  running(): Promise<boolean | undefined>;
  /** One line for the user. */
  note(text: string): void;
}

/**
 * A sortable key (UTC, nanoseconds) for a log timestamp. The runtime stamps lines in the node's
 * local time, so a stamp may carry an offset (`…+02:00`) instead of `Z`. Undefined for a line
 * without a stamp.
 */
export function timeKey(stamp: string): string | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(stamp);
  if (!m) return undefined;
  const seconds = new Date(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds.getTime())) return undefined;
  return `${seconds.toISOString().slice(0, 19)}.${(m[2] ?? '').padEnd(9, '0')}`;
}

/** Follows one container's log; `lines` gets each whole line once, in order, and ends with the log. */
export class LogFollower {
  /** The container's log lines, timestamps stripped, each ending in a newline. */
  readonly lines = new PassThrough();
  /** The keys of the lines passed on, in the order passed on. */
  private readonly passedKeys: string[] = [];
  /** Lines the current stream will send again (already passed on), still to skip. */
  private toSkip = 0;
  private abort: (() => void) | undefined;
  private stopped = false;
  /** Which stream is current: data and ends of any other are ignored. */
  private generation = 0;
  private stallTimer: NodeJS.Timeout | undefined;
  private reopenings = 0;
  /** Streams that closed since the last new line. */
  private closesWithoutLines = 0;

  constructor(private readonly source: LogSource) {}

  /** Opens the followed log; rejects when the first attempt fails (nothing started). */
  async start(): Promise<void> {
    await this.connect(true);
  }

  /** Stops following and ends `lines`. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.generation++;
    clearTimeout(this.stallTimer);
    this.abort?.();
    this.lines.end();
  }

  /** The second of the last line passed on, as `sinceTime`. */
  private sinceTime(): string | undefined {
    const last = this.passedKeys.at(-1);
    return last ? `${last.slice(0, 19)}Z` : undefined;
  }

  /** Passes on a line (timestamp first) unless it is one the reopened stream sends again. */
  private accept(stamped: string): void {
    if (this.stopped) return;
    if (this.toSkip > 0) {
      this.toSkip--;
      return;
    }
    const space = stamped.indexOf(' ');
    const key = timeKey(space > 0 ? stamped.slice(0, space) : '');
    this.passedKeys.push(key ?? this.passedKeys.at(-1) ?? '');
    this.closesWithoutLines = 0;
    this.lines.write(`${key === undefined ? stamped : stamped.slice(space + 1)}\n`);
  }

  /** Opens the log once; a rejection means the request failed. */
  private async connect(follow: boolean): Promise<void> {
    const generation = ++this.generation;
    const since = this.sinceTime();
    // The kubelet sends every line stamped at or after `since`: those passed on already come again.
    const sinceKey = since ? `${since.slice(0, 19)}.000000000` : '';
    this.toSkip = since ? this.passedKeys.filter((k) => k >= sinceKey).length : 0;
    const raw = new PassThrough();
    let pending = '';
    raw.setEncoding('utf8');
    raw.on('data', (chunk: string) => {
      if (generation !== this.generation) return;
      if (follow) this.armStall(generation);
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0 && generation === this.generation) {
        this.accept(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    // A line cut by the end is dropped here and read again in full from the reopened stream.
    const ended = new Promise<void>((resolve) => raw.on('end', () => resolve()));
    this.abort?.();
    const abort = await this.source.open(raw, follow, since);
    if (generation !== this.generation) {
      abort(); // stopped, or superseded, while opening
      return;
    }
    this.abort = abort;
    if (!follow) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('the last read of the log did not end')), LAST_READ_MS).unref();
      });
      await Promise.race([ended, timeout]).finally(() => clearTimeout(timer));
      return;
    }
    this.armStall(generation);
    void ended.then(() => {
      if (generation === this.generation) void this.reopen('closed');
    });
  }

  private armStall(generation: number): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      if (generation === this.generation) void this.reopen('stalled');
    }, STALL_MS);
  }

  /** After a followed stream ended or stalled: follow again while the container runs, else read what is left and end. */
  private async reopen(why: 'closed' | 'stalled'): Promise<void> {
    if (this.stopped) return;
    clearTimeout(this.stallTimer);
    this.generation++; // whatever the old stream still delivers is ignored
    this.abort?.();
    this.abort = undefined;
    this.reopenings++;
    if (why === 'closed' && ++this.closesWithoutLines > MAX_REOPENINGS) {
      this.lines.destroy(
        new Error(`the initiator's log stream closed ${MAX_REOPENINGS} times in a row with nothing new`),
      );
      return;
    }
    const running = () => this.source.running().catch(() => undefined);
    let state = await running();
    // A stream ends when the container exits, and the kubelet reports the exit a moment later.
    const exitReport = Date.now() + EXIT_REPORT_MS;
    while (why === 'closed' && state === true && Date.now() < exitReport && !this.stopped) {
      await sleep(EXIT_REPORT_MS / 6);
      state = await running();
    }
    const deadline = Date.now() + RECONNECT_BUDGET_MS;
    let lastError: unknown;
    while (!this.stopped) {
      try {
        if (state === false) {
          await this.connect(false);
          this.stop();
          return;
        }
        if (state === true) {
          await this.connect(true);
          // Silence during a long case is normal: say so only when the stream really broke.
          if (!this.stopped && (why === 'closed' || lastError !== undefined)) {
            this.source.note(
              `the initiator's log stream ${why === 'closed' ? 'closed' : 'stalled'} while it runs; ` +
                `following it again from ${this.sinceTime() ?? 'the start'} (${this.reopenings})`,
            );
          }
          return;
        }
      } catch (err) {
        lastError = err;
      }
      if (Date.now() > deadline) {
        const reason = lastError instanceof Error ? lastError.message.split('\n')[0] : 'the pod could not be read';
        this.lines.destroy(
          new Error(`the initiator's log could not be followed again for ${RECONNECT_BUDGET_MS / 1000} s: ${reason}`),
        );
        return;
      }
      await sleep(RETRY_MS);
      state = await running();
    }
  }
}
