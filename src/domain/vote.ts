import { stageDeciders } from './escalation.js';
import { stageRule, Stage, type ApprovalPolicy } from './policy.js';
import { DecisionAction, type Decision, type DecisionProof, type Escalation } from './request.js';

/** What is being voted on: the request itself, or one extension of it. Each has its own stages and decisions. */
export interface Ballot {
  tenant: string;
  requester: string;
  stages: Stage[];
  /** The stage waiting for decisions. */
  stage: Stage | null;
  decisions: Decision[];
  /** Stages escalated to the tenant's escalation list (whose people may then decide in them). */
  escalations?: Escalation[];
}

export interface Vote {
  action: 'approve' | 'reject';
  actor: string;
  note: string | null;
  proof?: DecisionProof | null;
  until?: string;
}

export type VoteOutcome =
  | { ok: false; code: 'self_approval' | 'not_eligible' | 'already_decided'; message: string }
  | {
      ok: true;
      decisions: Decision[];
      /** The stage the vote was cast in. */
      votedIn: Stage;
      /** The stage waiting next (null when the last stage completed or on a rejection). */
      stage: Stage | null;
      /** The last stage reached its quorum. */
      approved: boolean;
      approvals: number;
      quorum: number;
    };

/**
 * One approver's vote on a ballot, under the policy in force now: eligibility for the current stage, the requester
 * never counts, each person approves once, and the stage advances when its quorum of distinct approvers is met.
 */
export function castVote(b: Ballot, v: Vote, at: string, policy: ApprovalPolicy): VoteOutcome {
  if (v.actor === b.requester) return { ok: false, code: 'self_approval', message: 'the requester cannot decide their own request' };
  const stage = b.stage ?? b.stages[0] ?? Stage.customer;
  const rule = stageRule(policy, stage);
  if (!stageDeciders(b, policy, stage).includes(v.actor)) {
    const who = stage === Stage.internal ? 'an internal approver' : `an approver of tenant ${b.tenant}`;
    return { ok: false, code: 'not_eligible', message: `${v.actor} is not ${who}` };
  }
  if (b.decisions.some((d) => d.actor === v.actor && d.action === DecisionAction.approve)) {
    return { ok: false, code: 'already_decided', message: `${v.actor} has already approved this request` };
  }
  const decision: Decision = {
    action: v.action,
    actor: v.actor,
    at,
    note: v.note,
    stage,
    policyVersion: policy.version,
    ...(v.proof ? { proof: v.proof } : {}),
    ...(v.until ? { until: v.until } : {}),
  };
  const decisions = [...b.decisions, decision];
  if (v.action === DecisionAction.reject) {
    return { ok: true, decisions, votedIn: stage, stage: null, approved: false, approvals: 0, quorum: rule.quorum };
  }
  // Only approvals of this stage by people other than the requester count towards its quorum.
  const approvals = new Set(
    decisions.filter((d) => d.action === DecisionAction.approve && (d.stage ?? b.stages[0] ?? Stage.customer) === stage && d.actor !== b.requester).map((d) => d.actor),
  ).size;
  const stageDone = approvals >= rule.quorum;
  const next = stageDone ? (b.stages[b.stages.indexOf(stage) + 1] ?? null) : stage;
  return { ok: true, decisions, votedIn: stage, stage: next, approved: stageDone && next === null, approvals, quorum: rule.quorum };
}
