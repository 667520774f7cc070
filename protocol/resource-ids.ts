/** ARM-shaped resource ids, as the real products spell them. */

/**
 * Turns a hostname into a valid Arc machine name, `^[a-zA-Z0-9-_.]{1,54}$` in the HybridCompute
 * REST reference: invalid characters become `-`, cut to 54.
 */
export function toMachineName(hostname: string): string {
  const cleaned = hostname.replace(/[^a-zA-Z0-9-_.]/g, '-').slice(0, 54);
  return cleaned.length > 0 ? cleaned : 'machine';
}

export function machineResourceId(subscription: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.HybridCompute/machines/${name}`;
}

export function sqlInstanceResourceId(subscription: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.AzureArcData/sqlServerInstances/${name}`;
}

/** An Arc-enabled Kubernetes cluster (Microsoft.Kubernetes/connectedClusters). */
export function connectedClusterResourceId(subscription: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.Kubernetes/connectedClusters/${name}`;
}

export function alertResourceId(subscription: string, resourceGroup: string, location: string, name: string): string {
  return `/subscriptions/${subscription}/resourceGroups/${resourceGroup}/providers/Microsoft.Security/locations/${location}/alerts/${name}`;
}

/** Splits an ARM id into subscription and resource group (undefined when it is not one). */
export function parseResourceId(id: string): { subscription: string; resourceGroup: string; name: string } | undefined {
  const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/.+\/([^/]+)$/.exec(id);
  return m ? { subscription: m[1]!, resourceGroup: m[2]!, name: m[3]! } : undefined;
}
