/** `npm run build:bundle`: writes dist/sidecar.cjs, what the injected sidecar container runs. */
import { fileURLToPath } from 'node:url';
import { bundleSidecar, SIDECAR_BUNDLE } from './sidecar-bundle.ts';

const bytes = await bundleSidecar(fileURLToPath(new URL('../', import.meta.url)));
process.stdout.write(`${SIDECAR_BUNDLE}: ${Math.round(bytes / 1024)} KiB\n`);
