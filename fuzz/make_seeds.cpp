// Writes the seed corpus of fuzz_safetensors: a few small, valid safetensors files made by Cook's
// own writer (every dtype, metadata, scalars, empty tensors, escaped and non-ASCII names, GPT-J
// style names). Usage: fuzz_safetensors_seeds <folder>
#include <cstdio>
#include <string>
#include <vector>

#include "cook/core/error.h"
#include "cook/io/safetensors.h"

using namespace cook::io;

namespace {

std::vector<std::vector<uint8_t>> g_buffers;

TensorToWrite tensor(const std::string& name, DType dt, std::vector<int64_t> shape) {
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  g_buffers.emplace_back(static_cast<size_t>(numel) * dtype_size(dt));
  auto& b = g_buffers.back();
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(dt == DType::BOOL ? i % 2 : i * 37 + 11);
  TensorToWrite t;
  t.name = name;
  t.dtype = dt;
  t.shape = std::move(shape);
  t.data = b.data();
  t.nbytes = b.size();
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <folder>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  try {
    write_safetensors(dir + "/empty.safetensors", {}, {{"format", "pt"}});
    write_safetensors(dir + "/one.safetensors", {tensor("weight", DType::F32, {2, 3})});
    std::vector<TensorToWrite> all;
    const DType dts[] = {DType::F64, DType::F32, DType::F16, DType::BF16, DType::I64,
                         DType::I32, DType::I16, DType::I8,  DType::U8,   DType::BOOL};
    for (DType d : dts) all.push_back(tensor(std::string("t_") + dtype_name(d), d, {2, 2}));
    write_safetensors(dir + "/dtypes.safetensors", all, {{"cook.format_version", "1"}, {"note", "every dtype"}});
    write_safetensors(dir + "/edge.safetensors",
                      {tensor("scalar", DType::F32, {}), tensor("empty", DType::F16, {0, 4}),
                       tensor("q\"uo\\te", DType::U8, {3}), tensor("ünï\xe2\x82\xac", DType::I8, {1, 1, 1, 2})},
                      {{"k\"ey", "välue\n"}});
    std::vector<TensorToWrite> gptj = {tensor("transformer.wte.weight", DType::F16, {8, 4})};
    for (int i = 0; i < 2; ++i) {
      std::string p = "transformer.h." + std::to_string(i) + ".";
      for (const char* n : {"ln_1.weight", "ln_1.bias", "mlp.fc_in.bias"}) gptj.push_back(tensor(p + n, DType::F16, {4}));
      for (const char* n : {"attn.q_proj.weight", "attn.k_proj.weight", "attn.v_proj.weight", "attn.out_proj.weight"})
        gptj.push_back(tensor(p + n, DType::F16, {4, 4}));
      gptj.push_back(tensor(p + "mlp.fc_in.weight", DType::F16, {8, 4}));
      gptj.push_back(tensor(p + "mlp.fc_out.weight", DType::F16, {4, 8}));
      gptj.push_back(tensor(p + "mlp.fc_out.bias", DType::F16, {4}));
    }
    gptj.push_back(tensor("lm_head.weight", DType::BF16, {8, 4}));
    gptj.push_back(tensor("lm_head.bias", DType::BF16, {8}));
    write_safetensors(dir + "/gptj.safetensors", gptj, {{"format", "pt"}});
  } catch (const cook::Error& e) {
    fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
