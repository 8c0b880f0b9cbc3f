import { CancellationScope, condition } from '@temporalio/workflow';
import { buildAuditEvent, type AuditEvent } from '../domain/audit.js';
import type { AuditDraft } from '../domain/decide.js';

/**
 * The request's audit trail inside the workflow. Events get `seq` 1, 2, 3... in the order they happen and are
 * exported in that order by one background loop, in batches. While a sink is down the events wait here, in
 * Temporal history, not in a process's memory; the workflow does not finish before all are exported.
 */
export class AuditJournal {
  readonly events: AuditEvent[] = [];
  private exported = 0;
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
    this.loop = CancellationScope.nonCancellable(async () => {
      for (;;) {
        await condition(() => this.exported < this.events.length || this.closing);
        if (this.exported >= this.events.length) return;
        const batch = this.events.slice(this.exported);
        await this.exportBatch(batch);
        this.exported += batch.length;
      }
    });
  }

  /** Waits until every recorded event is exported. Record nothing after this. */
  async drain(): Promise<void> {
    this.closing = true;
    await this.loop;
  }
}
