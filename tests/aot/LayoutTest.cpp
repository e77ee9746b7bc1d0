// Arena layout of AOT entries: the memory planner's offsets when the plan
// has them (docs/plan-format.md), sequential 64-byte aligned slots otherwise.
#include "Generate.h"
#include "kiln/aot/Aot.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>

namespace {

using namespace kiln::aot::detail;
using nlohmann::json;

json buffer(const std::string &name, std::vector<int64_t> shape,
            const std::string &kind) {
  return {{"name", name}, {"shape", shape}, {"dtype", "f32"}, {"kind", kind}};
}

// input(1x10) -> t1 (1x10) -> view -> t2 (1x10, output); w param; c const.
json samplePlan() {
  json param = buffer("w", {10}, "param");
  param["init"] = {{"kind", "ones"}};
  json constant = buffer("c", {2}, "const");
  constant["data"] = {1.5, -2.0};
  json view = buffer("v", {10}, "view");
  view["alias"] = 2;
  return {{"version", 1},
          {"library", ""},
          {"buffers",
           {buffer("x", {1, 10}, "input"), param, buffer("t1", {1, 10}, "temp"),
            view, buffer("t2", {1, 10}, "temp"), constant}},
          {"inputs", {0}},
          {"outputs", {{{"name", "y"}, {"buffer", 4}}}},
          {"calls",
           {{{"kernel", "k1"}, {"op", "add"}, {"args", {0, 1, 2}}},
            {{"kernel", "k2"}, {"op", "mul"}, {"args", {3, 5, 4}}}}},
          {"objects", json::array()},
          {"runtime_object", "rt.o"}};
}

Entry readJson(const json &plan) {
  return makeEntry(kiln::runtime::planFromJson(plan, "plan.json"), "run");
}

TEST(AotLayout, SequentialWithoutPlannedOffsets) {
  Entry entry = readJson(samplePlan());
  layoutArena(entry);
  EXPECT_EQ(entry.buffers[3].root, 2);
  EXPECT_EQ(entry.location[0].offset, 0u);   // input x: 40 bytes -> 64
  EXPECT_EQ(entry.location[2].offset, 64u);  // t1
  EXPECT_EQ(entry.location[4].offset, 128u); // t2
  EXPECT_EQ(entry.arenaBytes, 192u);
}

TEST(AotLayout, PlannedOffsetsAreUsedAndTheRestFollows) {
  json plan = samplePlan();
  plan["arena_bytes"] = 128;
  plan["buffers"][2]["offset"] = 64; // t1 planned; t2 (an output) is not
  Entry entry = readJson(plan);
  layoutArena(entry);
  EXPECT_EQ(entry.location[2].offset, 64u);
  EXPECT_EQ(entry.location[0].offset, 128u); // input after the planned arena
  EXPECT_EQ(entry.location[4].offset, 192u);
  EXPECT_EQ(entry.arenaBytes, 256u);
}

TEST(AotLayout, BadPlannedOffsetIsAnError) {
  json plan = samplePlan();
  plan["arena_bytes"] = 64;
  plan["buffers"][2]["offset"] = 32;
  EXPECT_THROW(readJson(plan), kiln::runtime::Error);
  plan["buffers"][2]["offset"] = 64; // 40 bytes at 64: past the arena
  EXPECT_THROW(readJson(plan), kiln::runtime::Error);
}

TEST(AotLayout, BlobHoldsInitializedParametersAndConstants) {
  Entry entry = readJson(samplePlan());
  layoutArena(entry);
  Blob blob = buildBlob({&entry}, nullptr, ParameterSource{});
  ASSERT_EQ(blob.bytes.size(), 128u);
  EXPECT_EQ(entry.location[1].place, Place::Params);
  EXPECT_EQ(entry.location[5].place, Place::Weights);
  float w0, c1;
  std::memcpy(&w0, blob.bytes.data() + entry.location[1].offset, 4);
  std::memcpy(&c1, blob.bytes.data() + entry.location[5].offset + 4, 4);
  EXPECT_EQ(w0, 1.0f);
  EXPECT_EQ(c1, -2.0f);
}

// GPU bundles: every arena, parameter and constant offset is a multiple of
// the device alignment (OpenCL sub-buffers, CUDA's coalesced reads).
TEST(AotLayout, DeviceAlignmentForGpuBundles) {
  constexpr size_t align = 512;
  Entry entry = readJson(samplePlan());
  layoutArena(entry, align);
  EXPECT_EQ(entry.location[0].offset, 0u);    // input x: 40 bytes -> 512
  EXPECT_EQ(entry.location[2].offset, 512u);  // t1
  EXPECT_EQ(entry.location[4].offset, 1024u); // t2
  EXPECT_EQ(entry.arenaBytes, 1536u);
  Blob blob = buildBlob({&entry}, nullptr, ParameterSource{}, align);
  ASSERT_EQ(blob.bytes.size(), 1024u);
  EXPECT_EQ(entry.location[1].offset % align, 0u);
  EXPECT_EQ(entry.location[5].offset % align, 0u);
  float c1;
  std::memcpy(&c1, blob.bytes.data() + entry.location[5].offset + 4, 4);
  EXPECT_EQ(c1, -2.0f);
}

} // namespace
