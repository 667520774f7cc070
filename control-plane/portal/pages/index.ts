import type { PortalAction, PortalPage } from '../page.ts';
import overview from './overview.ts';
import alerts, { bulkStatus } from './alerts.ts';
import alert from './alert.ts';
import incidents, { bulkIncidents } from './incidents.ts';
import incident, { incidentStatus, incidentTriage } from './incident.ts';
import hunting from './hunting.ts';
import inventory from './inventory.ts';
import machine from './machine.ts';
import recommendations from './recommendations.ts';
import runs from './runs.ts';
import run from './run.ts';

/**
 * Every portal page and form action, registered by routes.ts. A new page is a module in this
 * folder (its data loading and rendering) added here.
 */
export const PAGES: PortalPage[] = [overview, inventory, machine, recommendations, runs, run, alerts, alert, incidents, incident, hunting] as PortalPage[];
export const ACTIONS: PortalAction[] = [bulkStatus, incidentStatus, incidentTriage, bulkIncidents] as PortalAction[];
