// N-API binding: processSync(settings, clip) on the JS thread and
// processBatch(settings, clips[, callback]) on the libuv thread pool.
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "frontend.h"
#include "settings.h"

namespace audiofeed {
namespace {

// ---------------------------------------------------------------- settings

bool ReadInt(const Napi::Object& obj, const char* name, int32_t* out, std::string* error) {
  Napi::Value v = obj.Get(name);
  if (v.IsUndefined()) return true;
  if (!v.IsNumber()) {
    *error = std::string(name) + " must be an integer";
    return false;
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || std::trunc(d) != d || d < -2147483648.0 || d > 2147483647.0) {
    *error = std::string(name) + " must be an integer";
    return false;
  }
  *out = static_cast<int32_t>(d);
  return true;
}

bool ReadFloat(const Napi::Object& obj, const char* name, float* out, std::string* error) {
  Napi::Value v = obj.Get(name);
  if (v.IsUndefined()) return true;
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue())) {
    *error = std::string(name) + " must be a finite number";
    return false;
  }
  // The reference casts every float setting to float32 before any use.
  *out = static_cast<float>(v.As<Napi::Number>().DoubleValue());
  return true;
}

bool ReadBool(const Napi::Object& obj, const char* name, bool* out, std::string* error) {
  Napi::Value v = obj.Get(name);
  if (v.IsUndefined()) return true;
  if (v.IsBoolean()) {
    *out = v.As<Napi::Boolean>().Value();
    return true;
  }
  if (v.IsNumber()) {  // MLTK stores booleans as 0/1
    const double d = v.As<Napi::Number>().DoubleValue();
    if (d == 0.0 || d == 1.0) {
      *out = d == 1.0;
      return true;
    }
  }
  *error = std::string(name) + " must be a boolean";
  return false;
}

bool ParseSettings(const Napi::Value& value, FrontendSettings* s, std::string* error) {
  if (!value.IsObject() || value.IsArray()) {
    *error = "settings must be an object";
    return false;
  }
  const Napi::Object o = value.As<Napi::Object>();
  return ReadInt(o, "sample_rate_hz", &s->sample_rate_hz, error) &&
         ReadInt(o, "sample_length_ms", &s->sample_length_ms, error) &&
         ReadInt(o, "window_size_ms", &s->window_size_ms, error) &&
         ReadInt(o, "window_step_ms", &s->window_step_ms, error) &&
         ReadInt(o, "filterbank_n_channels", &s->filterbank_n_channels, error) &&
         ReadFloat(o, "filterbank_upper_band_limit", &s->filterbank_upper_band_limit, error) &&
         ReadFloat(o, "filterbank_lower_band_limit", &s->filterbank_lower_band_limit, error) &&
         ReadBool(o, "noise_reduction_enable", &s->noise_reduction_enable, error) &&
         ReadInt(o, "noise_reduction_smoothing_bits", &s->noise_reduction_smoothing_bits, error) &&
         ReadFloat(o, "noise_reduction_even_smoothing", &s->noise_reduction_even_smoothing, error) &&
         ReadFloat(o, "noise_reduction_odd_smoothing", &s->noise_reduction_odd_smoothing, error) &&
         ReadFloat(o, "noise_reduction_min_signal_remaining", &s->noise_reduction_min_signal_remaining, error) &&
         ReadBool(o, "pcan_enable", &s->pcan_enable, error) &&
         ReadFloat(o, "pcan_strength", &s->pcan_strength, error) &&
         ReadFloat(o, "pcan_offset", &s->pcan_offset, error) &&
         ReadInt(o, "pcan_gain_bits", &s->pcan_gain_bits, error) &&
         ReadBool(o, "log_scale_enable", &s->log_scale_enable, error) &&
         ReadInt(o, "log_scale_shift", &s->log_scale_shift, error) &&
         ReadBool(o, "activity_detection_enable", &s->activity_detection_enable, error) &&
         ReadFloat(o, "activity_detection_alpha_a", &s->activity_detection_alpha_a, error) &&
         ReadFloat(o, "activity_detection_alpha_b", &s->activity_detection_alpha_b, error) &&
         ReadFloat(o, "activity_detection_arm_threshold", &s->activity_detection_arm_threshold, error) &&
         ReadFloat(o, "activity_detection_trip_threshold", &s->activity_detection_trip_threshold, error) &&
         ReadBool(o, "dc_notch_filter_enable", &s->dc_notch_filter_enable, error) &&
         ReadFloat(o, "dc_notch_filter_coefficient", &s->dc_notch_filter_coefficient, error) &&
         ReadBool(o, "quantize_dynamic_scale_enable", &s->quantize_dynamic_scale_enable, error) &&
         ReadFloat(o, "quantize_dynamic_scale_range_db", &s->quantize_dynamic_scale_range_db, error);
}

// Tables depend only on the settings; cache a few so repeated calls with the
// same settings skip the (float-heavy) construction. Touched on the JS thread only.
class ConfigCache {
 public:
  std::shared_ptr<const FrontendConfig> Get(const FrontendSettings& s, std::string* error) {
    std::string key(reinterpret_cast<const char*>(&s), sizeof(s));
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    std::unique_ptr<FrontendConfig> built = BuildFrontend(s, error);
    if (!built) return nullptr;
    if (cache_.size() >= kCapacity) cache_.clear();
    std::shared_ptr<const FrontendConfig> shared(std::move(built));
    cache_.emplace(std::move(key), shared);
    return shared;
  }

 private:
  static constexpr size_t kCapacity = 32;
  std::map<std::string, std::shared_ptr<const FrontendConfig>> cache_;
};

struct AddonData {
  ConfigCache cache;
};

std::shared_ptr<const FrontendConfig> ResolveConfig(Napi::Env env, const Napi::Value& value, std::string* error) {
  FrontendSettings s;  // zero padding so the byte-wise cache key is deterministic
  std::memset(static_cast<void*>(&s), 0, sizeof(s));
  new (&s) FrontendSettings();
  if (!ParseSettings(value, &s, error)) return nullptr;
  return env.GetInstanceData<AddonData>()->cache.Get(s, error);
}

Napi::Error InvalidSettings(Napi::Env env, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, "invalid frontend settings: " + message);
  err.Set("code", Napi::String::New(env, "ERR_FRONTEND_SETTINGS"));
  return err;
}

// ---------------------------------------------------------------- sync

Napi::Value ProcessSync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string error;
  std::shared_ptr<const FrontendConfig> cfg = ResolveConfig(env, info[0], &error);
  if (!cfg) throw InvalidSettings(env, error);
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_int16_array) {
    throw Napi::TypeError::New(env, "clip must be an Int16Array");
  }
  Napi::Int16Array clip = info[1].As<Napi::Int16Array>();
  if (clip.ElementLength() != static_cast<size_t>(cfg->sample_length)) {
    throw Napi::RangeError::New(env, "clip has " + std::to_string(clip.ElementLength()) +
                                         " samples; these settings need exactly " +
                                         std::to_string(cfg->sample_length));
  }
  const size_t count = static_cast<size_t>(cfg->num_frames) * cfg->num_channels;
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, count * sizeof(uint16_t));
  FrontendScratch scratch(*cfg);
  const bool activity = ProcessClip(*cfg, clip.Data(), static_cast<uint16_t*>(buffer.Data()), &scratch);
  Napi::Object result = Napi::Object::New(env);
  result.Set("uint16", Napi::Uint16Array::New(env, count, buffer, 0));
  result.Set("activity", Napi::Boolean::New(env, activity));
  result.Set("height", Napi::Number::New(env, cfg->num_frames));
  result.Set("width", Napi::Number::New(env, cfg->num_channels));
  return result;
}

// ---------------------------------------------------------------- batch

// State shared by the work items of one batch. Inputs are copied so that JS
// may mutate, transfer or detach its arrays while the pool works; outputs are
// written straight into ArrayBuffers that JS cannot see until completion.
struct Batch {
  std::shared_ptr<const FrontendConfig> cfg;
  std::vector<int16_t> input;
  size_t num_clips = 0;
  uint16_t* out = nullptr;
  uint8_t* activity = nullptr;
  Napi::Reference<Napi::ArrayBuffer> out_buffer;
  Napi::Reference<Napi::ArrayBuffer> activity_buffer;
  Napi::FunctionReference callback;  // empty when a promise is used
  std::unique_ptr<Napi::Promise::Deferred> deferred;
  int pending = 0;
  std::string error;

  void Finish(Napi::Env env) {
    Napi::HandleScope scope(env);
    Napi::Value err_value = env.Null();
    Napi::Value result = env.Undefined();
    if (!error.empty()) {
      err_value = Napi::Error::New(env, error).Value();
    } else {
      const size_t count = num_clips * static_cast<size_t>(cfg->num_frames) * cfg->num_channels;
      Napi::Object obj = Napi::Object::New(env);
      obj.Set("uint16", Napi::Uint16Array::New(env, count, out_buffer.Value(), 0));
      obj.Set("activity", Napi::Uint8Array::New(env, num_clips, activity_buffer.Value(), 0));
      obj.Set("height", Napi::Number::New(env, cfg->num_frames));
      obj.Set("width", Napi::Number::New(env, cfg->num_channels));
      result = obj;
    }
    out_buffer.Reset();
    activity_buffer.Reset();
    if (deferred) {
      if (error.empty()) {
        deferred->Resolve(result);
      } else {
        deferred->Reject(err_value);
      }
    } else {
      callback.Call({err_value, result});
    }
  }
};

class BatchPart : public Napi::AsyncWorker {
 public:
  BatchPart(Napi::Env env, std::shared_ptr<Batch> batch, size_t begin, size_t end)
      : Napi::AsyncWorker(env, "audiofeed:frontend"), batch_(std::move(batch)), begin_(begin), end_(end) {}

  void Execute() override {
    const FrontendConfig& cfg = *batch_->cfg;
    const size_t in_stride = static_cast<size_t>(cfg.sample_length);
    const size_t out_stride = static_cast<size_t>(cfg.num_frames) * cfg.num_channels;
    try {
      FrontendScratch scratch(cfg);
      for (size_t c = begin_; c < end_; ++c) {
        const bool act = ProcessClip(cfg, batch_->input.data() + c * in_stride, batch_->out + c * out_stride, &scratch);
        batch_->activity[c] = act ? 1 : 0;
      }
    } catch (const std::bad_alloc&) {
      SetError("out of memory while computing spectrograms");
    }
  }

  void OnOK() override { Done(); }
  void OnError(const Napi::Error& e) override {
    if (batch_->error.empty()) batch_->error = e.Message();
    Done();
  }

 private:
  void Done() {
    if (--batch_->pending == 0) batch_->Finish(Env());
  }

  std::shared_ptr<Batch> batch_;
  size_t begin_;
  size_t end_;
};

// Delivers an argument error to a node-style callback after the current tick.
class DeferredError : public Napi::AsyncWorker {
 public:
  DeferredError(Napi::Env env, Napi::FunctionReference callback, const Napi::Error& error)
      : Napi::AsyncWorker(env, "audiofeed:frontend"),
        callback_(std::move(callback)),
        error_(Napi::Persistent(error.Value())) {}

  void Execute() override {}
  void OnOK() override { callback_.Call({error_.Value(), Env().Undefined()}); }

 private:
  Napi::FunctionReference callback_;
  Napi::ObjectReference error_;
};

// Number of pool work items per batch: enough to use every core the pool
// can run on at once, never more items than clips.
size_t PartsFor(size_t clips) {
  size_t threads = std::max(1u, std::thread::hardware_concurrency());
  size_t pool = 4;  // libuv default
  if (const char* env = std::getenv("UV_THREADPOOL_SIZE")) {
    const long v = std::strtol(env, nullptr, 10);
    if (v > 0) pool = static_cast<size_t>(v);
  }
  const size_t parts = std::min(threads, pool);
  constexpr size_t kMinClipsPerPart = 4;
  return std::max<size_t>(1, std::min(parts, clips / kMinClipsPerPart));
}

Napi::Value ProcessBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto batch = std::make_shared<Batch>();
  Napi::Value returned = env.Undefined();
  if (info.Length() >= 3 && info[2].IsFunction()) {
    batch->callback = Napi::Persistent(info[2].As<Napi::Function>());
  } else if (info.Length() >= 3 && !info[2].IsUndefined()) {
    throw Napi::TypeError::New(env, "callback must be a function");
  } else {
    batch->deferred = std::make_unique<Napi::Promise::Deferred>(Napi::Promise::Deferred::New(env));
    returned = batch->deferred->Promise();
  }
  // Argument errors are reported like results: as a rejection, or through
  // the callback on a later tick (never synchronously).
  auto fail = [&](const Napi::Error& err) -> Napi::Value {
    if (batch->deferred) {
      batch->deferred->Reject(err.Value());
    } else {
      (new DeferredError(env, std::move(batch->callback), err))->Queue();
    }
    return returned;
  };

  std::string error;
  batch->cfg = ResolveConfig(env, info[0], &error);
  if (!batch->cfg) return fail(InvalidSettings(env, error));
  const FrontendConfig& cfg = *batch->cfg;
  if (!info[1].IsArray()) return fail(Napi::TypeError::New(env, "clips must be an array of Int16Array"));
  Napi::Array clips = info[1].As<Napi::Array>();
  const size_t n = clips.Length();
  const size_t in_stride = static_cast<size_t>(cfg.sample_length);
  const size_t out_stride = static_cast<size_t>(cfg.num_frames) * cfg.num_channels;
  // Validate every clip before copying anything.
  std::vector<Napi::Int16Array> views;
  views.reserve(n);
  for (size_t c = 0; c < n; ++c) {
    Napi::Value v = clips.Get(static_cast<uint32_t>(c));
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int16_array) {
      return fail(Napi::TypeError::New(env, "clip " + std::to_string(c) + " is not an Int16Array"));
    }
    Napi::Int16Array a = v.As<Napi::Int16Array>();
    if (a.ElementLength() != in_stride) {
      return fail(Napi::RangeError::New(env, "clip " + std::to_string(c) + " has " +
                                                 std::to_string(a.ElementLength()) +
                                                 " samples; these settings need exactly " +
                                                 std::to_string(in_stride)));
    }
    views.push_back(a);
  }
  batch->num_clips = n;
  batch->input.resize(n * in_stride);
  for (size_t c = 0; c < n; ++c) {
    std::memcpy(batch->input.data() + c * in_stride, views[c].Data(), in_stride * sizeof(int16_t));
  }
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, n * out_stride * sizeof(uint16_t));
  Napi::ArrayBuffer act = Napi::ArrayBuffer::New(env, n);
  batch->out = static_cast<uint16_t*>(out.Data());
  batch->activity = static_cast<uint8_t*>(act.Data());
  batch->out_buffer = Napi::Persistent(out);
  batch->activity_buffer = Napi::Persistent(act);

  const size_t parts = PartsFor(n);  // >= 1, so even an empty batch completes asynchronously
  batch->pending = static_cast<int>(parts);
  for (size_t p = 0; p < parts; ++p) {
    const size_t begin = n * p / parts;
    const size_t end = n * (p + 1) / parts;
    (new BatchPart(env, batch, begin, end))->Queue();  // AsyncWorker deletes itself
  }
  return returned;
}

Napi::Value Shape(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string error;
  std::shared_ptr<const FrontendConfig> cfg = ResolveConfig(env, info[0], &error);
  if (!cfg) throw InvalidSettings(env, error);
  Napi::Object o = Napi::Object::New(env);
  o.Set("height", Napi::Number::New(env, cfg->num_frames));
  o.Set("width", Napi::Number::New(env, cfg->num_channels));
  o.Set("sampleLength", Napi::Number::New(env, cfg->sample_length));
  o.Set("fftSize", Napi::Number::New(env, cfg->fft_size));
  return o;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  exports.Set("processSync", Napi::Function::New(env, ProcessSync, "processSync"));
  exports.Set("processBatch", Napi::Function::New(env, ProcessBatch, "processBatch"));
  exports.Set("shape", Napi::Function::New(env, Shape, "shape"));
  return exports;
}

}  // namespace audiofeed

// The registration macro wants an unqualified function name.
static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return audiofeed::Init(env, exports); }

NODE_API_MODULE(audiofeed_frontend, InitAddon)
