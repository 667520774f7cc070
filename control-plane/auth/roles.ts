/** API key roles, weakest first: each role may do everything the ones before it may. */
export const ROLES = ['reader', 'responder', 'contributor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** True when a key of role `held` may call a route that needs `needed`. */
export function roleAllows(held: Role, needed: Role): boolean {
  return ROLES.indexOf(held) >= ROLES.indexOf(needed);
}

/** The role a route's `schema.security` asks for (`[{ apiKey: ['contributor'] }]`), or undefined when it asks for none. */
export function neededRole(security: ReadonlyArray<Record<string, readonly string[]>> | undefined): Role | undefined {
  const roles = (security ?? []).flatMap((s) => s.apiKey ?? []).filter(isRole);
  // Several requirements are alternatives; the weakest one suffices.
  return roles.sort((a, b) => ROLES.indexOf(a) - ROLES.indexOf(b))[0];
}
