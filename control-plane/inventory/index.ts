export { Inventory, InventoryConfigSchema, type ConnectedAgents, type InventoryConfig } from './inventory.ts';
export { mergeAssets, isEc2VmUuid, assetIdOf } from './asset-merge.ts';
export { RECOMMENDATIONS } from './recommendations.ts';
export { PLANS, MANAGED_EXTENSIONS } from './plans.ts';
