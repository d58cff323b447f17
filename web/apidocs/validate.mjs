// Validates OpenAPI documents (files named on the command line) against the OpenAPI schema of
// their version with @seriousme/openapi-schema-validator; the tests run it on the documents a
// running switchboard serves. Exit 0 when every document is valid, 1 otherwise.
import { Validator } from "@seriousme/openapi-schema-validator";

// One validator for every file: compiling the OpenAPI schemas is most of the time.
const validator = new Validator();
let failed = false;
for (const file of process.argv.slice(2)) {
  const result = await validator.validate(file);
  if (result.valid) {
    console.log(`${file}: valid OpenAPI ${validator.version}`);
  } else {
    failed = true;
    console.log(`${file}: INVALID\n${JSON.stringify(result.errors, null, 2)}`);
  }
}
process.exit(failed || process.argv.length < 3 ? 1 : 0);
