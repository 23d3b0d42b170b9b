// N-API binding: processSync(settings, clip) and resample(samples, fromHz, toHz)
// on the JS thread; processBatch(settings, clips[, options][, callback]) and
// featurizeWav(settings, topDb, wavs, out[, options][, callback]) on the libuv
// thread pool. soxrVersion and resampleLimits describe the resampler.
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

#include "augment.h"
#include "clip_pipeline.h"
#include "detmath.h"
#include "dsp_fft.h"
#include "frontend.h"
#include "resample_soxr.h"
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

// ---------------------------------------------------------------- memory

// Batch inputs, WAV sample arenas and native output rows are reused across
// calls. A fresh multi-megabyte allocation comes straight from mmap: the kernel
// hands out zero pages one 4 KiB fault at a time on first touch, and free()
// returns them, so without reuse every batch paid ~19,000 page faults per 2000
// clips again (plus zero-filling by std::vector) before any clip was computed.
// Touched on the JS thread only.
class BlockPool {
 public:
  struct Block {
    std::unique_ptr<uint8_t[]> data;
    size_t size = 0;
  };

  // The smallest free block that fits, else a new uninitialised one (every
  // byte a batch reads has been written by it first). Throws std::bad_alloc.
  Block Acquire(size_t bytes) {
    size_t best = free_.size();
    for (size_t i = 0; i < free_.size(); ++i) {
      if (free_[i].size >= bytes && (best == free_.size() || free_[i].size < free_[best].size)) best = i;
    }
    if (best != free_.size()) {
      Block b = std::move(free_[best]);
      free_.erase(free_.begin() + static_cast<std::ptrdiff_t>(best));
      retained_ -= b.size;
      return b;
    }
    Block b;
    b.size = std::max<size_t>(bytes, 1);
    b.data.reset(new uint8_t[b.size]);
    return b;
  }

  void Release(Block b) {
    if (!b.data || b.size > kMaxRetainedBytes) return;
    while (!free_.empty() && (free_.size() >= kMaxBlocks || retained_ + b.size > kMaxRetainedBytes)) {
      retained_ -= free_.front().size;
      free_.erase(free_.begin());
    }
    retained_ += b.size;
    free_.push_back(std::move(b));
  }

 private:
  static constexpr size_t kMaxBlocks = 8;
  static constexpr size_t kMaxRetainedBytes = size_t{96} << 20;
  std::vector<Block> free_;
  size_t retained_ = 0;
};

struct AddonData {
  ConfigCache cache;
  BlockPool pool;
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

// ---------------------------------------------------------------- async plumbing

// How an async call reports: a promise, or a node-style callback.
struct Settle {
  Napi::FunctionReference callback;  // empty when a promise is used
  std::unique_ptr<Napi::Promise::Deferred> deferred;

  void Resolve(Napi::Env env, Napi::Value value) {
    if (deferred) {
      deferred->Resolve(value);
    } else {
      callback.Call({env.Null(), value});
    }
  }
  void Reject(Napi::Env env, Napi::Value error) {
    if (deferred) {
      deferred->Reject(error);
    } else {
      callback.Call({error, env.Undefined()});
    }
  }
};

// Reads the trailing `[options][, callback]` arguments starting at index `at`:
// sets up *settle and *options (undefined when absent) and returns what the
// call returns (the promise, or undefined with a callback).
Napi::Value ReadTrailingArgs(const Napi::CallbackInfo& info, size_t at, Settle* settle, Napi::Value* options) {
  Napi::Env env = info.Env();
  *options = env.Undefined();
  if (info.Length() > at && info[at].IsObject() && !info[at].IsFunction()) *options = info[at++];
  if (info.Length() > at && info[at].IsFunction()) {
    settle->callback = Napi::Persistent(info[at].As<Napi::Function>());
    return env.Undefined();
  }
  if (info.Length() > at && !info[at].IsUndefined()) throw Napi::TypeError::New(env, "callback must be a function");
  settle->deferred = std::make_unique<Napi::Promise::Deferred>(Napi::Promise::Deferred::New(env));
  return settle->deferred->Promise();
}

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

// Argument errors are reported like results: as a rejection, or through the
// callback on a later tick (never synchronously).
Napi::Value Fail(Napi::Env env, Settle* settle, Napi::Value returned, const Napi::Error& err) {
  if (settle->deferred) {
    settle->deferred->Reject(err.Value());
  } else {
    (new DeferredError(env, std::move(settle->callback), err))->Queue();
  }
  return returned;
}

// options.threads: how many pool threads may work on the call (default: one
// per core). Returns 0 for "default"; false with *error on a bad value.
bool ReadThreads(const Napi::Value& options, size_t* threads, std::string* error) {
  *threads = 0;
  if (options.IsUndefined()) return true;
  Napi::Value v = options.As<Napi::Object>().Get("threads");
  if (v.IsUndefined()) return true;
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0.0;
  if (!(d >= 1.0 && d <= 1024.0) || std::trunc(d) != d) {
    *error = "options.threads must be an integer between 1 and 1024";
    return false;
  }
  *threads = static_cast<size_t>(d);
  return true;
}

// Work items to queue: one per thread that may work (requested, else one per
// core), at most the libuv pool size and the number of items, at least one (so
// even an empty call completes asynchronously). Each work item claims items
// one at a time, so a thread that gets less CPU (a busy machine) does less.
size_t WorkersFor(size_t items, size_t requested) {
  size_t pool = 4;  // libuv default
  if (const char* env = std::getenv("UV_THREADPOOL_SIZE")) {
    const long v = std::strtol(env, nullptr, 10);
    if (v > 0) pool = static_cast<size_t>(v);
  }
  const size_t threads = requested > 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
  return std::max<size_t>(1, std::min({threads, pool, items}));
}

// State shared by the work items of one call. Items are claimed one at a
// time; an item may only be claimed once the JS thread has copied its input
// (`ready`), which it does right after queueing the work items, so the first
// clips are computed while the rest are still being copied.
class PoolJob {
 public:
  virtual ~PoolJob() = default;
  // On a pool thread: claim and process items until none is left.
  virtual void Work() = 0;
  // On the JS thread, once every work item has finished.
  virtual void Finish(Napi::Env env) = 0;

  size_t count = 0;
  std::atomic<size_t> next{0};
  std::atomic<size_t> ready{0};
  int pending = 0;     // work items still running (JS thread only)
  std::string error;   // first work item error (JS thread only)

 protected:
  bool Claim(size_t* item) {
    const size_t k = next.fetch_add(1, std::memory_order_relaxed);
    if (k >= count) return false;
    while (ready.load(std::memory_order_acquire) <= k) std::this_thread::yield();
    *item = k;
    return true;
  }
};

class PoolWorker : public Napi::AsyncWorker {
 public:
  PoolWorker(Napi::Env env, std::shared_ptr<PoolJob> job)
      : Napi::AsyncWorker(env, "audiofeed:frontend"), job_(std::move(job)) {}

  void Execute() override {
    try {
      job_->Work();
    } catch (const std::bad_alloc&) {
      SetError("out of memory while computing spectrograms");
    }
  }
  void OnOK() override { Done(); }
  void OnError(const Napi::Error& e) override {
    if (job_->error.empty()) job_->error = e.Message();
    Done();
  }

 private:
  void Done() {
    if (--job_->pending == 0) {
      Napi::HandleScope scope(Env());
      job_->Finish(Env());
    }
  }
  std::shared_ptr<PoolJob> job_;
};

void QueueWorkers(Napi::Env env, const std::shared_ptr<PoolJob>& job, size_t workers) {
  job->pending = static_cast<int>(workers);
  for (size_t w = 0; w < workers; ++w) (new PoolWorker(env, job))->Queue();  // AsyncWorker deletes itself
}

// Elements of a typed array, or false when `value` is not one of `type`.
// Reads no JS property, so it cannot run user code.
bool TypedArrayInfo(napi_env env, napi_value value, napi_typedarray_type type, void** data, size_t* length) {
  bool is = false;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return false;
  napi_typedarray_type actual;
  if (napi_get_typedarray_info(env, value, &actual, length, data, nullptr, nullptr) != napi_ok) return false;
  return actual == type;
}

// The elements of a JS array. Element getters may run user code, so every
// element is fetched before any data pointer is taken.
std::vector<napi_value> ArrayElements(const Napi::Array& array) {
  const uint32_t n = array.Length();
  std::vector<napi_value> values(n);
  for (uint32_t i = 0; i < n; ++i) values[i] = array.Get(i);
  return values;
}

// ---------------------------------------------------------------- processBatch

// Inputs are copied (into a reused block) so that JS may mutate, transfer or
// detach its arrays while the pool works; outputs are written straight into
// ArrayBuffers that JS cannot see until completion.
class FrontendBatch : public PoolJob {
 public:
  AddonData* data = nullptr;
  std::shared_ptr<const FrontendConfig> cfg;
  BlockPool::Block input;
  uint16_t* out = nullptr;
  uint8_t* activity = nullptr;
  Napi::Reference<Napi::ArrayBuffer> out_buffer;
  Napi::Reference<Napi::ArrayBuffer> activity_buffer;
  Settle settle;

  void Work() override {
    const FrontendConfig& c = *cfg;
    const size_t in_stride = static_cast<size_t>(c.sample_length);
    const size_t out_stride = static_cast<size_t>(c.num_frames) * c.num_channels;
    const int16_t* in = reinterpret_cast<const int16_t*>(input.data.get());
    FrontendScratch scratch(c);
    size_t i;
    while (Claim(&i)) activity[i] = ProcessClip(c, in + i * in_stride, out + i * out_stride, &scratch) ? 1 : 0;
  }

  void Finish(Napi::Env env) override {
    data->pool.Release(std::move(input));
    if (!error.empty()) {
      out_buffer.Reset();
      activity_buffer.Reset();
      settle.Reject(env, Napi::Error::New(env, error).Value());
      return;
    }
    const size_t values = count * static_cast<size_t>(cfg->num_frames) * cfg->num_channels;
    Napi::Object obj = Napi::Object::New(env);
    obj.Set("uint16", Napi::Uint16Array::New(env, values, out_buffer.Value(), 0));
    obj.Set("activity", Napi::Uint8Array::New(env, count, activity_buffer.Value(), 0));
    obj.Set("height", Napi::Number::New(env, cfg->num_frames));
    obj.Set("width", Napi::Number::New(env, cfg->num_channels));
    out_buffer.Reset();
    activity_buffer.Reset();
    settle.Resolve(env, obj);
  }
};

// processBatch(settings, clips[, options][, callback])
Napi::Value ProcessBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto batch = std::make_shared<FrontendBatch>();
  batch->data = env.GetInstanceData<AddonData>();
  Napi::Value options;
  const Napi::Value returned = ReadTrailingArgs(info, 2, &batch->settle, &options);
  Settle* settle = &batch->settle;

  std::string error;
  batch->cfg = ResolveConfig(env, info[0], &error);
  if (!batch->cfg) return Fail(env, settle, returned, InvalidSettings(env, error));
  const FrontendConfig& cfg = *batch->cfg;
  size_t threads;
  if (!ReadThreads(options, &threads, &error)) return Fail(env, settle, returned, Napi::TypeError::New(env, error));
  if (!info[1].IsArray()) return Fail(env, settle, returned, Napi::TypeError::New(env, "clips must be an array of Int16Array"));
  const std::vector<napi_value> values = ArrayElements(info[1].As<Napi::Array>());
  const size_t n = values.size();
  const size_t in_stride = static_cast<size_t>(cfg.sample_length);
  const size_t out_stride = static_cast<size_t>(cfg.num_frames) * cfg.num_channels;
  // Validate every clip before copying anything.
  std::vector<const int16_t*> sources(n);
  for (size_t c = 0; c < n; ++c) {
    void* data = nullptr;
    size_t length = 0;
    if (!TypedArrayInfo(env, values[c], napi_int16_array, &data, &length)) {
      return Fail(env, settle, returned, Napi::TypeError::New(env, "clip " + std::to_string(c) + " is not an Int16Array"));
    }
    if (length != in_stride) {
      return Fail(env, settle, returned,
                  Napi::RangeError::New(env, "clip " + std::to_string(c) + " has " + std::to_string(length) +
                                                 " samples; these settings need exactly " + std::to_string(in_stride)));
    }
    sources[c] = static_cast<const int16_t*>(data);
  }
  try {
    batch->input = batch->data->pool.Acquire(n * in_stride * sizeof(int16_t));
  } catch (const std::bad_alloc&) {
    return Fail(env, settle, returned, Napi::RangeError::New(env, "out of memory for a batch of " + std::to_string(n) + " clips"));
  }
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, n * out_stride * sizeof(uint16_t));
  Napi::ArrayBuffer act = Napi::ArrayBuffer::New(env, n);
  batch->out = static_cast<uint16_t*>(out.Data());
  batch->activity = static_cast<uint8_t*>(act.Data());
  batch->out_buffer = Napi::Persistent(out);
  batch->activity_buffer = Napi::Persistent(act);
  batch->count = n;

  QueueWorkers(env, batch, WorkersFor(n, threads));
  int16_t* input = reinterpret_cast<int16_t*>(batch->input.data.get());
  for (size_t c = 0; c < n; ++c) {
    std::memcpy(input + c * in_stride, sources[c], in_stride * sizeof(int16_t));
    batch->ready.store(c + 1, std::memory_order_release);
  }
  return returned;
}

// ---------------------------------------------------------------- featurizeWav

// Per-clip outcome of featurizeWav.
enum ClipStatus : uint8_t {
  kDone = 0,            // features computed natively
  kFallbackFormat = 1,  // not 16-bit PCM (or malformed), or at another rate that is not resampled here (no
                        // libsoxr, or out of the resampler's bounds): run the TypeScript pipeline
  kFallbackTrim = 2,    // a trim frame lies within kTrimMargin dB of the threshold: run the TypeScript pipeline
};

// A WAV sample arena larger than this sends the remaining clips to TypeScript.
constexpr size_t kMaxArenaBytes = size_t{256} << 20;

// WAV bytes -> first channel -> [float, soxr resample] -> trim -> pad/crop ->
// [int16] -> frontend, for every clip FindPcm16 accepts at the target rate, or at
// another rate when libsoxr is linked and the resampling is within bounds (the
// bracketed steps are those clips'). Rows are computed into a reused native block and copied
// into the caller's output array on the JS thread at completion: the pool never
// writes memory JS can reach (or detach) while it runs.
class WavBatch : public PoolJob {
 public:
  AddonData* data = nullptr;
  std::shared_ptr<const FrontendConfig> cfg;
  bool trim = false;
  double top_db = 0.0;
  size_t row = 0;                   // uint16 values per clip
  uint32_t rate = 0;                // target sample rate
  std::vector<uint8_t> status;      // per clip
  std::vector<size_t> item_clip;    // per native item: its clip index
  std::vector<uint32_t> item_rate;  // per native item: its file's rate
  std::vector<size_t> item_offset;  // per native item: first sample in the arena
  std::vector<size_t> item_frames;  // per native item: its sample count
  BlockPool::Block arena;           // int16 samples of every native item
  BlockPool::Block rows;            // uint16 rows of every native item
  Napi::ObjectReference out;        // the caller's Uint16Array
  Settle settle;

  void Work() override {
    const FrontendConfig& c = *cfg;
    const size_t T = static_cast<size_t>(c.sample_length);
    const int16_t* samples = reinterpret_cast<const int16_t*>(arena.data.get());
    uint16_t* out_rows = reinterpret_cast<uint16_t*>(rows.data.get());
    FrontendScratch scratch(c);
    std::vector<double> levels;
    std::vector<int16_t> pad;
    Resampled resampled;
    size_t k;
    while (Claim(&k)) {
      const int16_t* y = samples + item_offset[k];
      const size_t n = item_frames[k];
      if (item_rate[k] != rate) {
        status[item_clip[k]] = Resample(c, y, n, item_rate[k], out_rows + k * row, &scratch, &resampled, &levels);
        continue;
      }
      size_t start = 0;
      size_t end = n;
      if (trim && TrimBounds(y, n, top_db, &levels, &start, &end) == TrimVerdict::kAmbiguous) {
        status[item_clip[k]] = kFallbackTrim;  // one writer per item: no race
        continue;
      }
      ProcessClip(c, AdjustLength(y, start, end, T, &pad), out_rows + k * row, &scratch);
    }
  }

  // Per-thread buffers of the resampling path.
  struct Resampled {
    std::vector<float> in, out, pad;
    std::vector<int16_t> clip;
  };

  // One clip at another rate: int16 / 32768 as float32 (decodeWav), soxr_hq to the
  // target rate, then load.ts's float steps and pcm.ts's toInt16. Returns its status.
  ClipStatus Resample(const FrontendConfig& c, const int16_t* y, size_t n, uint32_t from, uint16_t* out_row,
                      FrontendScratch* scratch, Resampled* r, std::vector<double>* levels) const {
    const size_t T = static_cast<size_t>(c.sample_length);
    r->in.resize(n);
    for (size_t i = 0; i < n; ++i) r->in[i] = static_cast<float>(y[i]) / 32768.0f;  // exact
    std::string error;
    // A failure (libsoxr error, memory) goes to the TypeScript pipeline, which names it.
    if (!ResampleSoxrHQ(r->in.data(), n, from, rate, &r->out, &error)) return kFallbackFormat;
    size_t start = 0;
    size_t end = r->out.size();
    if (trim && TrimBounds(r->out.data(), r->out.size(), top_db, levels, &start, &end) == TrimVerdict::kAmbiguous) {
      return kFallbackTrim;
    }
    r->clip.resize(T);
    ToInt16(AdjustLength(r->out.data(), start, end, T, &r->pad), T, r->clip.data());
    ProcessClip(c, r->clip.data(), out_row, scratch);
    return kDone;
  }

  void Finish(Napi::Env env) override {
    BlockPool::Block rows_block = std::move(rows);
    data->pool.Release(std::move(arena));
    Napi::Value result = env.Undefined();
    std::string failure = error;
    if (failure.empty()) {
      void* dst = nullptr;
      size_t length = 0;
      if (!TypedArrayInfo(env, out.Value(), napi_uint16_array, &dst, &length) || length != status.size() * row) {
        failure = "the output Uint16Array was detached or resized while the batch ran";
      } else {
        uint16_t* o = static_cast<uint16_t*>(dst);
        const uint16_t* src = reinterpret_cast<const uint16_t*>(rows_block.data.get());
        for (size_t i = 0; i < status.size(); ++i) {
          if (status[i] != kDone) std::fill(o + i * row, o + (i + 1) * row, uint16_t{0});
        }
        for (size_t k = 0; k < count; ++k) {
          if (status[item_clip[k]] == kDone) std::memcpy(o + item_clip[k] * row, src + k * row, row * sizeof(uint16_t));
        }
        Napi::Uint8Array st = Napi::Uint8Array::New(env, status.size());
        if (!status.empty()) std::memcpy(st.Data(), status.data(), status.size());
        result = st;
      }
    }
    data->pool.Release(std::move(rows_block));
    out.Reset();
    if (failure.empty()) {
      settle.Resolve(env, result);
    } else {
      settle.Reject(env, Napi::Error::New(env, failure).Value());
    }
  }
};

// featurizeWav(settings, topDb, wavs, out[, options][, callback]) -> Uint8Array of ClipStatus
Napi::Value FeaturizeWav(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto job = std::make_shared<WavBatch>();
  job->data = env.GetInstanceData<AddonData>();
  Napi::Value options;
  const Napi::Value returned = ReadTrailingArgs(info, 4, &job->settle, &options);
  Settle* settle = &job->settle;

  std::string error;
  job->cfg = ResolveConfig(env, info[0], &error);
  if (!job->cfg) return Fail(env, settle, returned, InvalidSettings(env, error));
  const FrontendConfig& cfg = *job->cfg;
  if (info[1].IsNumber() && std::isfinite(info[1].As<Napi::Number>().DoubleValue()) &&
      info[1].As<Napi::Number>().DoubleValue() >= 0.0) {
    job->trim = true;
    job->top_db = info[1].As<Napi::Number>().DoubleValue();
  } else if (!info[1].IsNull() && !info[1].IsUndefined()) {
    return Fail(env, settle, returned, Napi::TypeError::New(env, "topDb must be null (no trim) or a finite number >= 0"));
  }
  size_t threads;
  if (!ReadThreads(options, &threads, &error)) return Fail(env, settle, returned, Napi::TypeError::New(env, error));
  if (!info[2].IsArray()) return Fail(env, settle, returned, Napi::TypeError::New(env, "wavs must be an array of Uint8Array"));
  const std::vector<napi_value> values = ArrayElements(info[2].As<Napi::Array>());
  const size_t n = values.size();
  job->row = static_cast<size_t>(cfg.num_frames) * cfg.num_channels;
  {
    void* dst = nullptr;
    size_t length = 0;
    if (!TypedArrayInfo(env, info[3], napi_uint16_array, &dst, &length)) {
      return Fail(env, settle, returned, Napi::TypeError::New(env, "out must be a Uint16Array"));
    }
    if (length != n * job->row) {
      return Fail(env, settle, returned,
                  Napi::RangeError::New(env, "out has " + std::to_string(length) + " values; " + std::to_string(n) +
                                                 " clips of " + std::to_string(cfg.num_frames) + "x" +
                                                 std::to_string(cfg.num_channels) + " need " +
                                                 std::to_string(n * job->row)));
    }
  }
  std::vector<const uint8_t*> bytes(n);
  std::vector<size_t> lengths(n);
  for (size_t i = 0; i < n; ++i) {
    void* data = nullptr;
    if (!TypedArrayInfo(env, values[i], napi_uint8_array, &data, &lengths[i])) {
      return Fail(env, settle, returned, Napi::TypeError::New(env, "wav " + std::to_string(i) + " is not a Uint8Array"));
    }
    bytes[i] = static_cast<const uint8_t*>(data);
  }
  // Header pass: which clips are handled here, and where their samples go.
  job->rate = static_cast<uint32_t>(cfg.settings.sample_rate_hz);
  const bool soxr = SoxrVersion() != nullptr;
  job->status.assign(n, kFallbackFormat);
  std::vector<Pcm16Layout> layouts;
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    Pcm16Layout layout;
    if (!FindPcm16(bytes[i], lengths[i], &layout)) continue;
    if (layout.sample_rate != job->rate) {
      const char* reason = nullptr;
      std::string detail;
      // Out of bounds, or no libsoxr: the TypeScript pipeline refuses it with the reason.
      if (!soxr || !CheckResampleBounds(layout.frames, layout.sample_rate, job->rate, &reason, &detail)) continue;
    }
    if ((total + layout.frames) * sizeof(int16_t) > kMaxArenaBytes) continue;
    job->status[i] = kDone;
    job->item_clip.push_back(i);
    job->item_rate.push_back(layout.sample_rate);
    job->item_offset.push_back(total);
    job->item_frames.push_back(layout.frames);
    layouts.push_back(layout);
    total += layout.frames;
  }
  job->count = job->item_clip.size();
  try {
    job->arena = job->data->pool.Acquire(total * sizeof(int16_t));
    job->rows = job->data->pool.Acquire(job->count * job->row * sizeof(uint16_t));
  } catch (const std::bad_alloc&) {
    return Fail(env, settle, returned, Napi::RangeError::New(env, "out of memory for a batch of " + std::to_string(n) + " clips"));
  }
  job->out = Napi::Persistent(info[3].As<Napi::Object>());

  QueueWorkers(env, job, WorkersFor(job->count, threads));
  int16_t* arena = reinterpret_cast<int16_t*>(job->arena.data.get());
  for (size_t k = 0; k < job->count; ++k) {
    CopyFirstChannel(bytes[job->item_clip[k]], layouts[k], arena + job->item_offset[k]);
    job->ready.store(k + 1, std::memory_order_release);
  }
  return returned;
}

// ---------------------------------------------------------------- resample

// resample(samples: Float32Array, fromHz: number, toHz: number) -> Float32Array:
// ResampleSoxrHQ on the calling thread. Errors carry code ERR_RESAMPLE and the
// stable `reason` (sample-rate-too-low, resample-too-large, resampler-unavailable,
// resample-failed).
Napi::Value Resample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* data = nullptr;
  size_t n = 0;
  if (!TypedArrayInfo(env, info[0], napi_float32_array, &data, &n)) {
    throw Napi::TypeError::New(env, "samples must be a Float32Array");
  }
  if (!info[1].IsNumber() || !info[2].IsNumber()) throw Napi::TypeError::New(env, "fromHz and toHz must be numbers");
  const double from_hz = info[1].As<Napi::Number>().DoubleValue();
  const double to_hz = info[2].As<Napi::Number>().DoubleValue();
  std::vector<float> out;
  std::string error;
  const char* reason = nullptr;
  if (!ResampleSoxrHQ(static_cast<const float*>(data), n, from_hz, to_hz, &out, &error, &reason)) {
    Napi::Error err = Napi::Error::New(env, error);
    err.Set("code", Napi::String::New(env, "ERR_RESAMPLE"));
    err.Set("reason", Napi::String::New(env, reason));
    throw err;
  }
  Napi::Float32Array result = Napi::Float32Array::New(env, out.size());
  if (!out.empty()) std::memcpy(result.Data(), out.data(), out.size() * sizeof(float));
  return result;
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

// ---------------------------------------------------------------- detmath

// detmath(name, xs: Float64Array) -> Float64Array: one of the deterministic
// functions over many inputs, for the test that holds them equal to the
// TypeScript twin (src/core/math/detmath.ts) bit for bit.
Napi::Value DetMath(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "name must be a string");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  double (*fn)(double) = nullptr;
  if (name == "sin") fn = detmath::Sin;
  else if (name == "cos") fn = detmath::Cos;
  else if (name == "exp") fn = detmath::Exp;
  else if (name == "exp2") fn = detmath::Exp2;
  else if (name == "log") fn = detmath::Log;
  else if (name == "log10") fn = detmath::Log10;
  else throw Napi::RangeError::New(env, "unknown detmath function " + name);
  void* data = nullptr;
  size_t n = 0;
  if (!TypedArrayInfo(env, info[1], napi_float64_array, &data, &n)) throw Napi::TypeError::New(env, "xs must be a Float64Array");
  const double* xs = static_cast<const double*>(data);
  Napi::Float64Array out = Napi::Float64Array::New(env, n);
  for (size_t i = 0; i < n; ++i) out[i] = fn(xs[i]);
  return out;
}

// ---------------------------------------------------------------- augmentBatch

// Per-clip outcome of augmentBatch.
enum AugmentStatus : uint8_t {
  kAugmentDone = 0,      // computed here
  kAugmentFallback = 1,  // left to the TypeScript twin (unhandled WAV layout, too long, resampler refusal)
};

// Most samples of one clip taken here (more goes to TypeScript).
constexpr size_t kMaxAugmentFrames = size_t{1} << 24;

// One batch of augmented clips: inputs copied into a reused block on the JS
// thread (first channel of 16-bit PCM WAVs as int16, decoded float clips,
// background-noise crops), computed on the pool, rows copied into the caller's
// output at completion (uint16 features, or float32 audio when the frontend is off).
class AugmentBatch : public PoolJob {
 public:
  enum Kind : uint8_t { kPcm16, kFloat, kSilence };
  struct Item {
    size_t clip = 0;
    Kind kind = kSilence;
    size_t offset = 0;  // bytes into the arena
    size_t frames = 0;
    double rate = 16000;
    size_t crop = SIZE_MAX;  // bytes into the arena, or none
    ClipParams params;
  };

  AddonData* data = nullptr;
  std::shared_ptr<const FrontendConfig> cfg;  // null: float32 audio rows
  AugmentConfig acfg;
  size_t row = 0;  // values per clip in the output
  std::vector<uint8_t> status;
  std::vector<Item> items;
  BlockPool::Block arena;
  BlockPool::Block rows;
  Napi::ObjectReference out;
  Settle settle;

  void Work() override {
    const size_t T = acfg.length;
    std::unique_ptr<FrontendScratch> fscratch;
    if (cfg) fscratch = std::make_unique<FrontendScratch>(*cfg);
    AugmentScratch scratch;
    std::vector<float> samples;
    std::vector<float> audio(T);
    std::vector<int16_t> pcm(T);
    const uint8_t* base = arena.data.get();
    size_t k;
    while (Claim(&k)) {
      const Item& it = items[k];
      const float* x = nullptr;
      size_t n = it.frames;
      if (it.kind == kPcm16) {
        const int16_t* src = reinterpret_cast<const int16_t*>(base + it.offset);
        samples.resize(n);
        for (size_t i = 0; i < n; ++i) samples[i] = static_cast<float>(src[i]) / 32768.0f;
        x = samples.data();
      } else if (it.kind == kFloat) {
        x = reinterpret_cast<const float*>(base + it.offset);
      } else {
        samples.assign(16000, 0.0f);  // MLTK's silence entry: 16000 zeros at 16 kHz
        x = samples.data();
        n = 16000;
      }
      const float* crop = it.crop == SIZE_MAX ? nullptr : reinterpret_cast<const float*>(base + it.crop);
      AugmentOutcome outcome;
      try {
        outcome = ApplyTransform(x, n, it.rate, it.params, acfg, crop, &scratch, audio.data());
      } catch (const std::exception&) {
        outcome = AugmentOutcome::kFallback;  // e.g. out of memory for one long clip: TypeScript reports it
      }
      if (outcome != AugmentOutcome::kDone) {
        status[it.clip] = kAugmentFallback;  // one writer per item: no race
        continue;
      }
      if (cfg) {
        // pcm.ts toInt16: x * 32768 truncated, clipped to int16, NaN -> 0.
        for (size_t i = 0; i < T; ++i) {
          const double v = static_cast<double>(audio[i]) * 32768.0;
          pcm[i] = v >= 32767 ? int16_t{32767} : v <= -32768 ? int16_t{-32768} : v == v ? static_cast<int16_t>(std::trunc(v)) : int16_t{0};
        }
        ProcessClip(*cfg, pcm.data(), reinterpret_cast<uint16_t*>(rows.data.get()) + k * row, fscratch.get());
      } else {
        std::memcpy(reinterpret_cast<float*>(rows.data.get()) + k * row, audio.data(), T * sizeof(float));
      }
    }
  }

  void Finish(Napi::Env env) override {
    BlockPool::Block rows_block = std::move(rows);
    data->pool.Release(std::move(arena));
    Napi::Value result = env.Undefined();
    std::string failure = error;
    if (failure.empty()) {
      void* dst = nullptr;
      size_t length = 0;
      const napi_typedarray_type type = cfg ? napi_uint16_array : napi_float32_array;
      const size_t elem = cfg ? sizeof(uint16_t) : sizeof(float);
      if (!TypedArrayInfo(env, out.Value(), type, &dst, &length) || length != status.size() * row) {
        failure = "the output array was detached or resized while the batch ran";
      } else {
        uint8_t* o = static_cast<uint8_t*>(dst);
        const uint8_t* src = rows_block.data.get();
        for (size_t i = 0; i < status.size(); ++i) {
          if (status[i] != kAugmentDone) std::memset(o + i * row * elem, 0, row * elem);
        }
        for (size_t k = 0; k < count; ++k) {
          if (status[items[k].clip] == kAugmentDone) std::memcpy(o + items[k].clip * row * elem, src + k * row * elem, row * elem);
        }
        Napi::Uint8Array st = Napi::Uint8Array::New(env, status.size());
        if (!status.empty()) std::memcpy(st.Data(), status.data(), status.size());
        result = st;
      }
    }
    data->pool.Release(std::move(rows_block));
    out.Reset();
    if (failure.empty()) {
      settle.Resolve(env, result);
    } else {
      settle.Reject(env, Napi::Error::New(env, failure).Value());
    }
  }
};

bool ReadNumber(const Napi::Object& o, const char* name, double* out) {
  Napi::Value v = o.Get(name);
  if (!v.IsNumber()) return false;
  *out = v.As<Napi::Number>().DoubleValue();
  return std::isfinite(*out);
}

// augmentBatch(settings | null, job, clips, rates, params, crops, out[, options][, callback])
//   job: {sampleRateHz, sampleLength, topDb: number | null, noiseLevel: 'mltk' | 'peak'}
//   clips[i]: Uint8Array (WAV bytes), Float32Array (samples at rates[i] Hz) or null (silence)
//   params: Float64Array, kClipParamCount per clip; crops[i]: Float32Array(sampleLength) or null
//   out: Uint16Array (features, settings given) or Float32Array (audio, settings null)
// -> Uint8Array of AugmentStatus
Napi::Value AugmentBatchCall(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto job = std::make_shared<AugmentBatch>();
  job->data = env.GetInstanceData<AddonData>();
  Napi::Value options;
  const Napi::Value returned = ReadTrailingArgs(info, 7, &job->settle, &options);
  Settle* settle = &job->settle;
  auto type_error = [&](const std::string& m) { return Fail(env, settle, returned, Napi::TypeError::New(env, m)); };

  std::string error;
  if (!info[0].IsNull()) {
    job->cfg = ResolveConfig(env, info[0], &error);
    if (!job->cfg) return Fail(env, settle, returned, InvalidSettings(env, error));
  }
  if (!info[1].IsObject()) return type_error("job must be an object");
  {
    const Napi::Object j = info[1].As<Napi::Object>();
    double rate = 0;
    double length = 0;
    if (!ReadNumber(j, "sampleRateHz", &rate) || !(rate >= 1 && rate <= 384000) || std::trunc(rate) != rate) {
      return type_error("job.sampleRateHz must be an integer in 1..384000");
    }
    if (!ReadNumber(j, "sampleLength", &length) || !(length >= 1 && length <= static_cast<double>(kMaxAugmentFrames)) ||
        std::trunc(length) != length) {
      return type_error("job.sampleLength must be a positive integer");
    }
    job->acfg.sample_rate = rate;
    job->acfg.length = static_cast<size_t>(length);
    const Napi::Value top = j.Get("topDb");
    if (top.IsNull()) {
      job->acfg.trim = false;
    } else if (!ReadNumber(j, "topDb", &job->acfg.top_db) || job->acfg.top_db < 0) {
      return type_error("job.topDb must be null (no trim) or a finite number >= 0");
    }
    const Napi::Value level = j.Get("noiseLevel");
    const std::string lv = level.IsString() ? level.As<Napi::String>().Utf8Value() : "";
    if (lv != "mltk" && lv != "peak") return type_error("job.noiseLevel must be 'mltk' or 'peak'");
    job->acfg.mltk_noise = lv == "mltk";
  }
  if (job->cfg && static_cast<size_t>(job->cfg->sample_length) != job->acfg.length) {
    return Fail(env, settle, returned, Napi::RangeError::New(env, "job.sampleLength differs from the settings' sample length"));
  }
  size_t threads;
  if (!ReadThreads(options, &threads, &error)) return type_error(error);
  if (!info[2].IsArray()) return type_error("clips must be an array");
  const std::vector<napi_value> clips = ArrayElements(info[2].As<Napi::Array>());
  const size_t n = clips.size();
  if (!info[5].IsArray()) return type_error("crops must be an array");
  const std::vector<napi_value> crops = ArrayElements(info[5].As<Napi::Array>());
  if (crops.size() != n) return type_error("crops must have one entry per clip");
  void* rates_data = nullptr;
  size_t rates_len = 0;
  void* params_data = nullptr;
  size_t params_len = 0;
  if (!TypedArrayInfo(env, info[3], napi_float64_array, &rates_data, &rates_len) || rates_len != n) {
    return type_error("rates must be a Float64Array with one rate per clip");
  }
  if (!TypedArrayInfo(env, info[4], napi_float64_array, &params_data, &params_len) || params_len != n * kClipParamCount) {
    return type_error("params must be a Float64Array of " + std::to_string(kClipParamCount) + " numbers per clip");
  }
  const double* rates = static_cast<const double*>(rates_data);
  const double* params = static_cast<const double*>(params_data);
  const size_t T = job->acfg.length;
  job->row = job->cfg ? static_cast<size_t>(job->cfg->num_frames) * job->cfg->num_channels : T;
  {
    void* dst = nullptr;
    size_t length = 0;
    const napi_typedarray_type type = job->cfg ? napi_uint16_array : napi_float32_array;
    if (!TypedArrayInfo(env, info[6], type, &dst, &length)) {
      return type_error(job->cfg ? "out must be a Uint16Array" : "out must be a Float32Array (no frontend settings)");
    }
    if (length != n * job->row) {
      return Fail(env, settle, returned,
                  Napi::RangeError::New(env, "out has " + std::to_string(length) + " values; " + std::to_string(n) +
                                                 " clips need " + std::to_string(n * job->row)));
    }
  }
  // Header pass: what each clip is and where its bytes go.
  struct Source {
    const uint8_t* bytes = nullptr;
    Pcm16Layout layout;
    const float* crop = nullptr;
  };
  std::vector<Source> sources;
  job->status.assign(n, kAugmentFallback);
  size_t total = 0;
  auto align4 = [](size_t v) { return (v + 3) & ~size_t{3}; };
  for (size_t i = 0; i < n; ++i) {
    AugmentBatch::Item it;
    it.clip = i;
    if (!ReadClipParams(params + i * kClipParamCount, &it.params)) {
      return Fail(env, settle, returned, Napi::RangeError::New(env, "params of clip " + std::to_string(i) + " are out of range"));
    }
    Source src;
    void* p = nullptr;
    size_t len = 0;
    napi_valuetype vt;
    napi_typeof(env, clips[i], &vt);
    if (vt == napi_null) {
      it.kind = AugmentBatch::kSilence;
      it.rate = 16000;
    } else if (TypedArrayInfo(env, clips[i], napi_uint8_array, &p, &len)) {
      if (!FindPcm16(static_cast<const uint8_t*>(p), len, &src.layout)) continue;  // TypeScript decodes it
      it.kind = AugmentBatch::kPcm16;
      it.frames = src.layout.frames;
      it.rate = src.layout.sample_rate;
      src.bytes = static_cast<const uint8_t*>(p);
    } else if (TypedArrayInfo(env, clips[i], napi_float32_array, &p, &len)) {
      if (!(rates[i] >= 1 && rates[i] <= 384000) || std::trunc(rates[i]) != rates[i]) {
        return type_error("rates[" + std::to_string(i) + "] must be an integer rate in Hz");
      }
      if (len > kMaxAugmentFrames) continue;
      it.kind = AugmentBatch::kFloat;
      it.frames = len;
      it.rate = rates[i];
      src.bytes = static_cast<const uint8_t*>(p);
    } else {
      return type_error("clip " + std::to_string(i) + " must be a Uint8Array, a Float32Array or null");
    }
    napi_typeof(env, crops[i], &vt);
    if (vt != napi_null) {
      if (!TypedArrayInfo(env, crops[i], napi_float32_array, &p, &len) || len != T) {
        return type_error("crops[" + std::to_string(i) + "] must be null or a Float32Array of sampleLength values");
      }
      src.crop = static_cast<const float*>(p);
    }
    const size_t bytes = it.kind == AugmentBatch::kPcm16 ? it.frames * 2 : it.kind == AugmentBatch::kFloat ? it.frames * 4 : 0;
    const size_t need = align4(bytes) + (src.crop ? T * 4 : 0);
    if (total + need > kMaxArenaBytes) continue;
    it.offset = total;
    total += align4(bytes);
    if (src.crop) {
      it.crop = total;
      total += T * 4;
    }
    job->status[i] = kAugmentDone;
    job->items.push_back(it);
    sources.push_back(src);
  }
  job->count = job->items.size();
  try {
    job->arena = job->data->pool.Acquire(total);
    job->rows = job->data->pool.Acquire(job->count * job->row * (job->cfg ? sizeof(uint16_t) : sizeof(float)));
  } catch (const std::bad_alloc&) {
    return Fail(env, settle, returned, Napi::RangeError::New(env, "out of memory for a batch of " + std::to_string(n) + " clips"));
  }
  job->out = Napi::Persistent(info[6].As<Napi::Object>());

  QueueWorkers(env, job, WorkersFor(job->count, threads));
  uint8_t* arena = job->arena.data.get();
  for (size_t k = 0; k < job->count; ++k) {
    const AugmentBatch::Item& it = job->items[k];
    const Source& src = sources[k];
    if (it.kind == AugmentBatch::kPcm16) {
      CopyFirstChannel(src.bytes, src.layout, reinterpret_cast<int16_t*>(arena + it.offset));
    } else if (it.kind == AugmentBatch::kFloat) {
      std::memcpy(arena + it.offset, src.bytes, it.frames * sizeof(float));
    }
    if (src.crop) std::memcpy(arena + it.crop, src.crop, T * sizeof(float));
    job->ready.store(k + 1, std::memory_order_release);
  }
  return returned;
}

// augmentStage(name, input: Float32Array, args: number[]) -> Float32Array: one
// stage of the native augmentation pipeline on the JS thread, for the tests that
// hold each stage equal to its TypeScript twin.
Napi::Value AugmentStage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "name must be a string");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  void* data = nullptr;
  size_t n = 0;
  if (!TypedArrayInfo(env, info[1], napi_float32_array, &data, &n)) throw Napi::TypeError::New(env, "input must be a Float32Array");
  const std::vector<float> x(static_cast<const float*>(data), static_cast<const float*>(data) + n);
  if (!info[2].IsArray()) throw Napi::TypeError::New(env, "args must be an array of numbers");
  std::vector<double> a;
  for (napi_value v : ArrayElements(info[2].As<Napi::Array>())) a.push_back(Napi::Value(env, v).As<Napi::Number>().DoubleValue());
  auto arg = [&](size_t i) {
    if (i >= a.size()) throw Napi::RangeError::New(env, name + " needs more arguments");
    return a[i];
  };
  std::vector<float> out;
  dsp::PitchScratch ps;
  dsp::NoiseScratch ns;
  if (name == "rfft" || name == "irfft") {
    // rfft: x (n even) -> [re..., im...] (n/2 + 1 each); irfft: [re..., im...] -> n = arg(0) samples.
    const size_t size = name == "rfft" ? n : static_cast<size_t>(arg(0));
    if (size < 2 || size % 2 != 0 || (name == "irfft" && n != size + 2)) throw Napi::RangeError::New(env, "bad FFT size");
    dsp::RealFft& fft = dsp::RealFftFor(size);
    std::vector<double> re(size / 2 + 1), im(size / 2 + 1), y(size);
    if (name == "rfft") {
      for (size_t i = 0; i < size; ++i) y[i] = x[i];
      fft.Forward(y.data(), re.data(), im.data());
      Napi::Float64Array r = Napi::Float64Array::New(env, size + 2);
      for (size_t k = 0; k <= size / 2; ++k) {
        r[k] = re[k];
        r[size / 2 + 1 + k] = im[k];
      }
      return r;
    }
    for (size_t k = 0; k <= size / 2; ++k) {
      re[k] = x[k];
      im[k] = x[size / 2 + 1 + k];
    }
    fft.Inverse(re.data(), im.data(), y.data());
    Napi::Float64Array r = Napi::Float64Array::New(env, size);
    for (size_t i = 0; i < size; ++i) r[i] = y[i];
    return r;
  } else if (name == "timeStretch") {
    dsp::TimeStretch(x.data(), n, arg(0), &ps.stretch, &out);
  } else if (name == "stretchAndShift") {
    dsp::StretchAndShift(x.data(), n, arg(0), arg(1), &ps, &out);
  } else if (name == "resampleRatio") {
    dsp::ResampleRatio(x.data(), n, arg(0), static_cast<size_t>(arg(1)), &ps.xd, &out);
  } else if (name == "vtlp") {
    dsp::Vtlp(x.data(), n, arg(0), arg(1), &ps, &out);
  } else if (name == "mltkNoise" || name == "peakNoise") {
    // args: color, n, lo, hi, seed0..3 (lo/hi unused by peakNoise)
    const uint32_t seed[4] = {static_cast<uint32_t>(arg(4)), static_cast<uint32_t>(arg(5)), static_cast<uint32_t>(arg(6)),
                              static_cast<uint32_t>(arg(7))};
    const auto color = static_cast<dsp::NoiseColor>(static_cast<int>(arg(0)));
    if (name == "mltkNoise") {
      dsp::MltkColourNoise(color, static_cast<size_t>(arg(1)), arg(2), arg(3), seed, &ns, &out);
    } else {
      dsp::PeakColourNoise(color, static_cast<size_t>(arg(1)), seed, &ns, &out);
    }
  } else if (name == "trim") {
    std::vector<double> levels;
    size_t start = 0;
    size_t end = 0;
    TrimBoundsDet(x.data(), n, arg(0), &levels, &start, &end);
    out = {static_cast<float>(start), static_cast<float>(end)};
  } else {
    throw Napi::RangeError::New(env, "unknown stage " + name);
  }
  Napi::Float32Array r = Napi::Float32Array::New(env, out.size());
  if (!out.empty()) std::memcpy(r.Data(), out.data(), out.size() * sizeof(float));
  return r;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  exports.Set("processSync", Napi::Function::New(env, ProcessSync, "processSync"));
  exports.Set("processBatch", Napi::Function::New(env, ProcessBatch, "processBatch"));
  exports.Set("featurizeWav", Napi::Function::New(env, FeaturizeWav, "featurizeWav"));
  exports.Set("shape", Napi::Function::New(env, Shape, "shape"));
  exports.Set("detmath", Napi::Function::New(env, DetMath, "detmath"));
  exports.Set("augmentBatch", Napi::Function::New(env, AugmentBatchCall, "augmentBatch"));
  exports.Set("augmentStage", Napi::Function::New(env, AugmentStage, "augmentStage"));
  exports.Set("resample", Napi::Function::New(env, Resample, "resample"));
  const char* soxr = SoxrVersion();
  exports.Set("soxrVersion", soxr != nullptr ? Napi::Value(Napi::String::New(env, soxr)) : env.Null());
  Napi::Object limits = Napi::Object::New(env);
  limits.Set("minRateHz", Napi::Number::New(env, kMinResampleRateHz));
  limits.Set("maxInputSamples", Napi::Number::New(env, static_cast<double>(kMaxResampleInputSamples)));
  limits.Set("maxOutputSamples", Napi::Number::New(env, static_cast<double>(kMaxResampleOutputSamples)));
  exports.Set("resampleLimits", limits);
  return exports;
}

}  // namespace audiofeed

// The registration macro wants an unqualified function name.
static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return audiofeed::Init(env, exports); }

NODE_API_MODULE(audiofeed_frontend, InitAddon)
