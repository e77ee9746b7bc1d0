# lit configuration for kiln's FileCheck tests.
import os
import lit.formats

config.name = "kiln"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.kiln_obj_root, "tests", "lit")

config.environment["PATH"] = os.pathsep.join(
    [config.kiln_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])
# Compiled kernels are cached inside the build tree so tests never touch ~.
config.environment["KILN_CACHE_DIR"] = os.path.join(config.kiln_obj_root, "kernel-cache")
config.substitutions.append(("%examples", os.path.join(config.kiln_src_root, "examples")))
# No NVIDIA driver here (CI, the development machines): a CUDA target's
# session must say so clearly (cli/errors.test).
if not any(os.path.exists(os.path.join(d, "libcuda.so.1"))
           for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib")):
    config.available_features.add("no-cuda-driver")
