export type { FrontendSettings, FrontendSizes } from './settings.ts';
export {
  DEFAULT_FRONTEND_SETTINGS,
  FRONTEND_LIMITS,
  FRONTEND_SETTING_NAMES,
  frontendShape,
  frontendSizes,
  resolveFrontendSettings,
  settingsHash,
} from './settings.ts';
export type { SpectrogramResult } from './frontend.ts';
export { Frontend, computeSpectrogram } from './frontend.ts';
export { convertSpectrogram, dynamicInt8, dynamicQuantizeRange, staticInt8 } from './output.ts';
