import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Builds a JSON Schema (draft 2020-12 subset that ajv compiles) for one OCSF event class from the
 * schema's own source files, pinned in test/fixtures/ocsf/<version> (Apache-2.0, see its LICENSE
 * and NOTICE): the class with its `extends` chain and `$include`d profiles, each attribute typed by
 * dictionary.json (types, enums, arrays), every object it reaches from objects/ (with their own
 * `extends` and includes), `required` from `requirement: required`, and no attribute the schema
 * does not define (`additionalProperties: false`), so a misspelt or invented field fails. This is
 * what the OCSF server's JSON-schema export does; written here because the export is a web service.
 */

type Json = Record<string, any>;

export const OCSF_VERSION = '1.8.0';
export const OCSF_DIR = join(import.meta.dirname, '..', 'fixtures', 'ocsf', OCSF_VERSION);

const read = (rel: string): Json => JSON.parse(readFileSync(join(OCSF_DIR, rel), 'utf8'));

const dictionary = read('dictionary.json');
const categories = read('categories.json');
const TYPES: Json = dictionary.types.attributes;
const DICT: Json = dictionary.attributes;

/**
 * The attributes of a class or object file with its `extends` chain and includes merged, child
 * last. An attribute a profile brings (or one a file binds with `"profile": name`) is kept only
 * when that profile is applied; `"profile": null` in a class unbinds it.
 */
function mergedAttributes(file: Json, resolveParent: (name: string) => Json | undefined, profiles: readonly string[]): Json {
  const parent = file.extends ? resolveParent(file.extends) : undefined;
  const out: Json = parent ? mergedAttributes(parent, resolveParent, profiles) : {};
  for (const [name, spec] of Object.entries(file.attributes ?? {})) {
    if (name === '$include') {
      for (const inc of [spec].flat() as string[]) {
        const included = read(inc);
        const profile = included.meta === 'profile' ? included.name : undefined;
        for (const [n, s] of Object.entries(included.attributes ?? {})) out[n] = { ...(out[n] ?? {}), ...(profile ? { profile } : {}), ...(s as Json) };
      }
      continue;
    }
    out[name] = { ...(out[name] ?? {}), ...(spec as Json) };
  }
  for (const [name, spec] of Object.entries(out)) {
    if (typeof spec.profile === 'string' && !profiles.includes(spec.profile)) delete out[name];
  }
  return out;
}

/** The JSON Schema type of a dictionary type (string_t, timestamp_t, port_t, ...). */
function primitive(type: string): Json {
  const t = TYPES[type];
  if (!t) throw new Error(`OCSF: unknown type ${type}`);
  const base: Json = type === 'string_t' ? { type: 'string' }
    : type === 'integer_t' || type === 'long_t' ? { type: 'integer' }
    : type === 'float_t' ? { type: 'number' }
    : type === 'boolean_t' ? { type: 'boolean' }
    : type === 'json_t' ? {}
    : primitive(t.type);
  const out = { ...base };
  if (t.regex) out.pattern = t.regex;
  if (t.range) Object.assign(out, { minimum: t.range[0], maximum: t.range[1] });
  if (t.max_len) out.maxLength = t.max_len;
  return out;
}

class Compiler {
  readonly defs: Json = {};

  constructor(private readonly profiles: readonly string[]) {}

  attribute(name: string, local: Json): Json {
    const d = DICT[name];
    if (!d) throw new Error(`OCSF: attribute ${name} is not in the dictionary`);
    const spec = { ...d, ...local };
    const type: string = spec.type;
    // `object` is OCSF's free-form object (unmapped, data, ...): any JSON object.
    let schema: Json = TYPES[type] ? primitive(type) : type === 'object' ? { type: 'object' } : { $ref: `#/$defs/${this.object(type)}` };
    if (spec.enum && TYPES[type]) {
      // A class or object lists the values it adds; the dictionary's own (0 Unknown, 99 Other) stay.
      const keys = [...new Set([...Object.keys(d.enum ?? {}), ...Object.keys(spec.enum)])];
      schema = { ...schema, enum: schema.type === 'integer' ? keys.map(Number) : keys };
    }
    return spec.is_array ? { type: 'array', items: schema } : schema;
  }

  object(name: string): string {
    if (this.defs[name]) return name;
    this.defs[name] = true; // placeholder for cycles
    const attrs = mergedAttributes(read(`objects/${name}.json`), (p) => read(`objects/${p}.json`), this.profiles);
    this.defs[name] = this.record(attrs);
    return name;
  }

  record(attrs: Json): Json {
    const properties: Json = {};
    const required: string[] = [];
    for (const [n, spec] of Object.entries(attrs)) {
      properties[n] = this.attribute(n, spec as Json);
      if ((spec as Json).requirement === 'required') required.push(n);
    }
    return { type: 'object', properties, required, additionalProperties: false };
  }
}

/**
 * The JSON Schema of the event class in `path` (e.g. `events/findings/detection_finding.json`)
 * with the given profiles applied (their attributes allowed, their required ones required).
 */
export function ocsfClassSchema(path: string, profiles: readonly string[] = []): { schema: Json; classUid: number; categoryUid: number; activityIds: number[] } {
  const file = read(path);
  const parents: Record<string, string> = { base_event: 'events/base_event.json', finding: 'events/findings/finding.json' };
  const attrs = mergedAttributes(file, (p) => read(parents[p]!), profiles);
  let category: string | undefined = file.category;
  for (let f: Json | undefined = file; !category && f?.extends; f = read(parents[f.extends]!)) category = read(parents[f.extends]!).category;
  const categoryUid: number = categories.attributes[category!].uid;
  const classUid = categoryUid * 1000 + Number(file.uid);
  const compiler = new Compiler(profiles);
  const schema = compiler.record(attrs);
  const activityIds = Object.keys(attrs.activity_id.enum).map(Number);
  // Fixed by the class: its uid, its category, and type_uid = class_uid * 100 + activity_id.
  schema.properties.class_uid = { const: classUid };
  schema.properties.category_uid = { const: categoryUid };
  schema.properties.type_uid = { enum: activityIds.map((a) => classUid * 100 + a) };
  return { schema: { ...schema, $defs: compiler.defs }, classUid, categoryUid, activityIds };
}
