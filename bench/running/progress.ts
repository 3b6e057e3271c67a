/**
 * Progress of a run on stderr: which case runs, how many are left, roughly how long, and each
 * case's headline figure as it finishes. On a terminal the running case shows on one line that
 * its result completes; in a log every finished case is one line.
 */
import { MODES } from '../../agents/contract/modes.js';
import type { CaseResult, CaseSpec, Plan } from '../../agents/contract/schema.js';
import { SUMMARY_FIELDS } from '../../reports/figures.js';
import { caseLabel } from '../../reports/format.js';

/** A finished case in one line: its status and the first two summary fields of its mode. */
function headline(result: CaseResult): string {
  if (result.status !== 'ok') return `${result.status}: ${result.reason ?? ''}`;
  const figures = MODES[result.mode].summary.slice(0, 2).flatMap((id) => {
    const field = SUMMARY_FIELDS[id];
    const value = field.ofCase(result);
    return value === undefined ? [] : [field.brief(value)];
  });
  const loss = result.loss ? [`lost ${(result.loss.lossRate * 100).toFixed(2)} %`] : [];
  return ['ok', ...figures, ...loss].join('  ');
}

/** Writes progress lines for one run. */
export class Progress {
  private readonly tty: boolean;
  private readonly repeats: number;
  private done = 0;
  private pendingLine = false;

  constructor(
    private readonly plan: Plan,
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly quiet = false,
  ) {
    this.tty = Boolean(out.isTTY);
    this.repeats = Math.max(1, ...plan.cases.map((c) => c.repeat + 1));
  }

  /** A free-form note (target chosen, directories, warnings). */
  note(text: string): void {
    if (this.quiet) return;
    this.endLine();
    this.out.write(`${text}\n`);
  }

  caseStarted(spec: CaseSpec): void {
    if (this.quiet || !this.tty) return;
    const leftS = Math.ceil(
      ((this.plan.cases.length - this.done) * (this.plan.settings.warmupMs + this.plan.settings.durationMs)) / 1000,
    );
    this.endLine();
    this.out.write(`${this.counter()} ${caseLabel(spec, this.repeats)} … (~${leftS}s left)`);
    this.pendingLine = true;
  }

  caseFinished(result: CaseResult): void {
    this.done++;
    if (this.quiet) return;
    if (this.pendingLine) this.out.write('\r\x1b[2K');
    this.pendingLine = false;
    this.out.write(`${this.counter(this.done)} ${caseLabel(result, this.repeats)}  ${headline(result)}\n`);
  }

  private counter(n = this.done + 1): string {
    const total = String(this.plan.cases.length);
    return `[${String(n).padStart(total.length)}/${total}]`;
  }

  private endLine(): void {
    if (this.pendingLine) this.out.write('\n');
    this.pendingLine = false;
  }
}
