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

#include "clip_pipeline.h"
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

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  exports.Set("processSync", Napi::Function::New(env, ProcessSync, "processSync"));
  exports.Set("processBatch", Napi::Function::New(env, ProcessBatch, "processBatch"));
  exports.Set("featurizeWav", Napi::Function::New(env, FeaturizeWav, "featurizeWav"));
  exports.Set("shape", Napi::Function::New(env, Shape, "shape"));
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
