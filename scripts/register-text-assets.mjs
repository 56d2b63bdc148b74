// `node --import ./scripts/register-text-assets.mjs`: see text-assets-loader.mjs.
import { register } from 'node:module';

register('./text-assets-loader.mjs', import.meta.url);
