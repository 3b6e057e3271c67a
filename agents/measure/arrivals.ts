/**
 * What arrived of a stream of numbered messages over a channel that may lose, reorder or
 * duplicate them (UDP): each sequence number is marked in a sliding window of the most recent
 * {@link WINDOW} numbers, so an arrival is told apart as new, out of order (a later message came
 * first) or a duplicate. Preallocated, and nothing allocates per arrival: it runs in timed loops.
 */

/** Sequence numbers remembered behind the highest one seen. */
export const WINDOW = 1 << 16;
const MASK = WINDOW - 1;

/** Counts of one side's arrivals. */
export interface ArrivalCounts {
  /** Distinct messages that arrived. */
  readonly unique: number;
  /** Arrivals of a message after one sent later (counted once per message). */
  readonly reordered: number;
  /** Arrivals of a message already seen. */
  readonly duplicated: number;
}

export class Arrivals implements ArrivalCounts {
  private readonly seen = new Uint32Array(WINDOW / 32);
  private highest = -1;
  unique = 0;
  reordered = 0;
  duplicated = 0;

  /** Notes the arrival of message `seq`; returns whether it is its first arrival. */
  note(seq: number): boolean {
    if (this.highest < 0) {
      // The first arrival: the window is still all clear, nothing to forget (a first number far
      // from 0 must not cost a sweep of the window inside a timed round trip).
      this.highest = seq;
      this.mark(seq);
      this.unique++;
      return true;
    }
    if (seq > this.highest) {
      // Numbers entering the window forget what the numbers WINDOW before them left.
      const from = Math.max(this.highest + 1, seq - MASK);
      for (let s = from; s < seq; s++) this.clear(s);
      this.highest = seq;
      this.mark(seq);
      this.unique++;
      return true;
    }
    if (seq <= this.highest - WINDOW) {
      // Too old to tell: counted as out of order, the likelier of the two.
      this.reordered++;
      this.unique++;
      return true;
    }
    const word = (seq & MASK) >>> 5;
    const bit = 1 << (seq & 31);
    if ((this.seen[word]! & bit) !== 0) {
      this.duplicated++;
      return false;
    }
    this.seen[word]! |= bit;
    this.reordered++;
    this.unique++;
    return true;
  }

  private mark(seq: number): void {
    this.seen[(seq & MASK) >>> 5]! |= 1 << (seq & 31);
  }

  private clear(seq: number): void {
    this.seen[(seq & MASK) >>> 5]! &= ~(1 << (seq & 31));
  }
}
