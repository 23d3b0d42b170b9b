// A C ABI over native/frontend.h for bench/baseline/mltk_augment.py (ctypes): the
// microfrontend as MLTK's Python pipeline calls its C one, one clip per call. Built by
// bench/augment.ts into a temp directory (g++ -shared -fPIC with native/'s frontend
// sources); never part of the addon, never committed as a binary.
#include <cstdint>
#include <string>

#include "frontend.h"

namespace {
struct Handle {
  std::unique_ptr<audiofeed::FrontendConfig> cfg;
  std::unique_ptr<audiofeed::FrontendScratch> scratch;
};
}  // namespace

extern "C" {

// The default frontend settings at `sample_rate_hz` / `sample_length_ms`; writes the
// output shape. Null when the settings are invalid.
void* af_frontend_new(int sample_rate_hz, int sample_length_ms, int* frames, int* channels) {
  audiofeed::FrontendSettings s;
  s.sample_rate_hz = sample_rate_hz;
  s.sample_length_ms = sample_length_ms;
  std::string error;
  auto cfg = audiofeed::BuildFrontend(s, &error);
  if (!cfg) return nullptr;
  *frames = cfg->num_frames;
  *channels = cfg->num_channels;
  auto* h = new Handle();
  h->scratch = std::make_unique<audiofeed::FrontendScratch>(*cfg);
  h->cfg = std::move(cfg);
  return h;
}

// One clip of sample_length samples -> frames * channels uint16 values.
void af_frontend_process(void* handle, const int16_t* pcm, uint16_t* out) {
  auto* h = static_cast<Handle*>(handle);
  audiofeed::ProcessClip(*h->cfg, pcm, out, h->scratch.get());
}

void af_frontend_free(void* handle) { delete static_cast<Handle*>(handle); }
}
