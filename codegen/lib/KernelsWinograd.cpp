// Winograd's minimal filtering F(m x m, 3x3) for 3x3 stride-1 convolutions
// (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
// 2016), m = 2 or 4: each m x m output tile is A^T [U . V] A with
// U = G g G^T the transformed 3x3 kernel and V = B^T d B the transformed
// (m + 2) x (m + 2) input tile d, so (m + 2)^2 multiplies per tile and
// channel pair instead of 9 m^2: 2.25x fewer at m = 2, 4x at m = 4. Over a
// batch of tiles these are P = (m + 2)^2 matrix products, one per point xi
// of the transform domain:
//   M(t, o, xi) = sum_c U(o, c, xi) * V(t, c, xi).
// kiln.winograd_filter computes U (once per parameter change over
// parameters); kiln.conv2d_winograd the rest. Made by kiln-winograd.
// Measurements: docs/codegen.md.
#include "Kernels.h"

#include <tuple>

namespace kiln::codegen::detail {

using namespace Halide;

namespace {

// The transform matrices, row-major with their sizes (A^T: m x (m+2);
// G: (m+2) x 3; B^T: (m+2) x (m+2)), from Toom-Cook interpolation at the
// points 0, 1, -1 (m = 2) and 0, 1, -1, 2, -1/2 (m = 4), plus infinity.
// Lavin and Gray's F(4x4, 3x3) points 0, +-1, +-2 were measured 3.4x less
// accurate in float32 (max error 1.3e-5 against 3.9e-6 relative to the
// largest output, 64 channels of values in [-1, 1]; docs/codegen.md).
struct Matrices {
  int m;
  std::vector<std::vector<double>> at, g, bt;
};

const Matrices &matrices(int m) {
  static const Matrices two{
      2,
      {{1, 1, 1, 0}, {0, 1, -1, -1}},
      {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}},
      {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}}};
  static const Matrices four{
      4,
      {{1, 1, 1, 1, 1, 0},
       {0, 1, -1, 2, -0.5, 0},
       {0, 1, 1, 4, 0.25, 0},
       {0, 1, -1, 8, -0.125, 1}},
      {{1, 0, 0},
       {-1.0 / 3, -1.0 / 3, -1.0 / 3},
       {1.0 / 3, -1.0 / 3, 1.0 / 3},
       {1.0 / 15, 2.0 / 15, 4.0 / 15},
       {-16.0 / 15, 8.0 / 15, -4.0 / 15},
       {0, 0, 1}},
      {{1, 1.5, -2, -1.5, 1, 0},
       {0, -1, -2.5, -0.5, 1, 0},
       {0, 1, 0.5, -2.5, 1, 0},
       {0, -0.5, -1, 0.5, 1, 0},
       {0, 2, -1, -2, 1, 0},
       {0, 1, 1.5, -2, -1.5, 1}}};
  return m == 4 ? four : two;
}

// Row `row` of a matrix applied to v(0..n-1), skipping zeros: +-1 as adds
// and subtracts, other coefficients as multiplies.
Expr applyRow(const std::vector<double> &row,
              const std::function<Expr(int)> &v) {
  Expr sum;
  for (size_t j = 0; j < row.size(); ++j) {
    double k = row[j];
    if (k == 0) {
      continue;
    }
    Expr term = v(static_cast<int>(j));
    if (!sum.defined()) {
      sum = k == 1 ? term : k == -1 ? -term : Expr(static_cast<float>(k)) * term;
    } else if (k == 1) {
      sum = sum + term;
    } else if (k == -1) {
      sum = sum - term;
    } else {
      sum = sum + Expr(static_cast<float>(k)) * term;
    }
  }
  return sum;
}

// The first half of a separable transform: value j * n + a is left[a]
// (n = rows of `left`) applied along x to row j of v(i, j) = v at column
// i, row j, for the rows j of the input (columns of `left`).
std::vector<Expr> transformAlongX(const std::vector<std::vector<double>> &left,
                                  const std::function<Expr(int, int)> &v) {
  std::vector<Expr> rows;
  for (size_t j = 0; j < left[0].size(); ++j) {
    for (const auto &rowA : left) {
      rows.push_back(
          applyRow(rowA, [&](int i) { return v(i, static_cast<int>(j)); }));
    }
  }
  return rows;
}

// The second half: one value per point xi = n * b + a, left[b] applied
// along y to rows(a, j), the first half's values.
std::vector<Expr> transformAlongY(const std::vector<std::vector<double>> &left,
                                  const std::function<Expr(int, int)> &rows) {
  std::vector<Expr> points;
  for (const auto &rowB : left) {
    for (size_t a = 0; a < left.size(); ++a) {
      points.push_back(
          applyRow(rowB, [&](int j) { return rows(static_cast<int>(a), j); }));
    }
  }
  return points;
}

// One value per point xi = alpha * b + a of an alpha x alpha transform
// (alpha = rows of `left`): left[b] (.) right[a] applied to v(i, j) =
// v at column i, row j. Both halves in one expression; a Func of the first
// half's values (as conv2d_winograd's) computes the same sums.
std::vector<Expr> transform2d(const std::vector<std::vector<double>> &left,
                              const std::function<Expr(int, int)> &v) {
  return transformAlongY(left, [&](int a, int j) {
    return applyRow(left[a], [&](int i) { return v(i, j); });
  });
}

// The point `index` of `points` (a select chain: unrolled loops over the
// point fold it to one case).
Expr pointSelect(const std::vector<Expr> &points, Expr index) {
  Expr value = points.back();
  for (int k = static_cast<int>(points.size()) - 2; k >= 0; --k) {
    value = select(index == k, points[k], value);
  }
  return value;
}

int tileAttr(const KernelSpec &s) {
  int64_t m = attrInt(s, "tile");
  if (m != 2 && m != 4) {
    fail(s, "tile must be 2 or 4 (F(2x2, 3x3) or F(4x4, 3x3))");
  }
  return static_cast<int>(m);
}

//===----------------------------------------------------------------------===//
// winograd_filter
//===----------------------------------------------------------------------===//

// The output channels per block of a filter [P, O/B, C, B]: B = 8 or 16.
int filterBlock(const KernelSpec &s, const std::vector<int64_t> &filter) {
  if (filter.size() != 4 || (filter[3] != 8 && filter[3] != 16)) {
    fail(s, "filter must be [(tile+2)^2,O/B,C,B] with B = 8 or 16");
  }
  return static_cast<int>(filter[3]);
}

void validateWinogradFilter(const KernelSpec &s) {
  expectCounts(s, 1, 1, 1);
  expectF32Except(s);
  const auto &wt = s.inputs[0].shape;
  expectRank(s, s.inputs[0], "weight", 4);
  if (wt[2] != 3 || wt[3] != 3) {
    fail(s, "weight must be a 3x3 kernel [O,C,3,3]");
  }
  int alpha = tileAttr(s) + 2;
  bool inputGradient = attrBool(s, "input_gradient");
  int64_t in = inputGradient ? wt[0] : wt[1], out = inputGradient ? wt[1] : wt[0];
  int64_t block = filterBlock(s, s.outputs[0].shape);
  if (out % block) {
    fail(s, "the output channels must be a multiple of " +
                std::to_string(block) + " (blocks of " + std::to_string(block) +
                ")");
  }
  expectShape(s, s.outputs[0], "filter",
              {alpha * alpha, out / block, in, block});
}

// U(o % B, c, o / B, xi) = (G g G^T)[xi / alpha][xi % alpha] for g =
// weight[o, c] (input gradient: g = rot180(weight[c, o]), o indexing the
// weight's input channels), B = 8 or 16 (the filter's last dim): 8 output
// channels in a vector (gathers of the weight), the points unrolled so
// that they share the loaded taps. Load time over parameters; once per
// step in training.
Kernel buildWinogradFilter(const KernelSpec &s, const Target &target) {
  (void)target;
  std::vector<ImageParam> in = layerInputs(s, {"weight"});
  ImageParam weight = in[0];
  bool inputGradient = attrBool(s, "input_gradient");
  int block = filterBlock(s, s.outputs[0].shape);
  Var oi("oi"), c("c"), ob("ob"), xi("xi");
  Expr o = ob * block + oi;
  std::vector<Expr> points =
      transform2d(matrices(tileAttr(s)).g, [&](int kx, int ky) {
        return inputGradient ? Expr(weight(2 - kx, 2 - ky, o, c))
                             : Expr(weight(kx, ky, c, o));
      });
  Func u("filter"), pts("filter_points");
  pts(oi, c, ob, xi) = pointSelect(points, xi);
  u(oi, c, ob, xi) = pts(oi, c, ob, xi);
  constrainOutput(u, s.outputs[0]);
  // The points of a block of input channels are computed together (they
  // share the loaded taps) into a buffer that stays in L1, then written
  // point by point: runs of the block's channels x 8, where one point
  // after another wrote 32 bytes to each of (tile+2)^2 places a whole
  // point plane apart (ResNet's 512 x 512 filter: 1 MB apart, 11 GB/s).
  constexpr int kChannelBlock = 32;
  Var co("co"), ci("ci");
  if (s.outputs[0].shape[2] > kChannelBlock) {
    u.split(c, co, ci, kChannelBlock, TailStrategy::ShiftInwards)
        .reorder(oi, ci, xi, co, ob);
    pts.compute_at(u, co);
  } else {
    u.reorder(oi, c, xi, ob);
    pts.compute_at(u, ob);
  }
  u.vectorize(oi, 8).parallel(ob);
  pts.reorder(xi, oi, c).unroll(xi).vectorize(oi, 8);
  return {{weight}, u};
}

//===----------------------------------------------------------------------===//
// conv2d_winograd
//===----------------------------------------------------------------------===//

// conv2d_winograd's window: 3x3, strides and dilations 1, its pads.
Window winogradWindow(const KernelSpec &s) {
  std::vector<int64_t> pads = attrInts(s, "pads", 4);
  for (int64_t p : pads) {
    if (p < 0) {
      fail(s, "pads must be non-negative");
    }
  }
  return {3, 3, 1, 1, pads[0], pads[1], pads[2], pads[3], 1, 1};
}

void validateConv2dWinograd(const KernelSpec &s) {
  expectCounts(s, 2, 3, 1);
  expectF32Except(s);
  expectRank(s, s.inputs[0], "x", 4);
  expectRank(s, s.inputs[1], "filter", 4);
  int m = tileAttr(s);
  const auto &x = s.inputs[0].shape, &u = s.inputs[1].shape;
  if (u[0] != (m + 2) * (m + 2) || u[2] != x[1] || (u[3] != 8 && u[3] != 16)) {
    fail(s, "filter must be [(tile+2)^2,O/B,C,B], B = 8 or 16 "
            "(kiln.winograd_filter of the weight, same tile)");
  }
  if (s.inputs.size() == 3) {
    expectShape(s, s.inputs[2], "bias", {u[1] * u[3]});
  }
  expectWindowOutput(s, winogradWindow(s), x[0], u[1] * u[3]);
}

// Tiles are numbered within chunks of R tile rows (t = tx + TX * tyLocal),
// so that one parallel task transforms its chunk's input once, in cache,
// and runs every output channel block of its group over it. In the batch
// form (planes with fewer than 32 tiles, 7x7: 16) the tile rows of all the
// images are numbered in one sequence g = tile row + TY * image, and a
// chunk is R of them: one block of 2 vectors of tiles, so that V stored as
// (tile, c, point, chunk) gives each block's reduction one contiguous run.
struct WinogradFuncs {
  Var x{"x"}, y{"y"}, o{"o"}, n{"n"}, t{"t"}, c{"c"}, xi{"xi"},
      chunk{"chunk"}, tx{"tx"}, ty{"ty"}, nb{"nb"};
  Var ob{"ob"}; // the product's filter block (with blocks of 16)
  RDom r; // input channel
  Var k{"k"}; // a value of a transform's first half (transformAlongX)
  // The input and output transforms' first halves: inlined, or computed
  // per vector of tiles so that each half's values fit the registers.
  Func padded{"padded"}, vRows{"wino_v_rows"}, v{"wino_v"}, acc{"wino_acc"},
      m{"wino_m"}, mRows{"wino_m_rows"}, out{"out"};
  int tile = 2, points = 16;    // m, (m + 2)^2
  // out's rows and columns per tile, and its plane: the conv's (m), or
  // with a 2x2 pooling tail the pooled plane's (m / 2).
  int outTile = 2, outHeight = 0, outWidth = 0;
  int tilesX = 0, tileRows = 0; // TX, R
  int groups = 1;               // output channel groups per chunk
  bool groupsOuter = false;     // tasks numbered group-major (balanceOneImage)
  int tilesY = 0;               // TY
  bool batch = false;           // the batch form
  RDom interior;                // padded: the columns copied in
  int images = 1;               // images per chunk (imagesPerChunk)
  int block = 8;                // the filter's block of output channels
  // Tile rows numbered across the images (g = tile row + TY * image): the
  // batch form, and chunks of several whole images.
  bool rowsAcrossImages() const { return batch || images > 1; }
};

// Planes of fewer than 32 tiles (7x7) over a batch of 32 or more tiles:
// one task per image would hold half-empty register tiles and stream every
// transformed weight (512 -> 512: 9.4 MB x 16 points / 9) per image. The
// rows per chunk R: TX * R = 32 tiles (2 vectors: 16 accumulators), or
// 16, with R dividing the batch's rows. (From 64 tiles, F(4x4)'s 4 tiles
// of a 7x7 plane at batch 8 ran per image with 4 of 16 lanes busy: 22.5
// ms for 512 -> 512, against 10.5 at batch 16.) On 8-lane targets from 16
// tiles over the batch: one image's 7x7 plane (kiln-winograd's
// small-plane-tiles) in one chunk. Per image, 4 groups of output channels
// (chooseSplit's 4 tasks) each transformed the whole input again; in the
// batch form V is computed once (parallel over the input channels) and
// the products run per (point, group). ResNet-18's 512 -> 512 on 7x7 at
// batch 1 (AVX2, alternating `kiln bench --profile`): 1.19-1.27 -> 0.99
// ms alone, its three layers 4.25-4.31 -> 3.71-3.73 ms in the network.
int batchFormRows(int tilesX, int tilesY, int images, int vec) {
  int least = vec == 8 ? 16 : 32;
  if (tilesX * tilesY >= 32 || tilesX * tilesY * images < least) {
    return 0;
  }
  for (int tiles : {32, 16}) {
    int r = tiles / tilesX;
    if (tiles % tilesX == 0 && (tilesY * images) % r == 0) {
      return r;
    }
  }
  return 0;
}

// The task split: chunks of R tile rows (R divides TY) and groups of the
// output channels (a power of 2), with 4 or more tasks over the images, and
// a task's transformed input and products, P x (C + O / groups) x TX x R
// floats, within about 1.5 MB of L2. Each group transforms the chunk's
// input again, so: the fewest groups, then the most rows; within a group
// count, chunks of 32 tiles or more (2 vectors of tiles per register tile),
// else of 16 or more where a batch's tasks split evenly over 2 threads (an
// even count, or 16 and up). The second rule keeps F(4x4) on 56x56 planes
// of 64 channels in one group of 28-tile chunks (0.5 MB) instead of 2
// groups of 98 tiles (1.35 MB): ResNet-18's four 64 -> 64 layers at batch
// 8, alternating runs, 20.1 -> 17.9 ms when the host is quiet and 40.7 ->
// 24.2 in its slow phases (when, it seems, another guest shares the
// cores' caches: the smaller task footprint loses less). At batch 1 too,
// though its 7 tasks split 4 + 3: 2 groups of 2 chunks (4 tasks, each
// group transforming the input again, 1.35 MB each) took 0.45-0.50 ms
// alone against 0.35-0.44, and 0.77-1.11 against 0.77-0.87 ms for two
// layers in ResNet-18 (alternating `kiln bench --profile` runs).
void chooseSplit(WinogradFuncs &f, int tilesY, int inChannels,
                 int outChannels, int images) {
  auto fits = [&](int minTiles, int groups, bool evenTasks) {
    for (int r = tilesY; r >= 1; --r) {
      int tasks = (tilesY / r) * images * groups;
      int64_t bytes = int64_t(f.points) * f.tilesX * r *
                      (inChannels + outChannels / groups) * 4;
      if (tilesY % r == 0 && tasks >= 4 &&
          (!evenTasks || images == 1 || tasks % 2 == 0 || tasks >= 16) &&
          f.tilesX * r >= std::min(minTiles, f.tilesX * tilesY) &&
          bytes <= (int64_t(3) << 19)) {
        f.tileRows = r;
        f.groups = groups;
        return true;
      }
    }
    return false;
  };
  for (int groups = 1; outChannels % (f.block * groups) == 0; groups *= 2) {
    if (fits(32, groups, false) || fits(16, groups, true)) {
      return;
    }
  }
  for (int groups = 1; outChannels % (f.block * groups) == 0; groups *= 2) {
    if (fits(1, groups, false)) {
      return;
    }
  }
  f.tileRows = 1;
  f.groups = 1;
}

// One image whose tasks would split unevenly over 2 threads, an odd count
// under 16 (F(4x4) on 28x28: 7 tile rows, 4 + 3; on 56x56: 7 chunks of 2
// rows): each thread takes half the output channels (twice the groups,
// numbered group-major, so that a thread's share of the tasks is its
// groups' rows) over the whole plane, and each transforms the input (V)
// itself. Found with `kiln bench --trace` (a thread idle for 14% of those
// layers); alternating `kiln bench --profile` runs, Zen 4: ResNet-18's 128
// -> 128 layers at batch 1 1.449-1.470 -> 1.344-1.351 ms (two calls) and
// 0.703-0.728 -> 0.671-0.673 (one), ResNet-50's three 128 -> 128 2.200 ->
// 2.021 ms; the 64 -> 64 on 56x56 even (1.647-1.669 -> 1.643 ms for
// ResNet-50's three), where V is a larger share of the work.
void balanceOneImage(WinogradFuncs &f, int outChannels) {
  int tasks = f.tilesY / f.tileRows * f.groups;
  if (tasks >= 16 || tasks % 2 == 0) {
    return;
  }
  if (outChannels % (f.block * f.groups * 2) != 0) {
    return;
  }
  f.groups *= 2;
  f.groupsOuter = true;
}

// Chunks of several whole images, for planes whose tile count wastes lanes
// in blocks of 2 vectors of tiles (the LeNet-style CNN's 14x14 layers at
// F(2x2): 49 tiles in 64 lanes, 1.31x the products' work): k images per
// chunk, k dividing the batch, the chunk's V and M (P x k x tiles x (C +
// O / groups) floats) within about 1.5 MB of L2 and 4 or more tasks, the k
// that computes the fewest lanes per tile (k = 4: 196 tiles in 224, 1.14x);
// where no k leaves 4 tasks, 2 (one per thread): the example CNN's 16 -> 32
// on 14x14 at batch 8 took 8 tasks of one image (49 tiles in 64 lanes) in
// 0.088 ms, 2 chunks of 4 images in 0.051-0.062 (Zen 4, `kiln bench
// --profile`, session 56). 1 where a plane is a whole number of blocks
// already, or has fewer than 32 tiles (the batch form's).
int imagesPerChunk(const WinogradFuncs &f, int inChannels, int outChannels,
                   int images, int vec) {
  int block = 2 * vec;
  int tiles = f.tilesX * f.tilesY;
  auto lanesPerTile = [&](int k) {
    return double((k * tiles + block - 1) / block * block) / (k * tiles);
  };
  int best = 1;
  for (int minTasks : {4, 2}) {
    if (best > 1) {
      break;
    }
    for (int k = 2; k <= images; ++k) {
      int64_t bytes = int64_t(f.points) * k * tiles *
                      (inChannels + outChannels / f.groups) * 4;
      if (images % k == 0 && bytes <= (int64_t(3) << 19) &&
          (images / k) * f.groups >= minTasks &&
          lanesPerTile(k) < lanesPerTile(best) - 0.01) {
        best = k;
      }
    }
  }
  return tiles < 32 || f.tileRows != f.tilesY ? 1 : best;
}

WinogradFuncs defineWinograd(const KernelSpec &s,
                             const std::vector<ImageParam> &inputs,
                             const Epilogue &epilogue, int vec,
                             const KernelSpec *tail) {
  WinogradFuncs f;
  const auto &xs = s.inputs[0].shape;
  const auto &os = s.outputs[0].shape;
  const Matrices &mat = matrices(tileAttr(s));
  f.tile = mat.m;
  f.points = (f.tile + 2) * (f.tile + 2);
  f.block = static_cast<int>(s.inputs[1].shape[3]);
  Window w = winogradWindow(s);
  ImageParam in = inputs[0], filter = inputs[1];
  int channels = static_cast<int>(xs[1]);
  // Planes that are not a multiple of the tile get a last row and column
  // of partial tiles (the input beyond the image reads as zeros).
  f.tilesX = static_cast<int>((os[3] + f.tile - 1) / f.tile);
  f.tilesY = static_cast<int>((os[2] + f.tile - 1) / f.tile);
  int rows = batchFormRows(f.tilesX, f.tilesY, static_cast<int>(os[0]), vec);
  if (rows > 0) {
    f.tileRows = rows;
    f.batch = true;
  } else {
    chooseSplit(f, f.tilesY, channels, static_cast<int>(os[1]),
                static_cast<int>(os[0]));
    // Whole planes per chunk only: the output transform's rows of a task
    // then name one chunk (the tile row sequence has no partial images).
    f.images = imagesPerChunk(f, channels, static_cast<int>(os[1]),
                              static_cast<int>(os[0]), vec);
    f.tileRows *= f.images;
    if (os[0] == 1) {
      balanceOneImage(f, static_cast<int>(os[1]));
    }
  }
  // Zeros outside the image even without padding: partial tiles (a plane
  // that is not a multiple of the tile) read past it.
  // Zeros, then the image's columns of every row that a consumer reads
  // (rows outside the image stay zero): the row copies are dense vectors,
  // where a boundary condition's clamped reads vectorized as gathers.
  Var px("px"), py("py"), pc("pc"), pn("pn");
  int height = static_cast<int>(xs[2]);
  f.padded(px, py, pc, pn) = 0.0f;
  f.interior = RDom(0, static_cast<int>(xs[3]), "interior");
  f.padded(f.interior.x, py, pc, pn) =
      select(py >= 0 && py < height,
             in(f.interior.x, clamp(py, 0, height - 1), pc, pn), 0.0f);
  int padL = static_cast<int>(w.padLeft), padT = static_cast<int>(w.padTop);

  // V(tx, tyLocal, c, xi, chunk, n) = (B^T d B)[xi] for the input tile d of
  // tile (tx, chunk * R + tyLocal): a pure Func whose points are computed
  // together (unrolled, sharing the loads of d). The products read it as
  // V(t % TX, t / TX, ...), which flattens back to the dense index t.
  // In the batch form, nb is 0 and the row sequence names the image too.
  Expr g = f.chunk * f.tileRows + f.ty;
  Expr ty = f.rowsAcrossImages() ? g % f.tilesY : g;
  Expr image = f.rowsAcrossImages() ? g / f.tilesY : Expr(f.nb);
  int alpha = f.tile + 2;
  f.vRows(f.tx, f.ty, f.c, f.k, f.chunk, f.nb) =
      pointSelect(transformAlongX(mat.bt,
                                  [&](int kx, int ky) {
                                    return Expr(f.padded(
                                        f.tile * f.tx + kx - padL,
                                        f.tile * ty + ky - padT, f.c, image));
                                  }),
                  f.k);
  f.v(f.tx, f.ty, f.c, f.xi, f.chunk, f.nb) = pointSelect(
      transformAlongY(mat.bt,
                      [&](int a, int j) {
                        return Expr(f.vRows(f.tx, f.ty, f.c, j * alpha + a,
                                            f.chunk, f.nb));
                      }),
      f.xi);

  f.r = RDom(0, channels, "r");
  Expr vr = f.v(f.t % f.tilesX, f.t / f.tilesX, f.r, f.xi, f.chunk, f.nb);
  if (f.block == 16) {
    // Per filter block (ob) and channel in it (o): a register tile's
    // channels index the filter linearly (a tile of 6 channels, the second
    // of a block, read its filter at (o + 6) % 16 and (o + 6) / 16, and
    // LLVM vectorized those indices, spilling the sums).
    f.acc(f.t, f.o, f.ob, f.xi, f.chunk, f.nb) = 0.0f;
    f.acc(f.t, f.o, f.ob, f.xi, f.chunk, f.nb) +=
        filter(f.o, f.r, f.ob, f.xi) * vr;
    f.m(f.t, f.o, f.xi, f.chunk, f.nb) =
        f.acc(f.t, f.o % 16, f.o / 16, f.xi, f.chunk, f.nb);
  } else {
    f.acc(f.t, f.o, f.xi, f.chunk, f.nb) = 0.0f;
    f.acc(f.t, f.o, f.xi, f.chunk, f.nb) +=
        filter(f.o % 8, f.r, f.o / 8, f.xi) * vr;
    f.m(f.t, f.o, f.xi, f.chunk, f.nb) = f.acc(f.t, f.o, f.xi, f.chunk, f.nb);
  }

  // out = (A^T M A)[y % m][x % m] of tile (x / m, y / m), plus the bias.
  Expr tileY = f.y / f.tile;
  Expr row = f.rowsAcrossImages() ? tileY + f.tilesY * f.n : tileY;
  Expr block = f.rowsAcrossImages() ? Expr(0) : Expr(f.n);
  // mRows(tx, row, o, k, nb): indexed by the tile's column and row (the row
  // sequence across images where rowsAcrossImages), so that its bounds
  // over a row of the output are that row's tiles.
  f.mRows(f.tx, f.ty, f.o, f.k, f.nb) = pointSelect(
      transformAlongX(mat.at,
                      [&](int a, int b) {
                        return Expr(f.m(f.tx + f.tilesX * (f.ty % f.tileRows),
                                        f.o, alpha * b + a, f.ty / f.tileRows,
                                        f.nb));
                      }),
      f.k);
  std::vector<Expr> outputs = transformAlongY(mat.at, [&](int a, int j) {
    return Expr(f.mRows(f.x / f.tile, row, f.o, j * f.tile + a, block));
  });
  Expr value =
      pointSelect(outputs, (f.y % f.tile) * f.tile + f.x % f.tile);
  if (inputs.size() == 3) {
    value = value + inputs[2](f.o);
  }
  if (epilogue) {
    value = epilogue(value, {f.x, f.y, f.o, f.n});
  }
  if (tail) {
    // Each 2x2 window lies in one output tile: the pooled tile (m / 2
    // square) is scheduled as the conv's tile would be, its conv values
    // inlined (the tile's offsets fold where xl and yl are unrolled).
    Func conv("wino_conv");
    conv(f.x, f.y, f.o, f.n) = value;
    f.out = definePoolTail(*tail, conv, {f.x, f.y, f.o, f.n});
    f.outTile = f.tile / 2;
    f.outHeight = static_cast<int>(tail->outputs[0].shape[2]);
    f.outWidth = static_cast<int>(tail->outputs[0].shape[3]);
    return f;
  }
  f.out(f.x, f.y, f.o, f.n) = value;
  constrainOutput(f.out, s.outputs[0]);
  f.outTile = f.tile;
  f.outHeight = static_cast<int>(os[2]);
  f.outWidth = static_cast<int>(os[3]);
  return f;
}

// Target: x86-64 AVX-512 (16 lanes), 2 cores. Parallel tasks: (chunk of R
// tile rows, group of output channels, image). Per task the chunk's
// zero-padded input is copied once and transformed once (V, vectorized
// along the tile row, its points unrolled); then per (point, block of 2
// vectors of tiles) the block's V (C x 32 floats) stays in L1 while every
// 8-channel block of the group runs over it, in register tiles of 2 vectors
// of tiles x 8 channels (16 zmm, each V vector feeding 8 FMAs with
// broadcast U; with one vector of tiles, 16 channels), the input-channel
// reduction inside; then the output
// transform writes the task's rows through the epilogue, a tile's rows and
// columns unrolled (so that x % m and y % m fold).
void scheduleWinogradBatch(WinogradFuncs &f, const KernelSpec &s,
                           const Target &target);

// The zero-padded copy of the input (a task's channels), vectorized along
// its rows, those narrower than a vector too: left scalar, LLVM vectorized
// the copy of a 14x14 plane across channels with gathers and scatters
// (LeNet-style CNN, batch 64: 64 -> 32 and 32 -> 64 channels on 14x14 ran
// 1.94 and 1.72 ms, then 1.68 and 1.59; alternating runs). The batch
// form's copy (one channel of every image) kept its schedule: vectorized
// the same way, ResNet-18's 7x7 and 14x14 layers at batch 8 ran no faster.
// Chunks of several images copy their rows in dense vectors: with a
// boundary condition's clamped reads (gathers), the LeNet-style CNN's 64
// -> 32 and 32 -> 64 on 14x14 at batch 64 ran 2.64 and 2.50 ms on 1 thread
// against 2.37 and 2.29. Chunks of tile rows took the same form (one form
// for all): on AVX2, 8 x 64 -> 64 on 56x56 ran 5.85-5.91 ms either way
// (3 alternating `kiln bench` pairs).
void vectorizePadded(WinogradFuncs &f, const KernelSpec &s, int vec) {
  int width = vectorWidthFor(static_cast<int>(s.inputs[0].shape[3]), vec);
  f.padded.vectorize(f.padded.args()[0], vec, TailStrategy::GuardWithIf);
  if (width > 1) {
    f.padded.update().vectorize(f.interior.x, width, TailStrategy::GuardWithIf);
  }
}

// The input and output transforms in two halves (vRows, mRows) through
// L1, per vector of `width` tiles and per output tile row (`outRow`): all
// 36 input values and 36 points of a vector of tiles in one unrolled body
// spilled on AVX2. Vectors of 2 tiles (F(4x4) on 7x7 planes) keep one
// body. Alternating `kiln bench --runs 30`, AVX2: 16 x 256 -> 256 on 14x14
// 15.7-15.9 -> 14.5-14.7 ms, 16 x 512 -> 512 on 7x7 13.1 either way; 8 x
// 64 -> 64 on 56x56 6.4 -> 6.1.
void scheduleTransformHalves(WinogradFuncs &f, int width, Var outRow) {
  if (width < 4) {
    return;
  }
  f.vRows.compute_at(f.v, f.tx).reorder(f.k, f.tx).unroll(f.k).vectorize(
      f.tx, width, TailStrategy::RoundUp);
  f.mRows.compute_at(f.out, outRow)
      .reorder(f.k, f.tx)
      .unroll(f.k)
      .vectorize(f.tx, width, TailStrategy::ShiftInwards);
}

// 8-lane targets with the filter in blocks of 16 (kiln-winograd's
// filter-block): sub-tiles of 2 vectors of tiles x 6 channels, 12 sums,
// where 2 x 4 held 8 and Zen 2's FMA (5 cycles' latency, 2 a cycle) needs
// 10 in flight (docs/codegen.md). ResNet-18's 128 -> 128 on 28x28 at batch
// 1: 0.96 -> 0.86 ms; 256 on 14x14 at batch 8 5.7-6.0 -> 5.2-5.5 ms.
bool latencyTiles(const WinogradFuncs &f, int tileVectors, int channels,
                  const Target &target) {
  return f.block == 16 && channels == 16 && tileVectors % 2 == 0 &&
         target.natural_vector_size<float>() == 8;
}

// The product's register tile: acc(t, o) over `tileVectors` vectors of
// tw tiles x `channels` channels, the reduction over the input channels
// inside. A tile that does not fit the registers (AVX2: 2 vectors x 8
// channels, or 4 x 8 in the batch form) is cut into the sub-tile of least
// registerTileCost, a vectors x b channels dividing the tile's (AVX2: 2 x
// 4), each sub-tile running the whole reduction. ResNet-18's 64 -> 64 on
// 56x56 at batch 8 (AVX2, alternating `kiln bench`): 24.0 -> 14.9 ms.
// With latencyTiles, sub-tiles of 2 vectors x 6, 6 and 4 channels.
void scheduleWinogradProduct(WinogradFuncs &f, int tw, int tileVectors,
                             int channels, const Target &target) {
  Var tv("tv"), tl("tl");
  Stage update = f.acc.update();
  f.acc.split(f.t, tv, tl, tw);
  update.split(f.t, tv, tl, tw);
  std::vector<VarOrRVar> order = {tl, tv, f.o};
  std::vector<VarOrRVar> outer;
  if (latencyTiles(f, tileVectors, channels, target)) {
    // 2 vectors x 6 channels: 6, 6 and 4 of the block of 16.
    Var ta("tv_tiles"), ca("o_tiles");
    if (tileVectors > 2) {
      update.split(tv, ta, tv, 2);
      outer.push_back(ta);
    }
    update.split(f.o, ca, f.o, 6, TailStrategy::GuardWithIf);
    outer.push_back(ca);
  } else {
    outer = splitSubTiles(update, &tv, f.o, tileVectors, channels, target);
  }
  // Where a sub-tile's pass over the input channels reads more than half
  // of L1 (V's 2 vectors of tiles and U's 16 channels, 128 bytes per input
  // channel: more than 128 channels), the reduction runs in runs of 16 input
  // channels, every sub-tile's sums waiting in the tile's buffer between runs:
  // a run's V and U (16 lines of each) stay in L1 for all the sub-tiles, where
  // whole passes reread them from L2, and the filter streams in while the later
  // sub-tiles compute. Alternating `kiln bench --profile` in the networks
  // (AVX2): ResNet-18 at batch 8, 512 -> 512 on 7x7 12.0
  // -> 10.2 ms for two layers, 256 -> 256 on 14x14 11.5 -> 10.7, the
  // network 109-111 -> 106-108 ms; at batch 1 the 512 layers 2.44-2.47 ->
  // 2.02 ms, the network 18.2-18.7 -> 17.4-17.7 (runs of 8: 18.6-18.7).
  // 64 channels at batch 8 (8 KB a pass): 10.7 -> 11.0 ms.
  int bytesPerChannel = (std::min(tileVectors, 2) * tw + channels) * 4;
  int inChannels = *as_const_int(f.r.x.extent());
  if (!outer.empty() && inChannels * bytesPerChannel > (16 << 10)) {
    RVar ro("r_runs"), ri("r_run");
    update.split(f.r.x, ro, ri, 16, TailStrategy::GuardWithIf);
    order.push_back(ri);
    order.insert(order.end(), outer.begin(), outer.end());
    order.push_back(ro);
  } else {
    order.push_back(f.r);
    order.insert(order.end(), outer.begin(), outer.end());
  }
  order.push_back(f.xi);
  for (Stage stage : {Stage(f.acc), update}) {
    stage.unroll(tv).unroll(f.o);
    if (tw > 1) {
      stage.vectorize(tl);
    }
  }
  update.reorder(order);
}

void scheduleWinograd(WinogradFuncs &f, const KernelSpec &s,
                      const Target &target) {
  if (f.batch) {
    scheduleWinogradBatch(f, s, target);
    return;
  }
  int vec = target.natural_vector_size<float>();
  const auto &os = s.outputs[0].shape;
  int channels = static_cast<int>(os[1]);
  int ob = std::min(channels, 8);
  int groupSize = channels / f.groups;
  Var yo("yo"), yi("yi"), yp("yp"), yl("yl"), og("og"), oin("oin"),
      oo("oo"), oi("oi"), xo("xo"), xl("xl"), task("task");
  // Partial tiles: the stores past the plane are guarded.
  auto tail = [&](int extent, int factor) {
    return extent % factor ? TailStrategy::GuardWithIf : TailStrategy::Auto;
  };
  int height = f.outHeight, width = f.outWidth, m = f.outTile;
  if (f.images > 1) {
    // A task: all rows of f.images images (its chunk), image by image.
    Var ni("ni");
    f.out.split(f.n, yo, ni, f.images)
        .split(f.y, yp, yl, m, tail(height, m))
        .split(f.o, og, oin, groupSize)
        .split(oin, oo, oi, ob, TailStrategy::ShiftInwards)
        .split(f.x, xo, xl, m, tail(width, m))
        .unroll(xl)
        .unroll(yl)
        .reorder(xl, xo, yl, yp, ni, oi, oo, og, yo)
        .fuse(og, yo, task)
        .parallel(task);
  } else {
    f.out.split(f.y, yo, yi, m * f.tileRows, tail(height, m * f.tileRows))
        .split(yi, yp, yl, m)
        .split(f.o, og, oin, groupSize)
        .split(oin, oo, oi, ob, TailStrategy::ShiftInwards)
        .split(f.x, xo, xl, m, tail(width, m))
        .unroll(xl)
        .unroll(yl);
    if (f.groupsOuter) {
      f.out.reorder(xl, xo, yl, yp, oi, oo, yo, og, f.n).fuse(yo, og, task);
    } else {
      f.out.reorder(xl, xo, yl, yp, oi, oo, og, yo, f.n).fuse(og, yo, task);
    }
    f.out.fuse(task, f.n, task).parallel(task);
  }
  int xw = vectorWidthFor(f.tilesX, vec);
  bool narrowRows = f.images > 1 && f.tilesX > 4 && f.tilesX < 8;
  if (narrowRows) {
    // 5-7 tiles per row (the 14x14 planes of chunks of several images):
    // the output transform in one 8-lane vector of tiles, its last lanes
    // guarded, not two overlapping 4-lane ones (as V below). The
    // LeNet-style CNN's training step at batch 64, alternating `kiln
    // bench`: 5.40-5.43 -> 5.30-5.32 ms; its 32 -> 64 layer alone 0.94 ->
    // 0.88-0.92 ms.
    f.out.vectorize(xo, 8, TailStrategy::GuardWithIf);
  } else if (xw > 1) {
    f.out.vectorize(xo, xw, TailStrategy::ShiftInwards);
  }
  f.padded.compute_at(f.out, task);
  vectorizePadded(f, s, vec);
  f.v.compute_at(f.out, task).reorder(f.xi, f.tx, f.ty, f.c).unroll(f.xi);
  if (narrowRows) {
    // Likewise: one 8-lane vector, its last lanes guarded.
    f.v.vectorize(f.tx, 8, TailStrategy::GuardWithIf);
  } else if (xw > 1) {
    f.v.vectorize(f.tx, xw, TailStrategy::ShiftInwards);
    scheduleTransformHalves(f, xw, yp);
  }
  int tiles = f.tilesX * f.tileRows;
  int tw = vectorWidthFor(tiles, vec);
  int tileVectors = tiles >= 2 * tw ? 2 : 1;
  Var to("to"), tl("tl"), mo("mo"), mi("mi");
  // One vector of tiles (a 7x7 plane: 16 tiles): 16 channels per register
  // tile, so that each V vector feeds 16 FMAs, not 8. ResNet-18's 512 ->
  // 512 at batch 1: 3.58-4.58 -> 3.06-3.26 ms for three convolutions
  // (alternating runs; 24 channels: 3.55-3.61).
  int mob =
      f.block == 16 || (tileVectors == 1 && groupSize % 16 == 0) ? 16 : ob;
  f.m.compute_at(f.out, task)
      .split(f.t, to, tl, tileVectors * tw, TailStrategy::ShiftInwards)
      .split(f.o, mo, mi, mob, TailStrategy::RoundUp)
      .reorder(tl, mi, mo, to, f.xi);
  f.acc.compute_at(f.m, mo);
  if (tw > 1) {
    f.m.vectorize(tl, tw);
  }
  scheduleWinogradProduct(f, tw, tileVectors, mob, target);
}

// The batch form: three stages through memory, each parallel. V for every
// tile of the batch (parallel over input channels); then per (point, group
// of output channels) task the product M = V U over all tiles, so that
// each transformed weight is read once per call, in register tiles of one
// chunk (2 vectors of tiles) x 8 channels with the channel reduction
// inside, reading the chunk's V and the block's U (the filter holds U in
// blocks of 8 output channels) as contiguous runs (32 x C and 8 x C
// floats: 64 and 16 KB at 512 channels); then the output transform per
// (channel block, image) through the epilogue.
void scheduleWinogradBatch(WinogradFuncs &f, const KernelSpec &s,
                           const Target &target) {
  int vec = target.natural_vector_size<float>();
  const auto &os = s.outputs[0].shape;
  int channels = static_cast<int>(os[1]);
  int ob = std::min(channels, 8);
  Var oo("oo"), oi("oi"), xo("xo"), xl("xl"), yo("yo"), yl("yl"),
      task("task");
  auto tail = [&](int extent, int factor) {
    return extent % factor ? TailStrategy::GuardWithIf : TailStrategy::Auto;
  };
  int height = f.outHeight, width = f.outWidth, m = f.outTile;
  f.out.split(f.o, oo, oi, ob, TailStrategy::ShiftInwards)
      .split(f.y, yo, yl, m, tail(height, m))
      .split(f.x, xo, xl, m, tail(width, m))
      .unroll(xl)
      .unroll(yl)
      .reorder(xl, xo, yl, yo, oi, oo, f.n)
      .fuse(oo, f.n, task)
      .parallel(task);
  int xw = vectorWidthFor(f.tilesX, vec);
  if (xw > 1) {
    f.out.vectorize(xo, xw, TailStrategy::ShiftInwards);
  }
  f.padded.compute_at(f.v, f.c);
  f.v.compute_root()
      .reorder(f.xi, f.tx, f.ty, f.chunk, f.c)
      .unroll(f.xi)
      .parallel(f.c);
  if (xw > 1) {
    f.v.vectorize(f.tx, xw, TailStrategy::ShiftInwards);
    scheduleTransformHalves(f, xw, yo);
  }
  int tiles = f.tilesX * f.tileRows; // per chunk: a multiple of 16
  int tw = vectorWidthFor(tiles, vec);
  // Groups of output channel blocks: with the points, 32 or more tasks.
  // With the filter's blocks of 16, register tiles of 16 channels.
  int pb = f.block == 16 ? 16 : ob;
  int blocks = (channels + pb - 1) / pb;
  int groups = std::min(blocks, std::max(1, 32 / f.points));
  int perGroup = (blocks + groups - 1) / groups;
  Var mo("mo"), mi("mi"), mg("mg");
  f.m.compute_root()
      .split(f.o, mo, mi, pb, TailStrategy::RoundUp)
      .split(mo, mg, mo, perGroup, TailStrategy::ShiftInwards)
      .reorder(f.t, mi, f.chunk, mo, mg, f.xi)
      .fuse(mg, f.xi, task)
      .parallel(task);
  f.acc.compute_at(f.m, f.chunk);
  if (tw > 1) {
    f.m.vectorize(f.t, tw);
  }
  scheduleWinogradProduct(f, tw, tiles / tw, pb, target);
}

Kernel buildConv2dWinograd(const KernelSpec &s, const Target &target) {
  std::vector<ImageParam> in = layerInputs(s, {"x", "filter", "bias"});
  return {std::vector<Argument>(in.begin(), in.end()),
          buildConv2dWinogradWithEpilogue(s, in, Epilogue(), target, nullptr)};
}

//===----------------------------------------------------------------------===//
// conv2d_grad_weight with a tile (kiln-winograd)
//===----------------------------------------------------------------------===//

// The transpose of a matrix given row-major.
std::vector<std::vector<double>>
transposed(const std::vector<std::vector<double>> &a) {
  std::vector<std::vector<double>> t(a[0].size(),
                                     std::vector<double>(a.size()));
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = 0; j < a[i].size(); ++j) {
      t[j][i] = a[i][j];
    }
  }
  return t;
}

// The weight gradient through the forward transform: a tile's output is
// y = A^T Y A with Y = sum_c U(o, c) . V(c) and U = G g G^T, so dy's m x m
// tile gives dY = A dy A^T, dU(o, c) = sum over the batch's tiles of
// dY(o) . V(c), and dw = G^T dU G. Over the T tiles of the batch these are
// P = (m + 2)^2 matrix products C x O with the tiles as the reduction:
// (m + 2)^2 multiplies per tile and channel pair against 9 m^2 directly.
// Tiles past the plane (partial tiles) meet dy = 0 there; the input past
// the image reads as zeros (its padding).

// The loop orders of the products (chooseGradWeightForm).
enum class GradWeightForm { Blocks, Points, Slices };

struct WinogradGradWeightFuncs {
  Var t{"t"}, c{"c"}, o{"o"}, xi{"xi"}, kx{"kx"}, ky{"ky"}, cv{"cv"},
      k{"k"}, slice{"slice"};
  RDom r; // the batch's tiles, or a chunk's
  RDom chunks; // Slices: the chunks of a slice
  // x zero-padded with the channel innermost; V(cl, t, xi, cv) and
  // dY(t, o, xi); the products (Slices: per chunk, summed per slice); dU;
  // G^T dU G.
  Func xc{"x_c"}, v{"wino_v"}, d{"wino_dy"}, part{"wino_part"},
      sliceSum{"wino_slice"}, du{"wino_du"}, out{"dw"};
  GradWeightForm form = GradWeightForm::Points;
  int tile = 2, tilesX = 0, tilesY = 0, tiles = 0;
  int cTile = 1, oTile = 1; // register tile: channel vectors x outputs
  int chunkTiles = 0, slices = 1; // Slices
};

// Target: x86-64 AVX-512 (16 lanes), 2 cores, 2 MB of L2 per core. The
// register tile: up to 4 channel vectors x 6 output channels (24 zmm; 4
// loads and 6 broadcasts per 24 FMAs). The loop order:
// - Blocks, where one register tile column of V for all points (P x T x 64
//   floats) fits in 1 MB (ResNet's 7x7 layers: few tiles, many channels):
//   tasks over (channel block, output block) run every point with the whole
//   tile reduction inside and transform their dU block to dw while it is in
//   cache (the P x C x O dU through memory costs more than the products).
// - Slices, where there are many tiles but dU (P x C x O) fits in 1 MB
//   (64 channels on 56x56): V and dY never go through memory. Each of 2
//   slices (a thread each) runs its chunks of R tile rows in turn, builds
//   the chunk's V and dY (within 512 KB) and adds the chunk's products to
//   its own dU; then the two are summed. Against V and dY for the whole
//   batch (root, 29 MB each at batch 16): 10.7 -> 6.3 ms.
// - Points otherwise: V and dY root, then per point (parallel) every
//   register tile over that point's V and dY in L2, dU root.
void chooseGradWeightForm(WinogradGradWeightFuncs &f, const KernelSpec &s,
                          const Target &target) {
  int vec = target.natural_vector_size<float>();
  const auto &dwShape = s.outputs[0].shape;
  int outChannels = static_cast<int>(dwShape[0]);
  int channels = static_cast<int>(dwShape[1]);
  int points = (f.tile + 2) * (f.tile + 2);
  f.cTile = std::max(1, std::min(4, channels / vec));
  f.oTile = std::min(outChannels, 24 / f.cTile);
  if (vec < 16) {
    // AVX2's 16 registers: 2 x 6 (12 sums, the V vectors held and the dY
    // broadcasts one at a time: streamed), not 4 x 6; 4 x 2 held 8, fewer
    // than Zen 2's FMA needs in flight. ResNet-18's training step at batch
    // 16 (alternating `kiln bench --train --profile`): 256 x 256 34.9 ->
    // 30.0 ms, 512 x 512 31.4 -> 27.4, 128 x 128 28.5 -> 26.0; the step
    // 691-700 -> 672-688 ms.
    std::tie(f.cTile, f.oTile) =
        registerSubTile(f.cTile, f.oTile, target, /*streamed=*/true);
  }
  int64_t column = int64_t(points) * f.tiles * vec * f.cTile * 4;
  if (column <= (int64_t(1) << 20)) {
    f.form = GradWeightForm::Blocks;
    return;
  }
  f.form = GradWeightForm::Points;
  if (int64_t(points) * channels * outChannels * 4 > (int64_t(1) << 20) ||
      channels % (vec * f.cTile) != 0) {
    return;
  }
  int rows = f.tiles / f.tilesX; // tile rows of the batch
  for (int r = rows / 2; r >= 1; --r) {
    int64_t bytes =
        int64_t(points) * r * f.tilesX * ((channels + vec - 1) / vec * vec + outChannels) * 4;
    if (rows % (2 * r) == 0 && bytes <= (int64_t(1) << 19)) {
      f.form = GradWeightForm::Slices;
      f.chunkTiles = r * f.tilesX;
      f.slices = 2;
      // The slice sums are an update: their blocks cannot shift inwards,
      // so the register tile divides the channels.
      while (outChannels % f.oTile != 0) {
        --f.oTile;
      }
      return;
    }
  }
}

WinogradGradWeightFuncs defineWinogradGradWeight(const KernelSpec &s,
                                                 ImageParam x, ImageParam dy,
                                                 const Target &target) {
  WinogradGradWeightFuncs f;
  const Matrices &mat = matrices(tileAttr(s));
  int m = f.tile = mat.m, alpha = m + 2;
  Window w = readWindow(s, 3, 3, true);
  const auto &xs = s.inputs[0].shape, &ds = s.inputs[1].shape;
  int channels = static_cast<int>(xs[1]);
  int xh = static_cast<int>(xs[2]), xw = static_cast<int>(xs[3]);
  f.tilesX = (static_cast<int>(ds[3]) + m - 1) / m;
  f.tilesY = (static_cast<int>(ds[2]) + m - 1) / m;
  int planeTiles = f.tilesX * f.tilesY;
  f.tiles = planeTiles * static_cast<int>(xs[0]);
  chooseGradWeightForm(f, s, target);
  int lanes = target.natural_vector_size<float>();
  Var px("px"), py("py"), pn("pn");
  // Channels past C (a partial register tile) read channel C - 1: they
  // only reach gradient rows that are not stored.
  f.xc(f.c, px, py, pn) =
      select(px >= 0 && px < xw && py >= 0 && py < xh,
             x(clamp(px, 0, xw - 1), clamp(py, 0, xh - 1),
               min(f.c, channels - 1), pn),
             0.0f);
  Func dyz = BoundaryConditions::constant_exterior(dy, 0.0f);
  Expr tx = f.t % f.tilesX, ty = (f.t / f.tilesX) % f.tilesY,
       n = f.t / planeTiles;
  int padL = static_cast<int>(w.padLeft), padT = static_cast<int>(w.padTop);
  // V(cl, t, xi, cv) for channel cv * 16 + cl: each vector of channels a
  // contiguous run over the points and tiles. With the channel innermost
  // across all C (a row of 2 KB at 512 channels), the rows a register tile
  // reads would map to a few cache sets (measured 2.4x slower).
  Expr channel = f.cv * lanes + f.c;
  f.v(f.c, f.t, f.xi, f.cv) = pointSelect(
      transform2d(mat.bt,
                  [&](int i, int j) {
                    return Expr(f.xc(channel, m * tx + i - padL,
                                     m * ty + j - padT, n));
                  }),
      f.xi);
  f.d(f.t, f.o, f.xi) = pointSelect(
      transform2d(transposed(mat.at),
                  [&](int i, int j) {
                    return Expr(dyz(m * tx + i, m * ty + j, f.o, n));
                  }),
      f.xi);
  if (f.form == GradWeightForm::Slices) {
    // part(c, o, xi, k): chunk k's products; sliceSum: a slice's chunks.
    f.r = RDom(0, f.chunkTiles, "r");
    Expr at = f.k * f.chunkTiles + f.r;
    f.part(f.c, f.o, f.xi, f.k) = 0.0f;
    f.part(f.c, f.o, f.xi, f.k) +=
        f.v(f.c % lanes, at, f.xi, f.c / lanes) * f.d(at, f.o, f.xi);
    int perSlice = f.tiles / f.chunkTiles / f.slices;
    f.chunks = RDom(0, perSlice, "chunks");
    f.sliceSum(f.c, f.o, f.xi, f.slice) = 0.0f;
    f.sliceSum(f.c, f.o, f.xi, f.slice) +=
        f.part(f.c, f.o, f.xi, f.slice * perSlice + f.chunks);
    Expr total = f.sliceSum(f.c, f.o, f.xi, 0);
    for (int i = 1; i < f.slices; ++i) {
      total = total + f.sliceSum(f.c, f.o, f.xi, i);
    }
    f.du(f.c, f.o, f.xi) = total;
  } else {
    f.r = RDom(0, f.tiles, "r");
    f.part(f.c, f.o, f.xi) = 0.0f;
    f.part(f.c, f.o, f.xi) += f.v(f.c % lanes, f.r, f.xi, f.c / lanes) *
                              f.d(f.r, f.o, f.xi);
    f.du(f.c, f.o, f.xi) = f.part(f.c, f.o, f.xi);
  }
  // dw(kx, ky) = (G^T dU G)[ky][kx].
  f.out(f.kx, f.ky, f.c, f.o) = pointSelect(
      transform2d(transposed(mat.g),
                  [&](int i, int j) {
                    return Expr(f.du(f.c, f.o, alpha * j + i));
                  }),
      f.ky * 3 + f.kx);
  constrainOutput(f.out, s.outputs[0]);
  return f;
}

// The schedule of the form chooseGradWeightForm picked. x is copied once
// with the channel innermost (root); V is vectorized over channels and dY
// along the tile row, the tile index split back into tile rows and tiles
// (and, for the whole batch, images), the points unrolled over shared
// loads.
void scheduleWinogradGradWeight(WinogradGradWeightFuncs &f,
                                const KernelSpec &s, const Target &target) {
  int vec = target.natural_vector_size<float>();
  int channels = static_cast<int>(s.outputs[0].shape[1]);
  // Whole register tiles (constant extents, so that the accumulators stay
  // in registers): the last block of channels and of outputs shifts inwards
  // (C >= 16 here, as kiln-winograd asks; fewer channels take partial
  // vectors).
  TailStrategy cTail = channels >= vec * f.cTile ? TailStrategy::ShiftInwards
                                                 : TailStrategy::GuardWithIf;
  std::vector<Var> xa = f.xc.args();
  Var plane("plane");
  f.xc.compute_root()
      .vectorize(xa[0], vec, TailStrategy::RoundUp)
      .fuse(xa[2], xa[3], plane)
      .parallel(plane);
  int xw = vectorWidthFor(f.tilesX, vec);
  Var row("row"), image("image"), ty("ty"), tx("tx"), task("task"),
      cb("cb"), ci("ci"), ob("ob"), oi("oi"), cv("cv"), cl("cl");
  bool sliced = f.form == GradWeightForm::Slices;
  if (sliced) {
    // Per chunk: whole tile rows, within the slice's thread.
    f.v.compute_at(f.sliceSum, f.chunks)
        .split(f.t, row, tx, f.tilesX, TailStrategy::RoundUp)
        .reorder(f.xi, f.c, f.cv, tx, row)
        .vectorize(f.c)
        .unroll(f.xi);
    f.d.compute_at(f.sliceSum, f.chunks)
        .split(f.t, row, tx, f.tilesX, TailStrategy::RoundUp)
        .reorder(f.xi, tx, row, f.o)
        .unroll(f.xi);
  } else {
    f.v.compute_root()
        .split(f.t, row, tx, f.tilesX, TailStrategy::RoundUp)
        .split(row, image, ty, f.tilesY, TailStrategy::RoundUp)
        .reorder(f.xi, f.c, f.cv, tx, ty, image)
        .vectorize(f.c)
        .unroll(f.xi)
        .fuse(ty, image, task)
        .parallel(task);
    f.d.compute_root()
        .split(f.t, row, tx, f.tilesX, TailStrategy::RoundUp)
        .split(row, image, ty, f.tilesY, TailStrategy::RoundUp)
        .reorder(f.xi, tx, ty, image, f.o)
        .unroll(f.xi)
        .parallel(f.o);
  }
  if (xw > 1) {
    f.d.vectorize(tx, xw, TailStrategy::ShiftInwards);
  }
  // Each output channel's dY a contiguous run over points and tiles (as
  // V's channel vectors: no run of broadcasts on a few cache sets).
  f.d.reorder_storage(f.t, f.xi, f.o);

  Stage partUpdate = f.part.update();
  f.part.split(f.c, cv, cl, vec, TailStrategy::RoundUp).vectorize(cl).unroll(cv);
  partUpdate.split(f.c, cv, cl, vec, TailStrategy::RoundUp)
      .vectorize(cl)
      .unroll(cv)
      .unroll(f.o)
      .reorder(cl, cv, f.o, f.r);
  auto blocks = [&](Stage stage, bool update) {
    stage.split(f.c, cb, ci, vec * f.cTile,
                update ? TailStrategy::GuardWithIf : cTail)
        .split(f.o, ob, oi, f.oTile,
               update ? TailStrategy::GuardWithIf : TailStrategy::ShiftInwards);
  };
  switch (f.form) {
  case GradWeightForm::Blocks:
    blocks(f.out, false);
    f.out.reorder(f.kx, f.ky, ci, oi, ob, cb)
        .unroll(f.kx)
        .unroll(f.ky)
        .vectorize(ci, vec, TailStrategy::GuardWithIf)
        .fuse(ob, cb, task)
        .parallel(task);
    f.du.compute_at(f.out, task)
        .reorder(f.c, f.o, f.xi)
        .vectorize(f.c, vec, TailStrategy::RoundUp);
    f.part.compute_at(f.du, f.xi);
    return;
  case GradWeightForm::Points:
    f.du.compute_root();
    blocks(f.du, false);
    f.du.reorder(ci, oi, cb, ob, f.xi)
        .vectorize(ci, vec, TailStrategy::GuardWithIf)
        .parallel(f.xi);
    f.part.compute_at(f.du, cb);
    break;
  case GradWeightForm::Slices: {
    f.sliceSum.compute_root().vectorize(f.c, vec, TailStrategy::RoundUp);
    Stage update = f.sliceSum.update();
    blocks(update, true);
    update.reorder(ci, oi, cb, ob, f.xi, f.chunks, f.slice)
        .vectorize(ci, vec, TailStrategy::GuardWithIf)
        .parallel(f.slice);
    f.part.compute_at(f.sliceSum, cb);
    f.du.compute_root().vectorize(f.c, guardedWidth(channels, vec),
                                  TailStrategy::GuardWithIf);
    break;
  }
  }
  f.out.reorder(f.kx, f.ky, f.c, f.o)
      .unroll(f.kx)
      .unroll(f.ky)
      .vectorize(f.c, guardedWidth(channels, std::min(vec, channels)),
                 TailStrategy::GuardWithIf)
      .parallel(f.o);
}

} // namespace

void validateConv2dGradWeightWinograd(const KernelSpec &s) {
  (void)tileAttr(s);
  std::vector<int64_t> k = attrInts(s, "kernel", 2);
  Window w = readWindow(s, k[0], k[1], true);
  if (k[0] != 3 || k[1] != 3 || w.sh != 1 || w.sw != 1 || w.dh != 1 ||
      w.dw != 1 || attrInt(s, "groups") != 1) {
    fail(s, "a tile (Winograd) needs a 3x3 kernel with strides and "
            "dilations 1 and groups 1");
  }
}

Kernel buildConv2dGradWeightWinograd(const KernelSpec &s,
                                     const Target &target) {
  ImageParam x = makeInput(s.inputs[0], "x");
  ImageParam dy = makeInput(s.inputs[1], "dy");
  WinogradGradWeightFuncs f = defineWinogradGradWeight(s, x, dy, target);
  scheduleWinogradGradWeight(f, s, target);
  return {{x, dy}, f.out};
}

void validateWinogradPoolTail(const KernelSpec &s, const KernelSpec &tail) {
  const auto &in = tail.inputs.at(0).shape, &out = tail.outputs.at(0).shape;
  if (tail.op != "max_pool2d" ||
      attrInts(tail, "kernel", 2) != std::vector<int64_t>{2, 2} ||
      attrInts(tail, "strides", 2) != std::vector<int64_t>{2, 2} ||
      tileAttr(s) % 2 != 0 || in.size() != 4 || out.size() != 4 ||
      out[2] * 2 != in[2] || out[3] * 2 != in[3]) {
    fail(s, "a conv2d_winograd ends only in a 2x2 max_pool2d of stride 2 "
            "over an even plane (each window in one output tile; "
            "kiln::ir::isPoolTail)");
  }
}

Func buildConv2dWinogradWithEpilogue(const KernelSpec &s,
                                     const std::vector<ImageParam> &in,
                                     const Epilogue &epilogue,
                                     const Target &target,
                                     const KernelSpec *tail) {
  if (tail) {
    validateWinogradPoolTail(s, *tail);
  }
  WinogradFuncs f = defineWinograd(s, in, epilogue,
                                   target.natural_vector_size<float>(), tail);
  scheduleWinograd(f, s, target);
  return f.out;
}

void registerWinogradOps(OpRegistry &r) {
  r["winograd_filter"] = {validateWinogradFilter, buildWinogradFilter};
  r["conv2d_winograd"] = {validateConv2dWinograd, buildConv2dWinograd};
}

} // namespace kiln::codegen::detail
