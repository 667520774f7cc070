export { Agent, type AgentOptions } from './agent.ts';
export { collectHostFacts, cloudFromDmi } from './host-facts.ts';
export { loadIdentity, saveIdentity, type Identity } from './identity.ts';
