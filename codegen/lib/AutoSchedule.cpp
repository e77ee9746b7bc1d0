// Halide's autoschedulers on kiln's kernels (`--schedule auto:NAME`,
// docs/codegen.md "Autoschedulers"): research mode, to compare the hand
// schedules with what Adams2019, Li2018 and Mullapudi2016 find.
//
// A kernel builder defines and schedules its Funcs together. Rather than a
// define-only mode in every builder, the scheduled pipeline is rebuilt here
// from its definitions alone: every Func the outputs reach gets a fresh
// Function with the same pure and update definitions, its calls redirected
// to the fresh copies, and no schedule. What a hand schedule adds to the
// graph stays valid algorithm (an rfactor's intermediate is a Func like any
// other); what it adds only to the schedule (wrappers from in(), splits,
// specializations, bounds) is gone. The autoscheduler then schedules the
// copy, given the spec's shapes as estimates.
#include "Kernels.h"

#include <cstring>
#include <map>
#include <set>

namespace kiln::codegen::detail {
namespace {

using Halide::Expr;
using Halide::Internal::Call;
using Halide::Internal::Function;

// Every Func a set of Exprs calls, by name.
class FindFuncCalls : public Halide::Internal::IRVisitor {
public:
  std::map<std::string, Function> calls;
  std::vector<Halide::Internal::Parameter> buffers;

private:
  using Halide::Internal::IRVisitor::visit;
  void visit(const Call *op) override {
    if (op->call_type == Call::Halide && op->func.defined()) {
      Function f(op->func);
      calls.emplace(f.name(), f);
    }
    if (op->param.defined() && op->param.is_buffer()) {
      buffers.push_back(op->param);
    }
    Halide::Internal::IRVisitor::visit(op);
  }
};

// Each Expr of a definition: its args, values and predicate.
template <typename Fn>
void forEachExpr(const Halide::Internal::Definition &d, Fn fn) {
  for (const Expr &e : d.args()) {
    fn(e);
  }
  for (const Expr &e : d.values()) {
    fn(e);
  }
  if (d.predicate().defined()) {
    fn(d.predicate());
  }
}

template <typename Fn> void forEachExpr(const Function &f, Fn fn) {
  forEachExpr(f.definition(), fn);
  for (const Halide::Internal::Definition &u : f.updates()) {
    forEachExpr(u, fn);
  }
}

// Redirects calls to the fresh copies.
class Redirect : public Halide::Internal::IRMutator {
public:
  explicit Redirect(const std::map<std::string, Function> &fresh)
      : fresh_(fresh) {}

private:
  using Halide::Internal::IRMutator::visit;
  const std::map<std::string, Function> &fresh_;
  Expr visit(const Call *op) override {
    if (op->call_type != Call::Halide) {
      return Halide::Internal::IRMutator::visit(op);
    }
    std::vector<Expr> args;
    for (const Expr &a : op->args) {
      args.push_back(mutate(a));
    }
    return Call::make(fresh_.at(op->name), args, op->value_index);
  }
};

class Unscheduler {
public:
  explicit Unscheduler(const KernelSpec &spec) : spec_(spec) {}

  // The copy of `f` (and, first, of every Func it calls).
  Function copy(const Function &f) {
    if (auto it = fresh_.find(f.name()); it != fresh_.end()) {
      if (!it->second.has_pure_definition()) {
        fail(spec_, "cannot autoschedule: Func '" + f.name() +
                        "' calls itself through another Func");
      }
      return it->second;
    }
    if (f.has_extern_definition()) {
      fail(spec_, "cannot autoschedule: Func '" + f.name() +
                      "' is an extern stage");
    }
    Function g(f.name());
    fresh_.emplace(f.name(), g);
    FindFuncCalls found;
    forEachExpr(f, [&](const Expr &e) { e.accept(&found); });
    for (const auto &[name, callee] : found.calls) {
      if (name != f.name()) {
        copy(callee);
      }
    }
    for (const Halide::Internal::Parameter &p : found.buffers) {
      buffers_.emplace(p.name(), p);
    }
    Redirect redirect(fresh_);
    auto mutated = [&](const std::vector<Expr> &exprs) {
      std::vector<Expr> out;
      for (const Expr &e : exprs) {
        out.push_back(redirect.mutate(e));
      }
      return out;
    };
    // The pure definition first: the updates may call g itself.
    g.define(f.args(), mutated(f.values()));
    for (const Halide::Internal::Definition &u : f.updates()) {
      if (u.predicate().defined()) {
        FindFuncCalls inPredicate;
        u.predicate().accept(&inPredicate);
        if (!inPredicate.calls.empty()) {
          fail(spec_, "cannot autoschedule: an RDom predicate of Func '" +
                          f.name() + "' calls a Func");
        }
      }
      g.define_update(mutated(u.args()), mutated(u.values()));
    }
    // The output buffers' constraints (constrainOutput's static shapes).
    for (size_t i = 0; i < f.output_buffers().size(); ++i) {
      const Halide::Internal::Parameter &from = f.output_buffers()[i];
      Halide::Internal::Parameter to = g.output_buffers()[i];
      for (int d = 0; d < from.dimensions(); ++d) {
        to.set_min_constraint(d, from.min_constraint(d));
        to.set_extent_constraint(d, from.extent_constraint(d));
        to.set_stride_constraint(d, from.stride_constraint(d));
      }
      to.set_host_alignment(from.host_alignment());
    }
    return g;
  }

  // The input buffers the copies read.
  const std::map<std::string, Halide::Internal::Parameter> &buffers() const {
    return buffers_;
  }

private:
  const KernelSpec &spec_;
  std::map<std::string, Function> fresh_;
  std::map<std::string, Halide::Internal::Parameter> buffers_;
};

// A constant constraint's value, or `fallback`.
Expr constantOr(const Expr &e, int fallback) {
  return e.defined() && Halide::Internal::as_const_int(e) ? e : Expr(fallback);
}

// "Adams2019" -> its plugin (the Debian package's, found by CMake), in the
// order of kAutoSchedulers.
std::string pluginOf(const std::string &name) {
  static const std::map<std::string, std::string> plugins = {
      {kAutoSchedulers[0], KILN_AUTOSCHEDULER_ADAMS2019},
      {kAutoSchedulers[1], KILN_AUTOSCHEDULER_LI2018},
      {kAutoSchedulers[2], KILN_AUTOSCHEDULER_MULLAPUDI2016}};
  auto it = plugins.find(name);
  return it == plugins.end() ? std::string() : it->second;
}

} // namespace

void validateSchedule(const KernelSpec &spec) {
  if (spec.schedule.empty()) {
    return;
  }
  if (spec.schedule.rfind(kAutoSchedulePrefix, 0) != 0 ||
      pluginOf(spec.schedule.substr(std::strlen(kAutoSchedulePrefix))).empty()) {
    fail(spec, "unknown schedule '" + spec.schedule +
                   "' (auto:Adams2019, auto:Li2018 or auto:Mullapudi2016)");
  }
}

Kernel autoSchedule(const Kernel &scheduled, const KernelSpec &spec,
                    const Halide::Target &target) {
  validateSchedule(spec);
  std::string name = spec.schedule.substr(std::strlen(kAutoSchedulePrefix));
  std::string plugin = pluginOf(name);
  static std::set<std::string> loaded;
  if (loaded.insert(plugin).second) {
    Halide::load_plugin(plugin);
  }
  Unscheduler unscheduler(spec);
  std::vector<Halide::Func> outputs;
  for (const Halide::Func &f : scheduled.outputs) {
    outputs.emplace_back(unscheduler.copy(f.function()));
  }
  // Estimates: the static shapes the kernel was built for.
  for (Halide::Func &f : outputs) {
    Halide::Internal::Parameter out = f.function().output_buffers()[0];
    Halide::Region region;
    for (int d = 0; d < out.dimensions(); ++d) {
      region.push_back({constantOr(out.min_constraint(d), 0),
                        constantOr(out.extent_constraint(d), 1)});
    }
    f.set_estimates(region);
  }
  for (const auto &[bufferName, p] : unscheduler.buffers()) {
    Halide::Internal::Parameter param = p;
    for (int d = 0; d < param.dimensions(); ++d) {
      param.set_min_constraint_estimate(d,
                                        constantOr(param.min_constraint(d), 0));
      param.set_extent_constraint_estimate(
          d, constantOr(param.extent_constraint(d), 1));
    }
  }
  // Generic machine parameters, not this machine's: the kernel cache is
  // keyed by the spec and the target, so the schedule must not depend on
  // where it was compiled.
  Halide::Pipeline(outputs).auto_schedule(name, target,
                                          Halide::MachineParams::generic());
  return Kernel(scheduled.inputs, outputs);
}

} // namespace kiln::codegen::detail
