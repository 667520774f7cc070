import type { AlertPageQuery, AlertRow, Store } from '../../store/index.ts';

/** One page of the alerts list (AlertsRepository.pageAlerts: indexed filters, SQL paging). */
export async function alertPage(store: Store, q: AlertPageQuery): Promise<{ rows: AlertRow[]; total: number }> {
  return store.alerts.pageAlerts(q);
}

/** The alert with this id, or the alert whose product copy has this id (a product's own alert id). */
export async function findAlert(store: Store, id: string): Promise<AlertRow | undefined> {
  const direct = await store.alerts.getAlert(id);
  if (direct) return direct;
  const copy = (await store.alerts.findAlertCopies(id))[0];
  return copy ? store.alerts.getAlert(copy.systemAlertId) : undefined;
}
