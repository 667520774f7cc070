import type { Executor } from '../executor.ts';

/**
 * The repositories form one chain of classes (settings -> agents -> machines -> events -> alerts
 * -> incidents -> inventory -> runs), each file holding one domain's SQL, so that one object
 * carries the whole store surface and the compiler checks it against the interfaces, with no
 * Proxy and no delegation boilerplate. The order of the chain has no meaning.
 */
export abstract class RepositoryBase {
  constructor(protected readonly ex: Executor) {}
}
