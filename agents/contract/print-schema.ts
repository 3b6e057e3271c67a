/** Prints results.schema.json: `npm run schema` regenerates the shipped file with it. */
import { resultsJsonSchema } from './schema.js';

process.stdout.write(resultsJsonSchema());
