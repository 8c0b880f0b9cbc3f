import { CancellationScope, condition } from '@temporalio/workflow';
import { buildAuditEvent, type AuditEvent } from '../domain/audit.js';
import type { AuditDraft } from '../domain/decide.js';

/**
 * How long a hold ({@link AuditJournal.holdUntil}) may keep recorded events from the sinks. Normally the held step
 * (a notification, a grant) takes milliseconds and its outcome goes out in the same batch; a channel or a target
 * that is slow or failing delays the trail by this much at most.
 */
export const AUDIT_HOLD_MS = 3_000;

/**
 * The request's audit trail inside the workflow. Events get `seq` 1, 2, 3... in the order they happen and are
 * exported in that order by one background loop, in batches. While a sink is down the events wait here, in
 * Temporal history, not in a process's memory; the workflow does not finish before all are exported.
 */
export class AuditJournal {
  readonly events: AuditEvent[] = [];
  /** Events handed to an export (the one in flight included). */
  private handed = 0;
  private holds = 0;
  private closing = false;
  /** An export activity is running (batches go out one at a time, in order). */
  private exporting = false;
  /** What is recorded while the last batch goes out with the last step ({@link finishWith}); recorded after it. */
  private late: { draft: AuditDraft; at: Date }[] | null = null;
  private loop: Promise<void> | null = null;

  /** `exportBatch`'s `version`: how many events the trail has with this batch (the request's record keeps it). */
  constructor(
    private readonly requestId: string,
    private readonly tenant: string,
    private readonly exportBatch: (events: AuditEvent[], version: number) => Promise<void>,
  ) {}

  /**
   * @param at the events' time; default workflow time. Pass a time from the input where workflow time could differ
   *   between the first execution and a replay (right after a local activity), so an event exported once is the
   *   same event when the workflow records it again.
   */
  record(drafts: readonly AuditDraft[], at?: Date): void {
    for (const d of drafts) {
      if (this.late) this.late.push({ draft: d, at: at ?? new Date() });
      else this.events.push(this.build(d, this.events.length + 1, at ?? new Date()));
    }
  }

  private build(d: AuditDraft, seq: number, time: Date): AuditEvent {
    return buildAuditEvent({ requestId: this.requestId, tenant: this.tenant, seq, time, type: d.type, actor: d.actor, details: d.details });
  }

  /** Starts the export loop; a Temporal cancellation of the workflow does not stop it. */
  start(): void {
    const ready = () => (this.handed < this.events.length && this.holds === 0) || this.closing;
    this.loop = CancellationScope.nonCancellable(async () => {
      for (;;) {
        await condition(ready);
        // Checked again: code that ran between the condition and here (the same activation) may have put a hold.
        if (!ready()) continue;
        if (this.handed >= this.events.length) return;
        const batch = this.events.slice(this.handed);
        this.handed += batch.length;
        this.exporting = true;
        try {
          await this.exportBatch(batch, this.handed);
        } finally {
          this.exporting = false;
        }
      }
    });
  }

  /**
   * Ends the trail with `last` in one activity together with a last step (the outcome notifications): `step` gets
   * the trail's last batch (every event not yet exported, then `last`) and its version, does its work, exports the
   * batch, and answers how far it got. One activity and one workflow task instead of two each, and no hold timer.
   * An export in flight finishes first (batches go out in order).
   * - `exported`: `last` is recorded (with the time it went out with) and the batch counts as exported;
   * - `recorded`: the step's work is done but the batch is not exported: `last` is recorded, the batch goes the
   *   usual way (retried until it is out);
   * - null: nothing of the batch counts as exported and `last` is not recorded: the caller goes the usual way.
   * What is recorded while `step` runs (a forged decision) is recorded after `last` if it was recorded, before it
   * otherwise; either way no two events share a `seq`. Answers whether `last` was recorded.
   */
  async finishWith(last: AuditDraft, step: (batch: AuditEvent[], version: number) => Promise<'exported' | 'recorded' | null>): Promise<boolean> {
    if (this.closing || this.late) return false;
    this.holds += 1;
    let done: 'exported' | 'recorded' | null = null;
    try {
      // A batch still going out goes first (batches go out in order); the hold keeps the loop from starting another.
      await condition(() => !this.exporting);
      const closing = this.build(last, this.events.length + 1, new Date());
      const batch = [...this.events.slice(this.handed), closing];
      this.late = [];
      try {
        done = await step(batch, closing.seq);
      } finally {
        const late = this.late;
        this.late = null;
        if (done) this.events.push(closing);
        if (done === 'exported') this.handed = this.events.length;
        for (const l of late) this.record([l.draft], l.at);
      }
    } finally {
      this.holds -= 1;
    }
    return done !== null;
  }

  /**
   * Keeps what is recorded but not yet exported (and what is recorded meanwhile) from the sinks until `done()` or
   * `maxMs` of workflow time, so that a step running beside the export (the approvers' notification, the grant, the
   * outcome notifications when the end is not one activity) goes out in the same batch as the events before it: one
   * export activity and one workflow task instead of two. Costs a timer, so it is only put when something is waiting.
   * Call it in the same activation that recorded the waiting events, before the workflow awaits anything. The last
   * step (`drain`) ignores holds.
   * `maxMs` null: no timer, for a step bounded by its own timeout (a local activity) or one that follows in the
   * same activation (a request's end: RequestRun.commit), which must end it.
   */
  holdUntil(done: () => boolean, maxMs: number | null = AUDIT_HOLD_MS): void {
    if (this.closing || this.handed >= this.events.length || done()) return;
    this.holds += 1;
    const release = () => {
      this.holds -= 1;
    };
    CancellationScope.nonCancellable<unknown>(() => (maxMs === null ? condition(done) : condition(done, maxMs))).then(release, release);
  }

  /** Waits until every recorded event is exported. Record nothing after this. */
  async drain(): Promise<void> {
    this.closing = true;
    await this.loop;
  }
}
