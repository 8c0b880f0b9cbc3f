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
  private loop: Promise<void> | null = null;

  constructor(
    private readonly requestId: string,
    private readonly tenant: string,
    private readonly exportBatch: (events: AuditEvent[]) => Promise<void>,
  ) {}

  /**
   * @param at the events' time; default workflow time. Pass a time from the input where workflow time could differ
   *   between the first execution and a replay (right after a local activity), so an event exported once is the
   *   same event when the workflow records it again.
   */
  record(drafts: readonly AuditDraft[], at?: Date): void {
    for (const d of drafts) {
      this.events.push(
        buildAuditEvent({
          requestId: this.requestId,
          tenant: this.tenant,
          seq: this.events.length + 1,
          time: at ?? new Date(),
          type: d.type,
          actor: d.actor,
          details: d.details,
        }),
      );
    }
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
        await this.exportBatch(batch);
      }
    });
  }

  /**
   * Keeps what is recorded but not yet exported (and what is recorded meanwhile) from the sinks until `done()` or
   * `maxMs` of workflow time, so that a step running beside the export (the approvers' notification, the grant, the
   * outcome notifications) goes out in the same batch as the events before it: one export activity and one workflow
   * task instead of two. Costs a timer, so it is only put when something is waiting. Call it in the same activation
   * that recorded the waiting events, before the workflow awaits anything. The last step (`drain`) ignores holds.
   * `maxMs` null: no timer, for a step bounded by its own timeout (a local activity), which must end it.
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
