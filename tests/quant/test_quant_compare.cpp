// compare_to_reference: KL and top-1 agreement of a model against a reference.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "cook/compress/quant/options.h"
#include "cook/compress/quant/qat.h"
#include "cook/infer/compare.h"
#include "cook/train/evaluate.h"
#include "quant_test_util.h"

namespace cook::infer {
namespace {

class FixedBatches : public train::EvalSource {
 public:
  explicit FixedBatches(std::vector<train::Batch> batches) : batches_(std::move(batches)) {}
  void for_each(int64_t max_batches, const std::function<void(const train::Batch&)>& visit) const override {
    for (size_t i = 0; i < batches_.size() && (max_batches == 0 || int64_t(i) < max_batches); ++i) visit(batches_[i]);
  }

 private:
  std::vector<train::Batch> batches_;
};

FixedBatches batches() {
  std::vector<train::Batch> out;
  for (uint64_t s = 0; s < 2; ++s) {
    train::Batch b;
    const torch::Tensor ids = quant::test::micro_ids(2, 13, 40 + s);
    b.input_ids = ids.slice(1, 0, 12);
    b.labels = ids.slice(1, 1).clone();
    b.labels[1][11] = train::kIgnoreLabel;
    out.push_back(b);
  }
  return FixedBatches(out);
}

TEST(QuantCompare, AgainstItselfKlIsZeroAndTop1IsOne) {
  model::GptJ m = quant::test::micro_model(30), same = quant::test::micro_model(30);
  const auto source = batches();
  const Comparison c = compare_to_reference(m, same, source);
  EXPECT_EQ(c.tokens, 2 * (24 - 1));
  EXPECT_NEAR(c.kl, 0.0, 1e-7);
  EXPECT_EQ(c.top1_agreement, 1.0);
  EXPECT_NEAR(c.loss, c.reference_loss, 1e-9);
  EXPECT_NEAR(c.loss, train::evaluate(m, source).loss, 1e-5);
}

TEST(QuantCompare, QuantizedModelIsCloseButNotEqual) {
  model::GptJ q = quant::test::micro_model(31), fp = quant::test::micro_model(31);
  quant::QuantOptions o;
  o.is_quant = true;
  quant::apply_quantization(*q, o);
  const auto source = batches();
  const Comparison c = compare_to_reference(q, fp, source, 1);
  EXPECT_EQ(c.tokens, 23);
  EXPECT_GT(c.kl, 0.0);
  EXPECT_LT(c.kl, 0.05);
  EXPECT_GT(c.top1_agreement, 0.5);
  EXPECT_NEAR(c.reference_loss, train::evaluate(fp, source, 1).loss, 1e-5);
  EXPECT_TRUE(q->is_training());  // the training mode is restored
}

}  // namespace
}  // namespace cook::infer
