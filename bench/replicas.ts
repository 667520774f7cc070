export interface ReplicasOptions { replicas: number[]; events: number; batch: number; window: number; dir: string; log?: (line: string) => void }
export interface ReplicasResult { passes: Array<{ replicas: number; eventsPerSec: number; duplicates: number }> }
export async function runReplicas(_o: ReplicasOptions): Promise<ReplicasResult> { throw new Error('not yet'); }
export function replicasOk(_r: ReplicasResult): boolean { return false; }
export function formatReplicas(_r: ReplicasResult): string { return ''; }
