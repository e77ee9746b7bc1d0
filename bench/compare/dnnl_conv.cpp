// Times one oneDNN f32 convolution: KxK (3x3 unless --kernel), stride 1,
// "same" padding, C -> O channels (O = C unless --out-channels) on an HxW
// image, with bias and a fused ReLU post-op (the shape of a ResNet conv
// after BatchNorm folding). oneDNN chooses the activation and
// weight layouts (format_tag::any); inputs are reordered into them once,
// outside the timed loop, so the time is the convolution primitive alone.
//
//   g++ -O2 dnnl_conv.cpp -o dnnl_conv -ldnnl -fopenmp
//   OMP_NUM_THREADS=2 ./dnnl_conv --batch 8 --threads 2 [--runs 50]
//        [--channels 64] [--out-channels O] [--kernel 1|3] [--size 56]
//        [--no-relu]
//
// Prints one JSON object: batch, threads, impl (oneDNN's kernel name),
// median_ms, min_ms, gflop (per run), gflops (at the median).
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <unordered_map>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

void fill(memory &m, std::mt19937 &rng, float scale) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  float *p = static_cast<float *>(m.get_data_handle());
  size_t n = m.get_desc().get_size() / sizeof(float);
  for (size_t i = 0; i < n; ++i) p[i] = dist(rng);
}

// `user` (plain layout) in the layout `want`, reordered when they differ.
memory inLayout(memory &user, const memory::desc &want, engine &eng, stream &s) {
  if (user.get_desc() == want) return user;
  memory m(want, eng);
  reorder(user, m).execute(s, user, m);
  s.wait();
  return m;
}

} // namespace

int main(int argc, char **argv) {
  long batch = 1, channels = 64, outChannels = 0, kernel = 3, size = 56;
  int threads = 2, runs = 50, warmup = 5;
  bool relu = true;
  for (int i = 1; i < argc; ++i) {
    auto next = [&]() -> const char * {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "missing value for %s\n", argv[i]);
        std::exit(2);
      }
      return argv[++i];
    };
    if (!std::strcmp(argv[i], "--batch")) batch = std::atol(next());
    else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(next());
    else if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(next());
    else if (!std::strcmp(argv[i], "--channels")) channels = std::atol(next());
    else if (!std::strcmp(argv[i], "--out-channels")) outChannels = std::atol(next());
    else if (!std::strcmp(argv[i], "--kernel")) kernel = std::atol(next());
    else if (!std::strcmp(argv[i], "--size")) size = std::atol(next());
    else if (!std::strcmp(argv[i], "--no-relu")) relu = false;
    else {
      std::fprintf(stderr,
                   "usage: %s [--batch N] [--threads T] [--runs R] "
                   "[--channels C] [--out-channels O] [--kernel K] [--size HW] "
                   "[--no-relu]\n", argv[0]);
      return 2;
    }
  }
  omp_set_num_threads(std::max(threads, 1));
  runs = std::max(runs, 1);

  engine eng(engine::kind::cpu, 0);
  stream s(eng);

  if (kernel < 1 || kernel % 2 == 0) {
    std::fprintf(stderr, "--kernel must be odd and positive, got %ld\n", kernel);
    return 2;
  }
  const long C = channels, K = outChannels > 0 ? outChannels : channels,
             H = size, W = size;
  memory::dims srcDims = {batch, C, H, W}, wDims = {K, C, kernel, kernel},
               bDims = {K}, dstDims = {batch, K, H, W};
  memory::dims strides = {1, 1}, pad = {kernel / 2, kernel / 2};

  auto anySrc = memory::desc(srcDims, dt::f32, tag::any);
  auto anyW = memory::desc(wDims, dt::f32, tag::any);
  auto anyDst = memory::desc(dstDims, dt::f32, tag::any);
  auto biasMd = memory::desc(bDims, dt::f32, tag::x);

  convolution_forward::desc desc(prop_kind::forward_inference,
                                 algorithm::convolution_direct, anySrc, anyW,
                                 biasMd, anyDst, strides, pad, pad);
  primitive_attr attr;
  if (relu) {
    post_ops ops;
    ops.append_eltwise(1.0f, algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  convolution_forward::primitive_desc pd(desc, attr, eng);

  std::mt19937 rng(1);
  memory userSrc({srcDims, dt::f32, tag::nchw}, eng);
  memory userW({wDims, dt::f32, tag::oihw}, eng);
  memory bias(biasMd, eng);
  fill(userSrc, rng, 1.0f);
  fill(userW, rng, 0.05f);
  fill(bias, rng, 0.1f);
  memory src = inLayout(userSrc, pd.src_desc(), eng, s);
  memory weights = inLayout(userW, pd.weights_desc(), eng, s);
  memory dst(pd.dst_desc(), eng);

  convolution_forward conv(pd);
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src},
                                          {DNNL_ARG_WEIGHTS, weights},
                                          {DNNL_ARG_BIAS, bias},
                                          {DNNL_ARG_DST, dst}};
  for (int i = 0; i < warmup; ++i) conv.execute(s, args);
  s.wait();
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    conv.execute(s, args);
    s.wait();
    ms.push_back(std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  double median = ms.size() % 2 ? ms[ms.size() / 2]
                                : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  double gflop = 2.0 * batch * K * H * W * C * kernel * kernel / 1e9;
  const version_t *v = version();
  std::printf("{\"batch\": %ld, \"channels\": %ld, \"out_channels\": %ld, "
              "\"kernel\": %ld, \"size\": %ld, \"relu\": %s, "
              "\"threads\": %d, \"omp_max_threads\": %d, \"onednn\": \"%d.%d.%d\", "
              "\"impl\": \"%s\", \"runs\": %d, \"median_ms\": %.4f, \"min_ms\": %.4f, "
              "\"gflop\": %.4f, \"gflops\": %.2f}\n",
              batch, C, K, kernel, size, relu ? "true" : "false", threads,
              omp_get_max_threads(), v->major, v->minor, v->patch, pd.impl_info_str(),
              runs, median, ms.front(), gflop, gflop / (median / 1e3));
  return 0;
}
