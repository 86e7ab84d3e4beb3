// The JSON Schema editors use to complete and check cairn.yaml, generated
// from the zod schema so the two never disagree. docs/cairn.schema.json is
// this output, committed (a test fails when it is stale).
import { z } from 'zod';
import { CairnConfigSchema } from './config.js';

/** Where the committed schema lives, relative to the project root. */
export const CONFIG_SCHEMA_DOC_PATH = 'docs/cairn.schema.json';

/** The JSON Schema (draft 2020-12) of cairn.yaml, as users write it (defaults are optional keys). */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(CairnConfigSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  const { $schema, ...rest } = schema;
  // What the zod schema cannot say in JSON Schema: the default repository must
  // exist, and top-level x- keys (YAML anchors) are ignored by the loader.
  const defs = rest.$defs as Record<string, { properties: Record<string, Record<string, unknown>>; patternProperties?: Record<string, unknown> }>;
  defs.CairnConfig!.properties.repositories!.required = ['default'];
  defs.CairnConfig!.patternProperties = { '^x-': { description: 'ignored by cairn: a place for YAML anchors (&name) to reuse with *name or <<: *name' } };
  return {
    $schema,
    title: 'cairn.yaml',
    description: 'cairn configuration. In an editor with the YAML language server, start cairn.yaml with: # yaml-language-server: $schema=<path or URL of this file>',
    ...rest,
  };
}

/** The schema as the text of docs/cairn.schema.json. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}
