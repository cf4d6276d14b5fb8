// Validates Parley's two interface documents with third-party validators,
// so a document that only our own code accepts cannot pass:
//   openapi/parley.openapi.yaml  — OpenAPI 3.1, by @apidevtools/swagger-parser
//   api/parley.openrpc.json      — the OpenRPC meta-schema (@open-rpc/meta-schema), by ajv
import { readFile } from 'node:fs/promises';
import SwaggerParser from '@apidevtools/swagger-parser';
import metaSchema from '@open-rpc/meta-schema';
import jsonSchemaMeta from '@json-schema-tools/meta-schema';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';

const root = new URL('../', import.meta.url);
let failed = false;

const openapiPath = new URL('openapi/parley.openapi.yaml', root).pathname;
try {
  const doc = await SwaggerParser.validate(openapiPath);
  console.log(`ok   openapi/parley.openapi.yaml: OpenAPI ${doc.openapi}, ${Object.keys(doc.paths).length} paths`);
} catch (err) {
  failed = true;
  console.error(`FAIL openapi/parley.openapi.yaml: ${err.message}`);
}

// The OpenRPC meta-schema describes schemas by reference to the JSON Schema
// meta-schema at meta.json-schema.tools (its own package, loaded here: no
// network). Both name that URL as their dialect; their keywords are
// draft-07's, ajv's default, so the name is dropped. It is referred to with
// and without the trailing slash, so it is registered under both.
const withoutDialect = ({ $schema: _dialect, ...schema }) => schema;
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const jsonSchema = withoutDialect(jsonSchemaMeta.jsonSchema);
ajv.addSchema(jsonSchema);
ajv.addSchema({ ...jsonSchema, $id: jsonSchema.$id.replace(/\/$/, '') });
const validate = ajv.compile(withoutDialect(metaSchema.openrpcDocument));
const openrpc = JSON.parse(await readFile(new URL('api/parley.openrpc.json', root), 'utf8'));
if (validate(openrpc)) {
  console.log(`ok   api/parley.openrpc.json: OpenRPC ${openrpc.openrpc}, ${openrpc.methods.length} methods`);
} else {
  failed = true;
  for (const e of validate.errors) console.error(`FAIL api/parley.openrpc.json${e.instancePath}: ${e.message} ${JSON.stringify(e.params)}`);
}
process.exit(failed ? 1 : 0);
