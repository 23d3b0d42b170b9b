{
  "variables": {
    "audiofeed_soxr%": "<!(node native/soxr-config.cjs enabled)"
  },
  "targets": [
    {
      "target_name": "audiofeed_frontend",
      "sources": [
        "native/activity_detection.cc",
        "native/addon.cc",
        "native/augment.cc",
        "native/clip_pipeline.cc",
        "native/dc_notch.cc",
        "native/detmath.cc",
        "native/dsp_fft.cc",
        "native/fft.cc",
        "native/filterbank.cc",
        "native/frontend.cc",
        "native/log_scale.cc",
        "native/noise.cc",
        "native/noise_reduction.cc",
        "native/pcan.cc",
        "native/pitch.cc",
        "native/resample_soxr.cc",
        "native/stretch.cc",
        "native/window.cc"
      ],
      "conditions": [
        ["audiofeed_soxr==1", {
          "defines": ["AUDIOFEED_HAVE_SOXR"],
          "cflags": ["<!@(node native/soxr-config.cjs cflags)"],
          "libraries": ["<!@(node native/soxr-config.cjs libs)"]
        }]
      ],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions", "-O3", "-O2", "-Os", "-ffast-math"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++1y", "-std=gnu++17", "-std=c++14"],
      "cflags": ["-O2", "-ffp-contract=off", "-fno-fast-math"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-ffp-contract=off", "-fno-fast-math"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "GCC_OPTIMIZATION_LEVEL": "2",
        "OTHER_CFLAGS": ["-ffp-contract=off", "-fno-fast-math"]
      },
      "msvs_settings": {
        "VCCLCompilerTool": { "ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17", "/fp:precise"] }
      }
    }
  ]
}
