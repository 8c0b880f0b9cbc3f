export { accessRequestWorkflow } from './access-request.js';
export { tenantSettingsWorkflow } from './tenant-settings.js';
export { reconcileWorkflow } from './reconcile.js';
