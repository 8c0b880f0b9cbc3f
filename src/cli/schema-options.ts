import { InvalidArgumentError, Option, type Command } from 'commander';
import { z } from 'zod';

/**
 * Command-line options made from an endpoint's zod schema (the one the API validates with), so a field added to
 * the API shows up in the CLI without a second list of names. The API stays the judge of values: the CLI only
 * turns text into the JSON type (number, boolean, list) and sends it; a bad value comes back as a 400 naming
 * the field.
 */

interface JsonProp {
  type?: string | string[];
  enum?: unknown[];
  items?: JsonProp;
  description?: string;
  /** A nullable field (`{...} | null`): the variants. */
  anyOf?: JsonProp[];
}

/** `customerApproval` -> `customer-approval` */
const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

const toNumber = (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('must be a number');
  return n;
};
/** Commander does not keep a `null` an option parser returns, so JSON `null` travels as this until `pick`. */
const JSON_NULL = Symbol('json null');
const toJson = (v: string): unknown => {
  try {
    const parsed: unknown = JSON.parse(v);
    return parsed === null ? JSON_NULL : parsed;
  } catch {
    throw new InvalidArgumentError('must be JSON');
  }
};
const toList = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/** The fields of an object schema as JSON Schema sees its input (defaults optional, coercions as their type). */
export function schemaFields(schema: z.ZodType): Array<{ key: string; prop: JsonProp; required: boolean }> {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, JsonProp>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([key, prop]) => ({ key, prop, required: json.required?.includes(key) ?? false }));
}

/**
 * Adds one option per field of `schema` to `cmd`: `--name <value>`, numbers parsed, lists comma-separated, enums
 * as choices, objects as JSON, booleans as `--flag` / `--no-flag`. `required` decides per field whether the option must be given
 * (default: as the schema says). Returns the field names, to pick the body out of the parsed options.
 */
export function addSchemaOptions(
  cmd: Command,
  schema: z.ZodType,
  help: Record<string, string> = {},
  required: (field: { key: string; required: boolean }) => boolean = (f) => f.required,
): string[] {
  const keys: string[] = [];
  for (const f of schemaFields(schema)) {
    keys.push(f.key);
    const flag = kebab(f.key);
    const text = help[f.key] ?? f.prop.description ?? f.prop.anyOf?.find((v) => v.description)?.description ?? f.key;
    // A nullable object (e.g. `stepUp`, `escalation`) is an object option too: JSON, where `null` removes it.
    const nullableObject = f.prop.anyOf?.some((v) => v.type === 'object') ? 'object' : undefined;
    const type = Array.isArray(f.prop.type) ? f.prop.type[0] : (f.prop.type ?? nullableObject);
    if (type === 'boolean') {
      cmd.addOption(new Option(`--${flag}`, text));
      cmd.addOption(new Option(`--no-${flag}`, `the opposite of --${flag}`));
      continue;
    }
    const valueName = type === 'object' ? '<json>' : type === 'integer' || type === 'number' ? '<n>' : `<${flag}>`;
    const opt = new Option(`--${flag} ${valueName}`, type === 'array' ? `${text} (comma-separated)` : type === 'object' ? `${text} (JSON)` : text);
    if (f.prop.enum) opt.choices(f.prop.enum.map(String));
    else if (type === 'integer' || type === 'number') opt.argParser(toNumber);
    else if (type === 'array') opt.argParser(toList);
    else if (type === 'object') opt.argParser(toJson);
    if (required(f)) opt.makeOptionMandatory();
    cmd.addOption(opt);
  }
  return keys;
}

/** The options named `keys` that were given: the request body (or query). */
export function pick(opts: object, keys: string[]): Record<string, unknown> {
  const o = opts as Record<string, unknown>;
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k] === JSON_NULL ? null : o[k]]));
}
