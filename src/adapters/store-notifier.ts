import type { Notifier } from '../ports/notifier.js';
import type { Store } from '../ports/store.js';

/** The embedded default channel: the in-app notification list (`GET /v1/notifications`). */
export function createStoreNotifier(store: Store): Notifier {
  return {
    async notify(n) {
      await store.addNotification(n);
    },
  };
}
