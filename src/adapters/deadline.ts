/**
 * `work`, or `timedOut()` thrown at `deadline` (epoch ms) if it has not settled by then. The work is not cancelled:
 * it runs on, and its outcome is ignored.
 */
export async function withDeadline<T>(work: Promise<T>, deadline: number, timedOut: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut()), Math.max(1, deadline - Date.now()));
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
