import { z } from 'zod';
import { isHttpUrl } from '../http-url';
import type { ConfigurationKey, Element, ElementDefinition } from './element';

const DEFAULT_MAX_LENGTH = 1024;

/** The zod schema of one declared key: its type, required-ness and length, with messages that name it. */
function keySchema(key: ConfigurationKey): z.ZodType {
  const required = `${key.name} (${key.label}) is required`;
  let schema: z.ZodType;
  switch (key.type) {
    case 'number':
      schema = z.union(
        [
          z.number(),
          z
            .string()
            .trim()
            .regex(/^[+-]?\d+(\.\d+)?$/)
            .transform(Number),
        ],
        { error: `${key.name} must be a number` },
      );
      break;
    case 'boolean':
      schema = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], {
        error: `${key.name} must be true or false`,
      });
      break;
    default: {
      const max = key.maxLength ?? DEFAULT_MAX_LENGTH;
      let text = z.string({ error: required }).trim().min(1, required).max(max, `${key.name} must be at most ${max} characters`);
      if (key.type === 'url') text = text.refine(isHttpUrl, `${key.name} must be an absolute http(s) URL`) as unknown as typeof text;
      schema = text;
    }
  }
  return key.required ? schema : schema.optional();
}

/**
 * An element from what its folder declares: the configuration keys give the validation schema, the
 * keys redacted as secrets and the keys provider calls receive, so none is written twice.
 */
export function defineElement(definition: ElementDefinition): Element {
  const shape = Object.fromEntries(definition.configuration.map((k) => [k.name, keySchema(k)]));
  return {
    ...definition,
    // Loose: the generic `event.*` keys sit beside the element's own and are validated elsewhere.
    configurationSchema: z.looseObject(shape) as unknown as z.ZodType<Record<string, unknown>>,
    secretKeys: definition.configuration.filter((k) => k.secret).map((k) => k.name),
    credentialKeys: definition.configuration.map((k) => k.name),
  };
}
