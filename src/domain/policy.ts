/**
 * Who must approve a request, in which order. A request passes through its stages in order: the provider's internal
 * approvers first (when the tenant asks for it, or when the tenant has not opted in to customer approval), then the
 * customer's approvers. Eligibility and quorum of a stage are read from the policy in force at decision time.
 */
export const Stage = {
  internal: 'internal',
  customer: 'customer',
} as const;
export type Stage = (typeof Stage)[keyof typeof Stage];

export interface ApprovalPolicy {
  tenant: string;
  /** The tenant settings version this policy was read from (0: built-in default). */
  version: number;
  /** Whether the tenant's own approvers must approve (Customer Lockbox opt-in). */
  customerApproval: boolean;
  /** User ids of the tenant's approvers. */
  approvers: string[];
  /** Distinct tenant approvals needed. */
  quorum: number;
  /** Whether a provider-side internal approver must approve first. */
  internalApproval: boolean;
  /** User ids of the provider's internal approvers. */
  internalApprovers: string[];
  /** Distinct internal approvals needed. */
  internalQuorum: number;
  /** A stage without a decision for `afterMs` is escalated: these people are told and may decide in it (absent: never). */
  escalation?: EscalationRule;
  /** How many reminders the undecided get and how far apart, per stage (absent: one, before expiry). */
  reminders?: ReminderRule;
}

/** The tenant's escalation list for silent approvers (docs/break-glass.md, "Escalation"). */
export interface EscalationRule {
  afterMs: number;
  /** User ids: told when a stage escalates, and from then on eligible in that stage like its approvers. */
  to: string[];
}

/** Reminders to the undecided approvers of a stage: `count` of them, `everyMs` apart from the stage's start. */
export interface ReminderRule {
  count: number;
  everyMs: number;
}

/** Fills fields that policies recorded by earlier versions did not have, so old requests keep their meaning. */
export function normalizePolicy(p: Partial<ApprovalPolicy> & Pick<ApprovalPolicy, 'tenant'>): ApprovalPolicy {
  return {
    tenant: p.tenant,
    version: p.version ?? 0,
    customerApproval: p.customerApproval ?? true,
    approvers: p.approvers ?? [],
    quorum: p.quorum ?? 1,
    internalApproval: p.internalApproval ?? false,
    internalApprovers: p.internalApprovers ?? [],
    internalQuorum: p.internalQuorum ?? 1,
    // Only when set, so policies (and the claims signed over them) without these stay byte for byte as they were.
    ...(p.escalation ? { escalation: { afterMs: p.escalation.afterMs, to: [...p.escalation.to] } } : {}),
    ...(p.reminders ? { reminders: { count: p.reminders.count, everyMs: p.reminders.everyMs } } : {}),
  };
}

/** The stages a request goes through under this policy, in order; never empty. */
export function stagesFor(p: ApprovalPolicy): Stage[] {
  const stages: Stage[] = [];
  if (p.internalApproval || !p.customerApproval) stages.push(Stage.internal);
  if (p.customerApproval) stages.push(Stage.customer);
  return stages;
}

/** Who may decide in a stage and how many distinct approvals it needs. */
export function stageRule(p: ApprovalPolicy, stage: Stage): { approvers: string[]; quorum: number } {
  return stage === Stage.internal
    ? { approvers: p.internalApprovers, quorum: p.internalQuorum }
    : { approvers: p.approvers, quorum: p.quorum };
}

/**
 * When undecided approvers get their one reminder: 1 hour before expiry, or at half the lifetime when the lifetime
 * is under 2 hours. Milliseconds since the epoch.
 */
export function reminderAt(createdAt: string, expiresAt: string): number {
  const created = Date.parse(createdAt);
  const expires = Date.parse(expiresAt);
  const lead = Math.min(3_600_000, (expires - created) / 2);
  return Math.round(expires - lead);
}
