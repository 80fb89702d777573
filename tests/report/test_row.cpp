// report::measure_model and count_parameters: the dense row is the reference's own (KL 0,
// agreement 1, relative performance 1, speedups 1); a compressed row's relative performance is
// dense loss / its loss; a 2:4-masked model has half the non-zeros of its masked linears; an MoE
// model reads k/E of its expert weights per token; the artefact size is the files' size.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "cook/compress/moe/expert_ffn.h"
#include "cook/compress/prune/nm_masks.h"
#include "cook/compress/report/row.h"
#include "cook/core/error.h"
#include "cook/weights/checkpoint.h"
#include "report_test_util.h"

namespace cook::compress::report {
namespace {

namespace fs = std::filesystem;

MeasureOptions quick_options() {
  MeasureOptions o;
  o.eval_batches = 2;
  o.speed_options.prompt_len = 8;
  o.speed_options.decode_tokens = 4;
  o.speed_options.decode_batches = {1, 4};
  o.speed_options.prefill_len = 16;
  o.speed_options.repeats = 1;
  o.speed_options.warmup = 0;
  return o;
}

// Masks every linear of the blocks 2:4 (magnitude); returns how many weights the masks cover.
int64_t mask_blocks_2to4(model::GptJ& m) {
  int64_t covered = 0;
  for (const auto& block : m->blocks())
    for (const auto& module : block->modules(false))
      if (auto* linear = dynamic_cast<cook::nn::LinearImpl*>(module.get())) {
        linear->set_mask(prune::m4n2_1d(linear->weight.detach().abs()));
        covered += linear->weight.numel();
      }
  return covered;
}

TEST(ModelRow, TheDenseRowIsItsOwnReference) {
  model::GptJ dense = test::micro_model();
  test::RandomEval source;
  const std::string file = test::temp_dir("dense") + "/dense.safetensors";
  weights::save_checkpoint(file, *dense, dense->config());
  const ModelRow row = measure_model("dense", "dense", dense, dense, source, {file}, quick_options());
  EXPECT_EQ(row.name, "dense");
  EXPECT_EQ(row.kl, 0.0);
  EXPECT_EQ(row.top1_agreement, 1.0);
  EXPECT_EQ(row.relative_performance, 1.0);
  EXPECT_EQ(row.loss, row.reference_loss);
  EXPECT_NEAR(row.perplexity, std::exp(row.loss), 1e-9 * row.perplexity);
  EXPECT_EQ(row.eval_tokens, 2 * 4 * 16);  // eval_batches 2 of (4, 16)
  EXPECT_EQ(row.artefact_bytes, static_cast<int64_t>(fs::file_size(file)));
  EXPECT_EQ(row.parameters.total, dense->parameter_count());
  EXPECT_EQ(row.parameters.active, row.parameters.total);
  ASSERT_TRUE(row.speed.has_value());
  ASSERT_EQ(row.decode_speedup.size(), 2u);
  EXPECT_EQ(row.decode_speedup[0], 1.0);
  EXPECT_EQ(row.decode_speedup[1], 1.0);
  EXPECT_EQ(row.prefill_speedup, 1.0);
  EXPECT_GT(row.peak_rss_bytes, 0);
  if (row.peak_rss_scoped) EXPECT_GE(row.peak_rss_bytes, row.rss_before_bytes);
}

TEST(ModelRow, APrunedRowAgainstTheDenseOne) {
  model::GptJ dense = test::micro_model();
  model::GptJ pruned = test::micro_model();  // the same weights, then 2:4 masks
  const int64_t covered = mask_blocks_2to4(pruned);
  test::RandomEval source;
  const MeasureOptions o = quick_options();
  const std::string dir = test::temp_dir("pruned");
  weights::save_checkpoint(dir + "/dense.safetensors", *dense, dense->config());
  weights::save_checkpoint(dir + "/pruned.safetensors", *pruned, pruned->config());
  std::ofstream(dir + "/masks.bin") << std::string(1234, 'x');

  const ModelRow d = measure_model("dense", "dense", dense, dense, source, {dir + "/dense.safetensors"}, o);
  const ModelRow p = measure_model("2:4", "P", pruned, dense, source, {dir + "/pruned.safetensors", dir + "/masks.bin"},
                                   o, &d);
  EXPECT_EQ(p.parameters.total, d.parameters.total);
  // Random normal weights have no zero, so the masks remove exactly half of what they cover.
  EXPECT_EQ(p.parameters.nonzero, d.parameters.nonzero - covered / 2);
  EXPECT_EQ(p.reference_loss, d.loss);
  EXPECT_DOUBLE_EQ(p.relative_performance, d.loss / p.loss);
  EXPECT_GT(p.kl, 0.0);
  EXPECT_GT(p.top1_agreement, 0.0);
  EXPECT_LT(p.top1_agreement, 1.0);
  EXPECT_EQ(p.artefact_bytes, static_cast<int64_t>(fs::file_size(dir + "/pruned.safetensors")) + 1234);
  ASSERT_TRUE(p.speed && d.speed);
  ASSERT_EQ(p.decode_speedup.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(p.decode_speedup[i].has_value());
    EXPECT_DOUBLE_EQ(*p.decode_speedup[i], p.speed->decode[i].tokens_per_second / d.speed->decode[i].tokens_per_second);
  }
  EXPECT_DOUBLE_EQ(*p.prefill_speedup, p.speed->prefill.tokens_per_second / d.speed->prefill.tokens_per_second);

  // Without the dense row, a model that is not the reference has no speedup.
  MeasureOptions no_speed = o;
  no_speed.speed = false;
  const ModelRow alone = measure_model("2:4", "P", pruned, dense, source, {dir + "/pruned.safetensors"}, no_speed);
  EXPECT_FALSE(alone.speed.has_value());
  EXPECT_FALSE(alone.prefill_speedup.has_value());
  EXPECT_DOUBLE_EQ(alone.relative_performance, p.relative_performance);
}

TEST(ModelRow, AMissingArtefactIsAnErrorNamingIt) {
  model::GptJ dense = test::micro_model();
  test::RandomEval source;
  try {
    measure_model("dense", "dense", dense, dense, source, {"/nonexistent/model.safetensors"}, quick_options());
    FAIL() << "expected cook::Error";
  } catch (const cook::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.safetensors"), std::string::npos) << e.what();
  }
  const std::string dir = test::temp_dir("folder");
  std::ofstream(dir + "/a") << "12345";
  fs::create_directories(dir + "/sub");
  std::ofstream(dir + "/sub/b") << "123";
  EXPECT_EQ(artefact_size({dir}), 8);
}

TEST(Parameters, AnMoeModelReadsItsChosenExpertsOnly) {
  model::GptJ m = test::micro_model();
  const ParameterCounts dense = count_parameters(*m);
  const int64_t E = 8, k = 2, F = m->config().d_ff, d = m->config().d_model;
  int64_t router = 0;
  for (auto block : m->blocks()) {
    const torch::Tensor experts = torch::arange(F, torch::kInt64).view({E, F / E});
    const torch::Tensor centroids = torch::randn({E, d});
    auto ffn = std::make_shared<moe::ExpertFeedForwardImpl>(*block->dense_ffn(), experts,
                                                            std::make_shared<moe::CentroidRouterImpl>(centroids), k);
    block->replace_ffn(ffn);
    router += centroids.numel();
  }
  const ParameterCounts c = count_parameters(*m);
  EXPECT_EQ(c.total, dense.total + router);
  EXPECT_EQ(c.nonzero, dense.nonzero + router);
  const int64_t expert_weights = F * d + F + d * F;  // fc_in weight and bias, fc_out weight
  EXPECT_EQ(c.active, c.total - m->config().n_layer * expert_weights * (E - k) / E);
}

}  // namespace
}  // namespace cook::compress::report
