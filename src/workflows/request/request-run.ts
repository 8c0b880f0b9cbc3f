import { CancellationScope, isCancellation, upsertSearchAttributes } from '@temporalio/workflow';
import { AuditEventType } from '../../domain/audit.js';
import { createRequest, type AuditDraft } from '../../domain/decide.js';
import { FIRST_NOTICE_WITHIN_MS, type Message, type NoticeNow } from '../../domain/messages.js';
import type { ApprovalPolicy } from '../../domain/policy.js';
import { RequestStatus, isTerminal, type AccessRequest, type NewRequestInput } from '../../domain/request.js';
import type { RecordCopy } from '../../activities/records.js';
import { AuditJournal } from '../audit-journal.js';
import * as defs from '../definitions.js';
import { mustSucceed, notifications, oneTry } from './proxies.js';

/**
 * The mutable heart of one request's workflow: its state, its audit journal and the few ways they change. Every
 * part of the workflow (message handlers, the approval wait, the access window) works through one of these, so
 * the state and its audit trail never drift apart.
 */
export class RequestRun {
  state: AccessRequest;
  /** The policy as last signed by the API (decision time), for notifying the current approvers. */
  latestPolicy: ApprovalPolicy;
  /** The worker has claimed the request id and checked the request's signature: decisions may be checked now. */
  begun = false;
  readonly usedNonces = new Set<string>();
  journal: AuditJournal;
  /** Approver messages sent in the background; they finish before the workflow does. */
  readonly inFlight: Promise<void>[] = [];
  private readonly created: AuditDraft[];

  /** `runId`: this run's first execution run id; decisions are signed for it (shown as `state.runId`). */
  constructor(
    readonly input: NewRequestInput,
    readonly runId: string,
  ) {
    const created = createRequest(input);
    this.state = { ...created.state, runId };
    this.created = created.audit;
    this.latestPolicy = created.state.policy;
    this.journal = this.newJournal(input.id);
  }

  /**
   * Opens the audit trail. A second run under an id another run already owns (started around the API) gets event
   * ids of its own, so it can never overwrite or shadow the first run's trail in a sink.
   */
  open(ownsId: boolean): void {
    if (this.opened) return;
    this.opened = true;
    if (!ownsId) this.journal = this.newJournal(`${this.input.id}~${this.runId}`);
    // The request's own creation time (signed by the API), not workflow time after the local activity: a replay after
    // a retried first task would stamp request.created differently from the copy already exported.
    this.journal.record(this.created, new Date(this.input.createdAt));
    this.journal.start();
  }
  private opened = false;

  commit(next: { state: AccessRequest; audit: AuditDraft[] }): void {
    const statusChanged = next.state.status !== this.state.status;
    this.state = next.state;
    this.journal.record(next.audit);
    if (!statusChanged) return;
    upsertSearchAttributes([{ key: defs.SearchAttributes.status, value: this.state.status }]);
    // The approval and the grant's outcome go out together (the grant normally takes milliseconds).
    if (this.state.status === RequestStatus.granting) this.journal.holdUntil(() => this.state.status !== RequestStatus.granting);
    // The end's events wait for the end (in this activation; see endBegins), which takes them out with the outcome.
    if (isTerminal(this.state.status) && !this.endAwaited) {
      this.endAwaited = true;
      this.journal.holdUntil(() => !this.endAwaited, null);
    }
  }

  /**
   * The request's end has put its own hold on the trail (or will wait on something slow first: approver messages
   * still being sent), so the hold put when it ended (no timer: the end follows in the same activation) is released.
   */
  endBegins(): void {
    this.endAwaited = false;
  }
  private endAwaited = false;

  /** Approver messages being sent in the background now. */
  get sending(): number {
    return this.sendingNow;
  }
  private sendingNow = 0;

  /** Pending and not yet approved: decisions are still awaited. */
  awaitingDecision(): boolean {
    return this.state.status === RequestStatus.pending && this.state.approvedAt === null;
  }

  /**
   * Approver messages go out in the background (not cancelled with the workflow: they are already due). The trail
   * waits for them ({@link holdingAudit}) unless `holdTrail` is false.
   */
  send(messages: Message[], onSuccess: AuditDraft | null, holdTrail = true): void {
    this.sendingNow += 1;
    const sending = CancellationScope.nonCancellable(() => this.notify(messages, onSuccess)).finally(() => {
      this.sendingNow -= 1;
    });
    this.inFlight.push(holdTrail ? this.holdingAudit(sending) : sending);
  }

  /**
   * An approver message awaited in the workflow task that sends it (the approvers' first notice, a reminder): through
   * a local activity, so that it costs no activity task and no workflow task, and its event goes out with what was
   * recorded before it (held, without a timer, while the local activity runs: it is bounded by
   * {@link FIRST_NOTICE_WITHIN_MS}). Not delivered by then (a slow or failing channel, a worker that died): sent the
   * usual way (retried, audited if it fails), and the trail does not wait for it again: what is recorded goes out
   * now, the message's event in a later batch. The local activity only sends (a workflow task run again sends again,
   * and the fan-out skips what it delivered); what it answers is in history, so the event is the same on a replay.
   * @param notBefore the event's earliest time (the local activity answers the worker's clock): the request's own
   *   creation for its first notice, the time the message fell due otherwise.
   */
  async sendNow(messages: Message[], onSuccess: AuditDraft, notBefore: string = this.input.createdAt): Promise<void> {
    if (messages.length === 0) return;
    let settled = false;
    this.journal.holdUntil(() => settled, null);
    try {
      let answer: NoticeNow | null = null;
      try {
        answer = await oneTry.sendNoticeNow({ messages, withinMs: FIRST_NOTICE_WITHIN_MS });
      } catch (err) {
        if (isCancellation(err)) throw err;
      }
      const at = deliveredAt(answer, notBefore);
      if (at) this.journal.record([onSuccess], at);
      else this.send(messages, onSuccess, false);
    } finally {
      settled = true;
    }
  }

  /**
   * Holds the audit export while `work` (notifications) runs, so that the events waiting for it and the
   * notification's own event go out in one batch ({@link AuditJournal.holdUntil}). Returns `work`.
   */
  holdingAudit<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    const mark = () => {
      settled = true;
    };
    work.then(mark, mark);
    this.journal.holdUntil(() => settled);
    return work;
  }

  /** Sends messages; a failing channel never fails the request, it is audited instead. */
  async notify(messages: Message[], onSuccess: AuditDraft | null): Promise<void> {
    if (messages.length === 0) return;
    try {
      await notifications.sendNotifications(messages);
      if (onSuccess) this.journal.record([onSuccess]);
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.journal.record([
        {
          type: AuditEventType.notificationFailed,
          actor: 'system',
          details: { recipients: messages.map((m) => m.recipient), kind: messages[0]?.kind, error: failureMessage(err) },
        },
      ]);
    }
  }

  private newJournal(auditId: string): AuditJournal {
    // The request's record (docs/records.md) is kept with each batch, as the request stands when it goes out; a
    // second run under a used id keeps none (the id's record is the owner's).
    this.ownTrail = auditId === this.input.id;
    return new AuditJournal(auditId, this.input.tenant, (events, version) => {
      const record = this.recordAt(version);
      return record ? mustSucceed.exportAudit(events, record) : mustSucceed.exportAudit(events);
    });
  }
  private ownTrail = true;

  /** The request's record to keep with a batch of its trail (`version` events long); none for a second run's trail. */
  recordAt(version: number): RecordCopy | undefined {
    return this.ownTrail ? { request: this.state, version } : undefined;
  }
}

/**
 * When a message sent now was delivered, if the local activity's answer (it crosses a trust boundary) says it was:
 * its time, never before `notBefore` (a worker clock behind the API's or the server's), so the trail stays in order.
 * Null: send it again the usual way. The time comes from the answer in history, so a replay records the same event.
 */
export function deliveredAt(answer: unknown, notBefore: string): Date | null {
  if (typeof answer !== 'object' || answer === null || (answer as { delivered?: unknown }).delivered !== true) return null;
  const at = (answer as { at?: unknown }).at;
  const ms = typeof at === 'string' ? Date.parse(at) : Number.NaN;
  if (!Number.isFinite(ms)) return null;
  return new Date(Math.max(ms, Date.parse(notBefore)));
}

/** The reason an activity failed, as its (sanitised) error says; never a stack. */
export function failureMessage(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  return cause instanceof Error ? cause.message : String(cause);
}
