import { Context } from '@temporalio/activity';

/** How often a long call at a target tells Temporal it is alive (and learns of a cancellation). */
const HEARTBEAT_EVERY_MS = 2_000;

/**
 * Runs a call at a target while heartbeating, so a cancellation (a revoke decided while the grant is under way)
 * reaches the activity. On cancellation it still waits for the call to settle before reporting it: the workflow's
 * clean-up revoke then runs after the call, never beside it, so no grant lands after its revoke. Outside an
 * activity (tests calling activities directly) it just runs the call.
 */
export async function whileHeartbeating<T>(call: () => Promise<T>): Promise<T> {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return call();
  }
  const timer = setInterval(() => ctx.heartbeat(), HEARTBEAT_EVERY_MS);
  const pending = call();
  try {
    return await Promise.race([pending, ctx.cancelled]);
  } catch (err) {
    // Whatever ended the race (a cancellation, most likely), the call at the target finishes first. Not an
    // instanceof check: the SDK's failure classes can come from another copy of the module.
    await pending.catch(() => undefined);
    throw err;
  } finally {
    clearInterval(timer);
  }
}
