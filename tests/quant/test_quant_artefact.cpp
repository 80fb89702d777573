// cook export --int8 and its loader: the round trip, the schemes, the errors, and the CLI.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>

#include "../common/run_command.h"
#include "cook/compress/quant/artefact.h"
#include "cook/compress/quant/fake_quant.h"
#include "cook/compress/quant/numerics.h"
#include "cook/compress/quant/qat.h"
#include "cook/core/error.h"
#include "cook/infer/int8_linear.h"
#include "cook/weights/checkpoint.h"
#include "cook/weights/tensor_io.h"
#include "quant_test_util.h"

namespace cook::quant {
namespace {

namespace fs = std::filesystem;
using test::max_abs_diff;

class QuantArtefact : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cook_quant_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  static QuantOptions on(Scheme s = Scheme::W8A8) {
    QuantOptions o;
    o.is_quant = true;
    o.scheme = s;
    o.group_size = 32;  // d_model 32, d_ff 128
    return o;
  }
  // Rewrites `from` into `to` after `edit` changed its tensors and metadata.
  static void rewrite(const std::string& from, const std::string& to,
                      const std::function<void(weights::TensorMap&, weights::Metadata&)>& edit) {
    weights::LoadedTensors f = weights::load_safetensors(from);
    weights::TensorMap t = f.tensors;
    weights::Metadata m = f.metadata;
    edit(t, m);
    weights::save_safetensors(to, t, m);
  }
  static std::string load_error(const std::string& p) {
    try {
      load_quantized(p);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }

  fs::path dir_;
};

TEST_F(QuantArtefact, LoadedInt8LogitsEqualTheQatSimulation) {
  model::GptJ qat = test::micro_model(21);
  qat->eval();
  apply_quantization(*qat, on());
  const std::string file = path("int8.safetensors");
  const auto names = export_quantized(file, *qat, on());
  EXPECT_EQ(names.size(), 12u);
  EXPECT_TRUE(is_quantized_file(file));

  const torch::Tensor ids = test::micro_ids(2, 16, 4);
  torch::NoGradGuard no_grad;
  const torch::Tensor simulated = qat->forward(model::ForwardInput{ids}).logits;
  for (bool kernels : {true, false}) {
    model::GptJ loaded = load_quantized(file, {kernels});
    const auto& q = loaded->blocks()[0]->attn->q_proj;
    if (kernels) {
      ASSERT_TRUE(q->kernel());
      // oneDNN where the CPU has VNNI, the exact packed loop elsewhere (int8_linear.h).
      EXPECT_EQ(q->kernel()->name().rfind("int8-", 0), 0u) << q->kernel()->name();
    } else {
      ASSERT_TRUE(q->weight_transform());
    }
    EXPECT_FALSE(loaded->lm_head->kernel());
    const torch::Tensor logits = loaded->forward(model::ForwardInput{ids}).logits;
    EXPECT_LT(max_abs_diff(logits, simulated), 1e-4 * (1 + simulated.abs().max().item<double>())) << kernels;
    // KV-cache decoding through the int8 kernels gives the same logits as the whole sequence.
    model::KvCache cache;
    const torch::Tensor prefill = loaded->forward_cached(ids.slice(1, 0, 10), cache).logits;
    const torch::Tensor step = loaded->forward_cached(ids.slice(1, 10, 11), cache).logits;
    EXPECT_LT(max_abs_diff(step.select(1, 0), logits.select(1, 10)), 1e-4 * (1 + simulated.abs().max().item<double>()));
    EXPECT_LT(max_abs_diff(prefill, logits.slice(1, 0, 10)), 1e-4 * (1 + simulated.abs().max().item<double>()));
  }
}

TEST_F(QuantArtefact, StoresInt8WeightsAndPerRowScalesWithMetadata) {
  model::GptJ m = test::micro_model(22);
  const std::string file = path("int8.safetensors");
  export_quantized(file, *m, on());
  weights::LoadedTensors f = weights::load_safetensors(file);
  EXPECT_EQ(f.tensors.count("blocks.0.attn.q_proj.weight"), 0u);
  const torch::Tensor q = f.tensors.at("blocks.0.ffn.fc_in.weight_int8");
  EXPECT_EQ(q.scalar_type(), torch::kInt8);
  EXPECT_EQ(q.sizes(), (std::vector<int64_t>{128, 32}));
  EXPECT_EQ(f.tensors.at("blocks.0.ffn.fc_in.weight_scale").sizes(), (std::vector<int64_t>{128, 1}));
  const Quantized ref = quantize_rows(m->blocks()[0]->dense_ffn()->fc_in->weight);
  EXPECT_TRUE(torch::equal(q, ref.values));
  EXPECT_EQ(f.tensors.at("lm_head.weight").scalar_type(), torch::kFloat32);
  const auto meta = nlohmann::json::parse(f.metadata.at(kQuantMetadataKey));
  EXPECT_EQ(meta["scheme"], "w8a8");
  EXPECT_EQ(meta["bits"], 8);
  EXPECT_EQ(meta["activations"], "int8-per-token-dynamic");
  EXPECT_EQ(meta["modules"].size(), 12u);
}

TEST_F(QuantArtefact, WeightOnlyInt8AndInt4RoundTrip) {
  model::GptJ m = test::micro_model(23);
  m->eval();
  const torch::Tensor ids = test::micro_ids();
  torch::NoGradGuard no_grad;
  for (Scheme s : {Scheme::W8, Scheme::W4}) {
    const std::string file = path(std::string(scheme_name(s)) + ".safetensors");
    export_quantized(file, *m, on(s));
    weights::LoadedTensors f = weights::load_safetensors(file);
    if (s == Scheme::W4) {
      const torch::Tensor packed = f.tensors.at("blocks.1.attn.out_proj.weight_int4");
      EXPECT_EQ(packed.scalar_type(), torch::kUInt8);
      EXPECT_EQ(packed.sizes(), (std::vector<int64_t>{32, 16}));
      EXPECT_EQ(f.tensors.at("blocks.1.attn.out_proj.weight_scale").sizes(), (std::vector<int64_t>{32, 1}));
      EXPECT_EQ(f.tensors.at("blocks.1.ffn.fc_out.weight_scale").sizes(), (std::vector<int64_t>{32, 4}));
    }
    model::GptJ loaded = load_quantized(file);
    const torch::Tensor w = m->blocks()[1]->attn->out_proj->weight;
    const torch::Tensor expected = s == Scheme::W4 ? fake_quant_groups(w, 32, 4) : fake_quant_rows(w);
    EXPECT_TRUE(torch::equal(loaded->blocks()[1]->attn->out_proj->weight, expected)) << scheme_name(s);
    EXPECT_FALSE(loaded->blocks()[1]->attn->out_proj->kernel());
    model::GptJ sim = test::micro_model(23);
    sim->eval();
    apply_quantization(*sim, on(s));
    EXPECT_LT(max_abs_diff(loaded->forward(model::ForwardInput{ids}).logits, sim->forward(model::ForwardInput{ids}).logits),
              1e-4)
        << scheme_name(s);
  }
}

TEST_F(QuantArtefact, ClearErrorsForBrokenArtefacts) {
  model::GptJ m = test::micro_model(24);
  const std::string good = path("good.safetensors");
  export_quantized(good, *m, on());
  const std::string bad = path("bad.safetensors");
  auto expect_error = [&](const std::string& needle) {
    const std::string e = load_error(bad);
    EXPECT_NE(e.find(needle), std::string::npos) << e;
    EXPECT_NE(e.find(bad), std::string::npos) << e;
  };
  rewrite(good, bad, [](auto& t, auto&) { t.erase("blocks.1.attn.k_proj.weight_scale"); });
  expect_error("tensor 'blocks.1.attn.k_proj.weight_scale': is missing");
  rewrite(good, bad, [](auto& t, auto&) { t["blocks.0.ffn.fc_out.weight_scale"] = torch::ones({32}); });
  expect_error("tensor 'blocks.0.ffn.fc_out.weight_scale': must be F32 [32, 1]");
  rewrite(good, bad, [](auto& t, auto&) { t["blocks.0.ffn.fc_out.weight_scale"] = -torch::ones({32, 1}); });
  expect_error("negative or non-finite scale");
  rewrite(good, bad, [](auto& t, auto&) { t["blocks.0.attn.v_proj.weight_int8"] = torch::zeros({32, 32}); });
  expect_error("tensor 'blocks.0.attn.v_proj.weight_int8': must be I8 [32, 32]");
  auto with_modules = [&](const nlohmann::json& modules) {
    rewrite(good, bad, [&](auto&, auto& md) {
      auto q = nlohmann::json::parse(md.at(kQuantMetadataKey));
      q["modules"] = modules;
      md[kQuantMetadataKey] = q.dump();
    });
  };
  with_modules(nlohmann::json::array({"blocks.0.ln"}));
  expect_error("'blocks.0.ln': is not a linear layer");
  with_modules(nlohmann::json::array({"blocks.5.attn.q_proj"}));
  expect_error("'blocks.5.attn.q_proj': names no module of the model");
  with_modules(nlohmann::json::array({"blocks.0.attn.q_proj"}));  // the other modules' int8 tensors are left over
  expect_error("belongs to a module that cook.quant.modules does not list");
  rewrite(good, bad, [](auto&, auto& md) { md[kQuantMetadataKey] = R"({"version": 1, "scheme": "w3"})"; });
  expect_error("cook.quant");
  rewrite(good, bad, [](auto&, auto& md) { md.erase(kQuantMetadataKey); });
  expect_error("not a quantized Cook artefact");
  EXPECT_FALSE(is_quantized_file(bad));
}

class CliQuant : public QuantArtefact {
 protected:
  void SetUp() override {
    QuantArtefact::SetUp();
    const char* env = std::getenv("COOK_CLI");
    cli_ = env ? env : std::string(COOK_BINARY_DIR) + "/cook";
    if (env == nullptr && !fs::exists(cli_)) GTEST_SKIP() << "the cook binary is not built (" << cli_ << ")";
  }
  std::string cli_;
};

TEST_F(CliQuant, ExportInt8WritesAQuarterSizedArtefactThatLoads) {
  model::GptJ m(model::preset("tiny"));
  m->init_weights(0.3, 5);
  const std::string ckpt = path("tiny.safetensors"), out = path("tiny-int8.safetensors");
  weights::save_checkpoint(ckpt, *m, m->config());
  const auto r = cook::test::run_command(cook::test::shell_quote(cli_) + " export --int8 --load " +
                                         cook::test::shell_quote(ckpt) + " --out " + cook::test::shell_quote(out));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("quantized 12 linears (w8a8)"), std::string::npos) << r.output;
  model::GptJ loaded = load_quantized(out);
  EXPECT_TRUE(loaded->blocks()[1]->dense_ffn()->fc_out->kernel());
  // The block linears shrink to about a quarter; embed and lm_head stay fp32.
  const auto f = weights::load_safetensors(out);
  int64_t linear_bytes = 0;
  for (const auto& [name, t] : f.tensors)
    if (name.find("_int8") != std::string::npos || name.find("_scale") != std::string::npos)
      linear_bytes += t.numel() * t.element_size();
  const int64_t fp32_linear_bytes = 2 * (4 * 64 * 64 + 2 * 64 * 256) * 4;
  EXPECT_LT(double(linear_bytes) / fp32_linear_bytes, 0.27);
  EXPECT_GT(double(linear_bytes) / fp32_linear_bytes, 0.25);

  const auto bad = cook::test::run_command(cook::test::shell_quote(cli_) + " export --int8 --quant-module wte --load " +
                                           cook::test::shell_quote(ckpt) + " --out " + cook::test::shell_quote(out));
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("'wte' names no module"), std::string::npos) << bad.output;
}

TEST_F(CliQuant, TrainWithAnInt8PresetOrABmcookConfig) {
  // Option errors come before any data is read.
  const auto off = cook::test::run_command(cook::test::shell_quote(cli_) + " train --model tiny --quant-scheme w4 --data x --steps 1");
  EXPECT_NE(off.status, 0);
  EXPECT_NE(off.output.find("quantization is off"), std::string::npos) << off.output;
  const std::string cfg = path("bmcook.json");
  {
    std::ofstream(cfg) << R"({"quantization": {"is_quant": true, "quantized_modul": []}, "distillation": {}})";
  }
  const auto bad = cook::test::run_command(cook::test::shell_quote(cli_) + " train --model tiny --quant-config " +
                                           cook::test::shell_quote(cfg) + " --data x --steps 1");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("quantization.quantized_modul: unknown key"), std::string::npos) << bad.output;
  const auto help = cook::test::run_command(cook::test::shell_quote(cli_) + " train --help");
  EXPECT_NE(help.output.find("--quant-config"), std::string::npos);
}

}  // namespace
}  // namespace cook::quant
