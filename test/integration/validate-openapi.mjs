// Validates the OpenAPI document read from stdin with @seriousme/openapi-schema-validator and prints
// the outcome as JSON. A child process of openapi.test.ts: the validator is ESM only, which jest's
// CommonJS runtime cannot load.
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { Validator } from '@seriousme/openapi-schema-validator';

const validator = new Validator();
const result = await validator.validate(JSON.parse(readFileSync(0, 'utf8')));
process.stdout.write(JSON.stringify({ valid: result.valid, version: validator.version, errors: result.errors ?? [] }));
