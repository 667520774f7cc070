import { z } from 'zod';
import { MachineFactsSchema, SqlInstanceFactsSchema } from '../protocol/messages.ts';

/**
 * What `arcsim-agent collect-inventory` prints on stdout: exactly the `Inventory` object, one JSON
 * document, checked with the protocol's own schemas. The agent checks it by hand first
 * (agent/inventory-child.ts, `inventoryOk`) and loads this module only to say why one is refused.
 */
export const InventorySchema = z.strictObject({
  machine: MachineFactsSchema,
  sqlInstances: z.array(SqlInstanceFactsSchema).max(64),
  notes: z.array(z.string().max(4096)).max(256),
});
