import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index.js';

/** Notifications: retried for a few minutes, then audited as failed (a broken channel never fails a request). */
export const notifications = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '1m', maximumAttempts: 8 },
});

/** Grant and extend: a few tries; a target that keeps failing ends the request as failed. */
export const grants = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '10s', maximumAttempts: 5 },
});

/** Revoke and audit export retry until they succeed: access must end and no event may be lost. */
export const mustSucceed = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumInterval: '30s', backoffCoefficient: 2 },
});

/** Start-up facts from the worker (its trusted keys, the claim on the request id); retried like any activity. */
export const local = proxyLocalActivities<Activities>({ startToCloseTimeout: '10s' });

/**
 * One try from inside a workflow task, which it holds while it runs: the approvers' first notice (`sendNoticeNow`,
 * bounded by its own `withinMs`) and a grant in Lockbox's own store (`grantAccessNow`). Each answers, never fails;
 * a timeout here is a failure the workflow treats as "not done" and does the usual way.
 */
export const oneTry = proxyLocalActivities<Activities>({ startToCloseTimeout: '5s', retry: { maximumAttempts: 1 } });
