// Writes docs/cairn.schema.json from the zod schema in src/orchestrator/config.ts.
// Run: node --import tsx scripts/gen-config-schema.mjs
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_SCHEMA_DOC_PATH, configJsonSchemaText } from '../src/orchestrator/jsonSchema.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, CONFIG_SCHEMA_DOC_PATH);
writeFileSync(out, configJsonSchemaText());
console.log(`wrote ${out}`);
