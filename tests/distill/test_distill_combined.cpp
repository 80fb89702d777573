// Distillation with a compressed student: the student trains with int8 fake quantization and 2:4
// masks on its block linears while the teacher stays dense; every invariant holds after training.
#include <gtest/gtest.h>

#include <memory>

#include "../train/train_test_util.h"
#include "cook/compress/distill/extension.h"
#include "cook/compress/prune/pruning_pass.h"
#include "cook/compress/quant/qat.h"
#include "cook/train/trainer.h"
#include "distill_test_util.h"

using namespace cook;
using namespace cook::compress::distill;

namespace {

// Every 2:4 mask zeroes exactly half of each group of four and the weight is zero wherever its mask is.
void expect_masks_hold(const prune::PruningPass& pass) {
  for (const auto& layer : pass.layers()) {
    ASSERT_TRUE(layer.layer->has_mask()) << layer.name;
    const torch::Tensor mask = layer.layer->mask();
    EXPECT_EQ(mask.sum().item<double>(), mask.numel() / 2.0) << layer.name;
    EXPECT_EQ(layer.layer->weight.masked_select(mask.eq(0)).abs().max().item<double>(), 0.0) << layer.name;
  }
}

TEST(DistillCombined, QuantizedAndPrunedStudentLearnsFromADenseTeacher) {
  model::GptJ student = test::distill_model(2, 32, 1);
  model::GptJ teacher_model = test::distill_model(4, 48, 2);

  quant::QuantOptions q;
  q.is_quant = true;
  const auto quantized = quant::apply_quantization(*student, q);
  ASSERT_EQ(quantized.size(), 2u * 6u);

  train::TrainerOptions o;
  o.steps = 20;
  o.progress = false;
  o.stop_on_signal = false;
  o.schedule.kind = train::ScheduleKind::Constant;
  o.schedule.start_lr = 3e-3;
  train::Trainer trainer(student, o, std::make_shared<test::PatternBatches>(2, 8, 3));

  prune::PruningOptions p;
  p.is_pruning = true;
  auto pruning = prune::make_pruning_pass(student, p, "pruning", nullptr);
  ASSERT_NE(pruning, nullptr);
  trainer.add_extension(pruning);

  DistillOptions d;
  d.ce_scale = 1.0;
  d.mse_hidn_scale = 1.0;
  d.kd_loss_scale = 10.0;  // the teacher is random: let distillation, not the task, lead
  auto distill = std::make_shared<DistillExtension>(Teacher(teacher_model), student, d);
  trainer.add_extension(distill);

  std::map<std::string, torch::Tensor> teacher_before;
  for (const auto& item : distill->teacher().model()->named_parameters())
    teacher_before[item.key()] = item.value().detach().clone();

  // The KD terms of the compressed student against the dense teacher, before and after training.
  auto kd_total = [&] {
    torch::NoGradGuard no_grad;
    test::PatternBatches source(2, 8, 9);
    train::Batch batch = source.make(0);
    model::ForwardInput in{batch.input_ids, batch.attention_mask, {}};
    distill->request(in.request);
    model::ForwardOutput out = student->forward(in);
    train::LossTerms terms;
    distill->add_losses(batch, out, terms);
    double total = 0.0;
    for (const auto& [name, value] : terms) total += value.item<double>();
    return total;
  };
  const double kd_before = kd_total();
  trainer.run();
  student->eval();
  const double kd_after = kd_total();
  EXPECT_LT(kd_after, kd_before);

  expect_masks_hold(*pruning);
  for (const auto& item : student->named_modules()) {
    auto linear = std::dynamic_pointer_cast<nn::LinearImpl>(item.value());
    if (!linear || item.key() == "lm_head") continue;
    EXPECT_NE(linear->weight_transform(), nullptr) << item.key() << " lost its quantizer";
  }
  // The teacher stayed dense and untouched.
  for (const auto& item : distill->teacher().model()->named_modules()) {
    auto linear = std::dynamic_pointer_cast<nn::LinearImpl>(item.value());
    if (!linear) continue;
    EXPECT_FALSE(linear->has_mask()) << item.key();
    EXPECT_EQ(linear->weight_transform(), nullptr) << item.key();
  }
  for (const auto& item : distill->teacher().model()->named_parameters())
    EXPECT_TRUE(torch::equal(item.value(), teacher_before.at(item.key()))) << item.key();
}

}  // namespace
