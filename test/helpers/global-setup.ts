/**
 * Once per test run, before any file: the cloud assembly (cached by a hash of its inputs, so
 * usually nothing to do) and the template-only synth the sources run under, so that parallel test
 * files never synthesize at the same time; and a fresh record of AWS calls for test/iam.
 */
import { rmSync } from 'node:fs';
import { loadAssembly } from '../../infra/local/assembly';
import { AWS_CALLS_DIR } from './target';

export default async function setup(): Promise<void> {
  rmSync(AWS_CALLS_DIR, { recursive: true, force: true });
  const started = Date.now();
  const [bundled, template] = [await loadAssembly({ bundle: true }), await loadAssembly({ bundle: false })];
  if (bundled.synthesized || template.synthesized) {
    console.log(`cloud assembly synthesized in ${Date.now() - started} ms: ${bundled.dir}`);
  }
}
