//===- Fuse.cpp - kiln-fuse ------------------------------------------------===//
//
// Groups anchor + elementwise epilogue chains and elementwise chains into
// kiln.fused ops; see Passes.td for the patterns and the algorithm.
//
//===----------------------------------------------------------------------===//
#include "FunctionUtils.h"
#include "kiln/ir/KilnDialect.h"
#include "kiln/ir/KilnFusion.h"
#include "kiln/passes/Passes.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

namespace kiln::passes {
#define GEN_PASS_DEF_KILNFUSE
#include "kiln/passes/Passes.h.inc"
} // namespace kiln::passes

using namespace mlir;
using namespace kiln::ir;

namespace {

// The most inputs a fused kernel takes (codegen's fused kernels: 64 Halide
// buffer arguments). A chain stops before it would need more: the
// gradient of 256 slices of one tensor (a batched matmul the importer
// splits) is a chain of 256 adds.
constexpr size_t kMaxFusedInputs = 64;

bool isFusibleElementwise(Operation *op) {
  auto elementwise = llvm::dyn_cast<ElementwiseOpInterface>(op);
  return elementwise && elementwise.isFusible() && op->getNumResults() == 1;
}

// A 4-D weight with static shape [O, C, KH, KW], or null.
RankedTensorType plainWeight(Conv2DOp conv) {
  auto type = llvm::dyn_cast<RankedTensorType>(conv.getWeight().getType());
  return type && type.getRank() == 4 && type.hasStaticShape() ? type : nullptr;
}

// The producer form's first anchor: a 1x1 conv2d at stride 1 without
// padding or groups, its weight unpacked. (kiln-pack-weights packs the 1x1
// layers of planes of 64 positions or fewer, whose channel form beats the
// fused kernel's flattened plane: MobileNetV2's three 960-channel 7x7
// pairs at batch 8, 2.87 ms unfused against 3.53 fused. On planes up to
// 28x28 it packs only those that fuse with no depthwise conv2d.)
bool isPointwiseConv(Operation *op) {
  auto conv = llvm::dyn_cast<Conv2DOp>(op);
  RankedTensorType weight = conv ? plainWeight(conv) : nullptr;
  nlohmann::json attrs;
  if (!weight || weight.getDimSize(2) != 1 || weight.getDimSize(3) != 1 ||
      conv.getGroups() != 1 ||
      llvm::any_of(conv.getStrides(), [](int64_t s) { return s != 1; }) ||
      failed(conv.canonicalizeKernelAttrs(attrs))) {
    return false;
  }
  return llvm::all_of(attrs["pads"].get<std::vector<int64_t>>(),
                      [](int64_t p) { return p == 0; });
}

// The producer form's second anchor: a depthwise conv2d (one output
// channel per input channel, weight [C, 1, KH, KW]).
bool isDepthwiseConv(Operation *op) {
  auto conv = llvm::dyn_cast<Conv2DOp>(op);
  return conv && conv.isDepthwise();
}

// A matmul of rank 2 or 3 with a static shape (attention's scores or
// output).
bool isStaticMatmul(Operation *op) {
  auto matmul = llvm::dyn_cast_or_null<MatmulOp>(op);
  auto type = matmul ? llvm::dyn_cast<RankedTensorType>(matmul.getType())
                     : nullptr;
  return type && type.hasStaticShape() &&
         (type.getRank() == 2 || type.getRank() == 3);
}

struct FusePass : kiln::passes::impl::KilnFuseBase<FusePass> {
  using KilnFuseBase::KilnFuseBase;

  // The attention chain around `op`, a softmax along the last axis:
  // [matmul (the scores), elementwise ops (scale, mask), softmax, matmul
  // reading the probabilities as its untransposed left operand], each value
  // used only by the next op; else empty. The scores and probabilities are
  // never written (docs/fusion.md).
  SmallVector<Operation *> attentionAround(SoftmaxOp op) {
    auto type = llvm::dyn_cast<RankedTensorType>(op.getType());
    if (!attention || !type || !type.hasStaticShape() ||
        (op.getAxis() != -1 && op.getAxis() != type.getRank() - 1) ||
        !op->hasOneUse()) {
      return {};
    }
    auto output = llvm::dyn_cast<MatmulOp>(*op->getUsers().begin());
    if (!output || !isStaticMatmul(output) || output.getA() != op.getResult() ||
        output.getB() == op.getResult() || output.getTransposeA() ||
        output->getBlock() != op->getBlock()) {
      return {};
    }
    SmallVector<Operation *> chain = {op, output};
    Value value = op.getInput();
    while (true) {
      Operation *def = value.getDefiningOp();
      if (!def || !value.hasOneUse() || def->getBlock() != op->getBlock() ||
          def->getResult(0).getType() != type) {
        return {};
      }
      chain.insert(chain.begin(), def);
      if (isStaticMatmul(def)) {
        break;
      }
      if (!isFusibleElementwise(def)) {
        return {};
      }
      // The running value: an operand of the scores' type computed by a
      // matmul or an elementwise op (a mask or a scale is an input).
      auto same = llvm::find_if(def->getOperands(), [&](Value operand) {
        Operation *producer = operand.getDefiningOp();
        return operand.getType() == type && producer &&
               (isStaticMatmul(producer) || isFusibleElementwise(producer));
      });
      if (same == def->operand_end()) {
        return {};
      }
      value = *same;
    }
    if (chainInputs(chain).size() > kMaxFusedInputs) {
      return {};
    }
    return chain;
  }

  // The chain that starts at `op` and avoids the ops already `taken` by an
  // earlier chain, or empty.
  SmallVector<Operation *>
  chainFrom(Operation *op, const llvm::SmallPtrSetImpl<Operation *> &taken) {
    bool anchor = llvm::isa<FusionAnchorOpInterface>(op);
    if (anchor && !isEpilogueAnchor(op)) {
      return {};
    }
    if (!(anchor && epilogue) &&
        !(!anchor && elementwise && isFusibleElementwise(op))) {
      return {};
    }
    SmallVector<Operation *> chain = {op};
    while (true) {
      Value value = chain.back()->getResult(0);
      if (!value.hasOneUse()) {
        break;
      }
      Operation *user = *value.getUsers().begin();
      if (user->getBlock() != op->getBlock() || taken.contains(user) ||
          !isFusibleElementwise(user) ||
          user->getResult(0).getType() != value.getType()) {
        break;
      }
      chain.push_back(user);
      if (chainInputs(chain).size() > kMaxFusedInputs) {
        chain.pop_back();
        break;
      }
    }
    // An anchor alone is a chain when a pool takes it as its tail (a conv
    // before its pool with no activation between, as Caffe's LeNet).
    bool tailed = anchor && pool && op->getNumResults() == 1 &&
                  op->getResult(0).hasOneUse() &&
                  isPoolTail(op, *op->getResult(0).getUsers().begin());
    return chain.size() >= 2 || tailed ? chain : SmallVector<Operation *>{};
  }

  // The chain whose value a prologue consumer `op` reads: [activation_grad,
  // consumer], with a max_pool2d_grad (gather form) before the
  // activation_grad, or alone, when it computes the activation_grad's dy
  // or the consumer's operand; each value used only by the next op. Else
  // empty.
  SmallVector<Operation *>
  prologueFrom(Operation *op, const llvm::SmallPtrSetImpl<Operation *> &taken) {
    auto consumer = llvm::dyn_cast<FusionPrologueOpInterface>(op);
    if (!prologue || !consumer) {
      return {};
    }
    // The op defining `value` when only `user` reads it, in op's block.
    auto soleProducer = [&](Value value) -> Operation * {
      Operation *producer = value.getDefiningOp();
      return producer && value.hasOneUse() &&
                     producer->getBlock() == op->getBlock() &&
                     !taken.contains(producer)
                 ? producer
                 : nullptr;
    };
    SmallVector<Operation *> chain = {op};
    Operation *producer =
        soleProducer(op->getOperand(consumer.getPrologueOperand()));
    if (auto grad = llvm::dyn_cast_or_null<ActivationGradOp>(producer)) {
      chain.insert(chain.begin(), grad);
      producer = soleProducer(grad.getDy());
    }
    if (producer && isPrologueSource(producer)) {
      chain.insert(chain.begin(), producer);
      prependRecompute(chain, taken);
    }
    if (chain.size() < 2) {
      return {};
    }
    appendSinks(chain, taken);
    return chain;
  }

  // With `recompute`: where the chain's gather (chain.front()) reads a =
  // relu(y) for y, mean, var = batch_norm_train(z, gamma, beta), and the
  // consumer (chain.back(), batch_norm_grad) reads z, gamma, mean and var
  // (the same layer's BN), a is recomputed inside the kernel as
  // relu(batch_norm(z, gamma, beta, mean, var)) from the z the consumer
  // reads anyway: new ops before the gather, prepended to the chain, and
  // the gather and activation_grad read their result. Only where dx's
  // planes have 256 positions or more (the channel-major form, where z's
  // channel is read from DRAM once for both).
  void prependRecompute(SmallVectorImpl<Operation *> &chain,
                        const llvm::SmallPtrSetImpl<Operation *> &taken) {
    auto pool = llvm::dyn_cast<MaxPool2DGradOp>(chain.front());
    auto grad = llvm::dyn_cast<BatchNormGradOp>(chain.back());
    if (!recompute || !pool || !grad) {
      return;
    }
    Value a = pool->getOperand(0);
    auto relu = a.getDefiningOp<ReluOp>();
    auto train = relu ? relu->getOperand(0).getDefiningOp<BatchNormTrainOp>()
                      : BatchNormTrainOp();
    auto type = llvm::dyn_cast<RankedTensorType>(a.getType());
    if (!train || relu->getOperand(0) != train->getResult(0) || !type ||
        type.getRank() != 4 || type.getDimSize(2) * type.getDimSize(3) < 256 ||
        grad.getInput() != train.getInput() ||
        grad.getWeight() != train.getWeight() ||
        grad.getMean() != train.getMean() || grad.getVar() != train.getVar()) {
      return;
    }
    // Every reader of a in the chain must be the gather's x or the ReLU
    // gradient's (which reads the ReLU's output).
    for (Operation *op : chain) {
      for (OpOperand &use : op->getOpOperands()) {
        if (use.get() == a && !(op == pool && use.getOperandNumber() == 0) &&
            !(llvm::isa<ActivationGradOp>(op) &&
              llvm::cast<ActivationGradOp>(op).getActivation() == "relu" &&
              use.getOperandNumber() == 0)) {
          return;
        }
      }
    }
    SmallVector<Operation *> candidate(chain.begin(), chain.end());
    candidate.push_back(train); // stands for beta, the one new input
    if (chainInputs(candidate).size() > kMaxFusedInputs) {
      return;
    }
    OpBuilder builder(pool);
    Location loc = pool.getLoc();
    auto norm = builder.create<BatchNormOp>(
        loc, type, train.getInput(), train.getWeight(), train.getBias(),
        train.getMean(), train.getVar(), train.getEpsilonAttr(),
        builder.getF32FloatAttr(0.1f), builder.getBoolAttr(false));
    auto again = builder.create<ReluOp>(loc, type, norm.getResult());
    for (Operation *op : chain) {
      op->replaceUsesOfWith(a, again.getResult());
    }
    chain.insert(chain.begin(), {norm, again});
  }

  // With `pool`: an epilogue chain of one anchor (a batch_norm_train, or a
  // conv2d in codegen's planes form) whose value only a max_pool2d reads
  // (isPoolTail) takes it as its tail.
  void appendPoolTail(SmallVectorImpl<Operation *> &chain,
                      const llvm::SmallPtrSetImpl<Operation *> &taken) {
    if (!pool || llvm::count_if(chain, [](Operation *op) {
                   return llvm::isa<FusionAnchorOpInterface>(op);
                 }) != 1) {
      return;
    }
    Value value = chain.back()->getResult(0);
    if (!value.hasOneUse()) {
      return;
    }
    Operation *user = *value.getUsers().begin();
    if (user->getBlock() == chain.back()->getBlock() &&
        !taken.contains(user) && isPoolTail(chain.front(), user)) {
      chain.push_back(user);
    }
  }

  // Gradient sinks of the prologue consumer chain.back() (isGradientSink)
  // appended to the chain: each reads its first result and otherwise only
  // values defined before the consumer, where the fused op goes.
  void appendSinks(SmallVectorImpl<Operation *> &chain,
                   const llvm::SmallPtrSetImpl<Operation *> &taken) {
    if (!sinks) {
      return;
    }
    Operation *consumer = chain.back();
    Value dx = consumer->getResult(0);
    SmallVector<Operation *> found;
    for (Operation *user : dx.getUsers()) {
      bool early = llvm::all_of(user->getOperands(), [&](Value operand) {
        Operation *def = operand.getDefiningOp();
        return operand == dx || !def || def->isBeforeInBlock(consumer);
      });
      if (user->getBlock() == consumer->getBlock() && !taken.contains(user) &&
          early && isGradientSink(user, dx)) {
        found.push_back(user);
      }
    }
    llvm::sort(found, [](Operation *a, Operation *b) {
      return a->isBeforeInBlock(b);
    });
    // A weight-gradient sink pays only where dx is then not written (a
    // first layer: nothing else reads it). Where the input gradient reads
    // dx too, the weight gradient's own channel form (a GEMM over the
    // written dx) is faster than one channel per loop iteration
    // (MobileNetV2's 16 -> 96 expansion at batch 16: 16.4 -> 31.1 ms).
    bool dxWritten = llvm::any_of(dx.getUsers(), [&](Operation *user) {
      return !llvm::is_contained(found, user);
    });
    if (dxWritten) {
      llvm::erase_if(found, [](Operation *op) {
        return llvm::isa<Conv2DGradWeightOp>(op);
      });
    }
    SmallVector<Operation *> candidate(chain.begin(), chain.end());
    candidate.append(found.begin(), found.end());
    if (!found.empty() && chainInputs(candidate).size() <= kMaxFusedInputs) {
      chain.append(found.begin(), found.end());
    }
  }

  // Whether a producer chain (1x1 conv2d, its chain, a depthwise conv2d,
  // its chain) may take a projection: the rows form (codegen's
  // buildPointwiseDepthwise), expanded planes of 20 columns or more and
  // depthwise output rows of 16 or more; with projection-max-columns,
  // expanded planes narrower than that.
  bool projectable(ArrayRef<Operation *> chain) const {
    auto anchors = llvm::to_vector(llvm::make_filter_range(
        chain, [](Operation *op) {
          return llvm::isa<FusionAnchorOpInterface>(op);
        }));
    auto width = [](Value v) {
      auto type = llvm::dyn_cast<RankedTensorType>(v.getType());
      return type && type.hasStaticShape() && type.getRank() == 4
                 ? type.getDimSize(3)
                 : int64_t{0};
    };
    // A depthwise conv2d alone (an inverted residual block without
    // expansion, as MobileNetV2's first: its depthwise value, 1.6 MB per
    // image on 112x112, is never written): at stride 1 with its input's
    // plane (the value a 1x1 producer would have), on planes of 20 columns
    // or more, whatever projection-max-columns (with no expansion to keep
    // in cache, wide planes win too: MobileNetV2's 32 -> 16 on 112x112 at
    // batch 8, 0.670 + 0.531 -> 1.057 ms, `kiln bench --profile`).
    if (anchors.size() == 1 && isDepthwiseConv(anchors[0])) {
      auto conv = llvm::cast<Conv2DOp>(anchors[0]);
      auto in = llvm::cast<RankedTensorType>(conv.getInput().getType());
      auto out = llvm::dyn_cast<RankedTensorType>(conv.getType());
      return out && out.hasStaticShape() && in.hasStaticShape() &&
             in.getShape() == out.getShape() && width(conv.getInput()) >= 20 &&
             llvm::all_of(conv.getStrides(), [](int64_t s) { return s == 1; });
    }
    if (anchors.size() != 2 || !isPointwiseConv(anchors[0]) ||
        !isDepthwiseConv(anchors[1])) {
      return false;
    }
    // At stride 2 the expanded rows of every channel (twice as many per
    // output row, held with their phases) left L1: MobileNetV2 at batch 8,
    // 144 channels on 56 -> 28 0.98 + 0.31 ms unfused, 1.64 fused; 96 on
    // 112 -> 56 2.17 + 0.68, 3.08 (`kiln bench --profile`).
    auto strides = llvm::cast<Conv2DOp>(anchors[1]).getStrides();
    int64_t columns = width(anchors[0]->getOperand(0));
    return columns >= 20 &&
           (projectionMaxColumns == 0 || columns < projectionMaxColumns) &&
           width(anchors[1]->getResult(0)) >= 16 &&
           llvm::all_of(strides, [](int64_t s) { return s == 1; });
  }

  // The producer form: `op`, a depthwise conv2d, and its chain (`chain`,
  // or just `op`) appended to the chain `chains[i]` of a 1x1 conv2d whose
  // value only `op` reads; with `projection`, `op` a 1x1 conv2d and its
  // chain appended to such a producer chain (projectable) whose value only
  // `op` reads. Returns whether it merged.
  bool mergeProducer(Operation *op, ArrayRef<Operation *> chain,
                     SmallVectorImpl<SmallVector<Operation *>> &chains,
                     llvm::DenseMap<Operation *, size_t> &chainEnds) {
    bool depthwise = isDepthwiseConv(op);
    if (!producer || (!depthwise && !(projection && isPointwiseConv(op)))) {
      return false;
    }
    Value input = op->getOperand(0);
    auto end = chainEnds.find(input.getDefiningOp());
    if (!input.hasOneUse() || end == chainEnds.end()) {
      return false;
    }
    SmallVector<Operation *> &first = chains[end->second];
    bool fits = depthwise ? isPointwiseConv(first.front()) &&
                                llvm::count_if(first, [](Operation *member) {
                                  return llvm::isa<FusionAnchorOpInterface>(
                                      member);
                                }) == 1
                          : projectable(first);
    if (!fits || first.front()->getBlock() != op->getBlock()) {
      return false;
    }
    SmallVector<Operation *> merged = first;
    if (chain.empty()) {
      merged.push_back(op);
    } else {
      merged.append(chain.begin(), chain.end());
    }
    if (chainInputs(merged).size() > kMaxFusedInputs) {
      return false;
    }
    size_t index = end->second;
    chainEnds.erase(end);
    first = std::move(merged);
    chainEnds[first.back()] = index; // a projection may extend it again
    return true;
  }

  static SmallVector<Value> chainInputs(ArrayRef<Operation *> chain) {
    llvm::SmallPtrSet<Operation *, 8> inChain(chain.begin(), chain.end());
    SmallVector<Value> inputs;
    for (Operation *op : chain) {
      for (Value operand : op->getOperands()) {
        Operation *def = operand.getDefiningOp();
        if ((!def || !inChain.contains(def)) &&
            !llvm::is_contained(inputs, operand)) {
          inputs.push_back(operand);
        }
      }
    }
    return inputs;
  }

  // Where the fused op can go: at the chain's last op, unless an extra
  // result of the anchor (batch_norm_train's mean, var) is used before it;
  // then at the anchor, if every input is defined before it. Null: nowhere.
  static Operation *insertionPoint(ArrayRef<Operation *> chain,
                                   ArrayRef<Value> inputs) {
    Operation *anchor = chain.front(), *last = chain.back();
    bool extraUsedEarly = llvm::any_of(
        anchor->getResults().drop_front(), [&](Value extra) {
          return llvm::any_of(extra.getUsers(), [&](Operation *user) {
            return !last->isBeforeInBlock(user);
          });
        });
    if (!extraUsedEarly) {
      return last;
    }
    bool inputsEarly = llvm::all_of(inputs, [&](Value input) {
      Operation *def = input.getDefiningOp();
      return !def || def->isBeforeInBlock(anchor);
    });
    return inputsEarly ? anchor : nullptr;
  }

  // A chain's ops after the convs it recomputes (the fused op's body order).
  static SmallVector<Operation *>
  withRecomputed(ArrayRef<Operation *> recomputed,
                 ArrayRef<Operation *> chain) {
    SmallVector<Operation *> ops(recomputed.begin(), recomputed.end());
    ops.append(chain.begin(), chain.end());
    return ops;
  }

  // Replaces `chain` by one kiln.fused op of `kind` at `at`, whose results
  // are `results` (values of the chain's ops) in order; the ops of
  // `recomputed` (isRecomputableConv, read by the chain) become its
  // recomputed inputs, and stay where they are.
  static void replaceByFused(ArrayRef<Operation *> chain,
                             ArrayRef<Value> results, Operation *at,
                             StringRef kind,
                             ArrayRef<Operation *> recomputed = {}) {
    SmallVector<Operation *> ops = withRecomputed(recomputed, chain);
    SmallVector<Value> inputs = chainInputs(ops);
    SmallVector<Type> extraTypes;
    for (Value extra : results.drop_front()) {
      extraTypes.push_back(extra.getType());
    }
    OpBuilder builder(at);
    Location loc = chain.back()->getLoc();
    auto fused = builder.create<FusedOp>(
        loc, results.front().getType(), extraTypes,
        builder.getStringAttr(kind), inputs,
        builder.getI64IntegerAttr(static_cast<int64_t>(recomputed.size())));
    Block *body = builder.createBlock(&fused.getBody());
    IRMapping mapping;
    for (Value input : inputs) {
      mapping.map(input, body->addArgument(input.getType(), input.getLoc()));
    }
    for (Operation *op : ops) {
      builder.clone(*op, mapping);
    }
    SmallVector<Value> yielded;
    for (Value result : results) {
      yielded.push_back(mapping.lookup(result));
    }
    builder.create<YieldOp>(loc, yielded);
    for (auto [result, replacement] : llvm::zip(results, fused.getResults())) {
      Value(result).replaceAllUsesWith(replacement);
    }
    for (Operation *op : llvm::reverse(chain)) {
      op->erase();
    }
  }

  void fuse(ArrayRef<Operation *> chain, ArrayRef<Operation *> recomputed) {
    Operation *first = chain.front(), *last = chain.back();
    if (llvm::isa<MatmulOp>(first) && llvm::isa<MatmulOp>(last)) {
      // Attention: one kernel at the output matmul.
      replaceByFused(chain, {last->getResult(0)}, last, "attention");
      return;
    }
    auto consumer = llvm::find_if(chain, [](Operation *op) {
      return llvm::isa<FusionPrologueOpInterface>(op);
    });
    if (consumer != chain.end()) {
      // Producer + consumer (+ gradient sinks): one kernel at the consumer,
      // with all its results (the first only if read outside the kernel),
      // then the sinks'.
      Value dx = (*consumer)->getResult(0);
      bool dxRead = llvm::any_of(dx.getUsers(), [&](Operation *user) {
        return !llvm::is_contained(chain, user);
      });
      SmallVector<Value> results;
      for (Operation *op : llvm::make_range(consumer, chain.end())) {
        llvm::append_range(results, op->getResults());
      }
      if (!dxRead && results.size() > (*consumer)->getNumResults()) {
        results.erase(results.begin());
      }
      replaceByFused(chain, results, *consumer, "prologue", recomputed);
      return;
    }
    Operation *at =
        insertionPoint(chain, chainInputs(withRecomputed(recomputed, chain)));
    if (!at) {
      return;
    }
    bool anchored = llvm::isa<FusionAnchorOpInterface>(first);
    auto anchors = llvm::count_if(chain, [](Operation *op) {
      return llvm::isa<FusionAnchorOpInterface>(op);
    });
    // Results: the chain's value, then an anchor's other results.
    SmallVector<Value> results = {last->getResult(0)};
    if (anchored && anchors == 1) {
      llvm::append_range(results, first->getResults().drop_front());
    }
    replaceByFused(chain, results, at,
                   anchors >= 2  ? "producer"
                   : anchored    ? "epilogue"
                                 : "elementwise",
                   recomputed);
  }

  // With `recomputeConv`: each conv2d that its readers can recompute
  // (isRecomputableConv) and whose every reader reads it as x, as a
  // chain's batch_norm_train anchor, a prologue chain's consumer
  // (batch_norm_grad) or a batch_norm recomputing the forward in a
  // prologue chain, becomes a recomputed input of each of those chains
  // (chain index -> its convs), and is computed nowhere else.
  llvm::DenseMap<size_t, SmallVector<Operation *>>
  recomputedConvs(ArrayRef<SmallVector<Operation *>> chains) {
    llvm::DenseMap<size_t, SmallVector<Operation *>> found;
    if (!recomputeConv) {
      return found;
    }
    llvm::DenseMap<Operation *, size_t> chainOf;
    for (auto [index, chain] : llvm::enumerate(chains)) {
      for (Operation *op : chain) {
        chainOf[op] = index;
      }
    }
    func::FuncOp func = kiln::passes::entryFunction(getOperation());
    for (Operation &op : func.getBody().front()) {
      if (!isRecomputableConv(&op) || op.use_empty()) {
        continue;
      }
      Value x = op.getResult(0);
      SmallVector<size_t> readers;
      bool recomputable = true;
      for (OpOperand &use : x.getUses()) {
        Operation *user = use.getOwner();
        auto it = chainOf.find(user);
        if (it == chainOf.end()) {
          recomputable = false;
          break;
        }
        ArrayRef<Operation *> chain = chains[it->second];
        auto consumer = llvm::find_if(chain, [](Operation *member) {
          return llvm::isa<FusionPrologueOpInterface>(member);
        });
        bool anchorInput = llvm::isa<BatchNormTrainOp>(chain.front()) &&
                           user == chain.front() &&
                           use.getOperandNumber() == 0;
        // As codegen reads a recomputed input: x of the consumer
        // (batch_norm_grad) or of a batch_norm recomputing the forward.
        bool prologueInput =
            consumer != chain.end() && use.getOperandNumber() == 0 &&
            (user == *consumer || (llvm::isa<BatchNormOp>(user) &&
                                   user->isBeforeInBlock(*consumer)));
        if (!anchorInput && !prologueInput) {
          recomputable = false;
          break;
        }
        if (!llvm::is_contained(readers, it->second)) {
          readers.push_back(it->second);
        }
      }
      if (!recomputable) {
        continue;
      }
      for (size_t index : readers) {
        if (chainInputs(withRecomputed({&op}, chains[index])).size() >
            kMaxFusedInputs) {
          recomputable = false;
        }
      }
      if (recomputable) {
        for (size_t index : readers) {
          found[index].push_back(&op);
        }
      }
    }
    return found;
  }

  void runOnOperation() override {
    func::FuncOp func = kiln::passes::entryFunction(getOperation());
    if (!func) {
      return;
    }
    SmallVector<SmallVector<Operation *>> chains;
    llvm::SmallPtrSet<Operation *, 32> taken;
    llvm::DenseMap<Operation *, size_t> chainEnds; // last op -> chain
    // Attention first: its scale and mask ops would otherwise start
    // elementwise chains of their own.
    for (Operation &op : func.getBody().front()) {
      auto softmax = llvm::dyn_cast<SoftmaxOp>(op);
      SmallVector<Operation *> chain =
          softmax ? attentionAround(softmax) : SmallVector<Operation *>{};
      if (!chain.empty() && llvm::none_of(chain, [&](Operation *member) {
            return taken.contains(member);
          })) {
        taken.insert(chain.begin(), chain.end());
        chains.push_back(std::move(chain));
      }
    }
    for (Operation &op : func.getBody().front()) {
      if (taken.contains(&op)) {
        continue;
      }
      SmallVector<Operation *> chain = chainFrom(&op, taken);
      if (mergeProducer(&op, chain, chains, chainEnds)) {
        taken.insert(&op);
        taken.insert(chain.begin(), chain.end());
        continue;
      }
      if (chain.empty()) {
        chain = prologueFrom(&op, taken);
      }
      if (chain.empty()) {
        continue;
      }
      taken.insert(chain.begin(), chain.end());
      chainEnds[chain.back()] = chains.size();
      chains.push_back(std::move(chain));
    }
    // Pooling tails last: recompute may have taken the backward pass's
    // reads of a chain's value.
    for (auto &chain : chains) {
      appendPoolTail(chain, taken);
    }
    auto recomputed = recomputedConvs(chains);
    for (auto [index, chain] : llvm::enumerate(chains)) {
      auto convs = recomputed.find(index);
      fuse(chain, convs == recomputed.end() ? ArrayRef<Operation *>()
                                            : ArrayRef<Operation *>(
                                                  convs->second));
    }
    // The recomputed convs, now read by no kernel.
    llvm::SetVector<Operation *> convs;
    for (auto &entry : recomputed) {
      convs.insert(entry.second.begin(), entry.second.end());
    }
    for (Operation *conv : convs) {
      if (conv->use_empty()) {
        conv->erase();
      }
    }
  }
};

} // namespace
