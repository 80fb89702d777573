// The distillation extension on real (tiny) models: what it asks of both forwards, the layer map
// and projection shapes for unequal depth and width, zero terms when student = teacher, a frozen
// teacher, training through the Trainer with the projection saved and restored by a resume, and
// --init-with-teacher's copy.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "../train/train_test_util.h"
#include "cook/compress/distill/extension.h"
#include "cook/core/error.h"
#include "cook/train/trainer.h"
#include "cook/weights/checkpoint.h"
#include "distill_test_util.h"

using namespace cook;
using namespace cook::compress::distill;

namespace {

DistillOptions every_term() {
  DistillOptions o;
  o.ce_scale = 1.0;
  o.ce_temp = 2.0;
  o.mse_last_hidden_scale = 0.5;
  o.mse_hidn_scale = 2.0;
  o.mse_att_scale = 0.25;
  o.mse_emb_scale = 3.0;
  return o;
}

train::Batch padded_batch() {
  test::PatternBatches source(3, 12, 5);
  train::Batch b = source.make(0);
  b.attention_mask = model::ForwardInput::mask_from_lengths(torch::tensor({12, 9, 5}, torch::kInt64), 12);
  b.labels = b.labels.masked_fill(b.attention_mask.eq(0), train::kIgnoreLabel);
  return b;
}

std::map<std::string, double> values(const train::LossTerms& terms) {
  std::map<std::string, double> v;
  for (const auto& [name, t] : terms) v[name] = t.item<double>();
  return v;
}

model::ForwardOutput student_forward(model::GptJ& student, const DistillExtension& ext, const train::Batch& b) {
  model::ForwardInput in{b.input_ids, b.attention_mask, {}};
  ext.request(in.request);
  return student->forward(in);
}

}  // namespace

TEST(DistillExtension, UnequalDepthAndWidthGetALayerMapAndProjections) {
  model::GptJ student = test::distill_model(2, 32, 1);
  DistillExtension ext(Teacher(test::distill_model(4, 48, 2)), student, every_term());
  ASSERT_EQ(ext.hidden_pairs().size(), 2u);
  EXPECT_EQ(ext.hidden_pairs()[0].student.name(), "blocks.0");
  EXPECT_EQ(ext.hidden_pairs()[0].teacher.name(), "blocks.1");
  EXPECT_EQ(ext.hidden_pairs()[1].teacher.name(), "blocks.3");
  EXPECT_EQ(ext.attention_pairs(), (std::vector<LayerPair>{{0, 1}, {1, 3}}));
  std::vector<std::string> keys;
  for (const auto& [k, w] : ext.projections()) {
    keys.push_back(k);
    EXPECT_EQ(w.sizes(), (std::vector<int64_t>{48, 32})) << k;
    EXPECT_TRUE(w.requires_grad());
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"emb", "hidn.0", "hidn.1", "last_hidden"}));
  ASSERT_EQ(ext.parameter_groups().size(), 1u);
  EXPECT_EQ(ext.parameter_groups()[0].params.size(), 4u);

  const train::Batch batch = padded_batch();
  model::ForwardOutput out = student_forward(student, ext, batch);
  EXPECT_EQ(out.hidden_states.size(), 2u);
  EXPECT_EQ(out.attention_scores.size(), 2u);
  EXPECT_TRUE(out.embedding.defined() && out.final_hidden.defined());
  train::LossTerms terms;
  ext.add_losses(batch, out, terms);
  auto v = values(terms);
  for (const char* name : {"kd_ce_logits", "kd_mse_last_hidden", "kd_mse_hidn", "kd_mse_att", "kd_mse_emb"}) {
    ASSERT_TRUE(v.count(name)) << name;
    EXPECT_TRUE(std::isfinite(v[name]) && v[name] > 0) << name << " " << v[name];
  }
  torch::Tensor total = terms[0].second;
  for (size_t i = 1; i < terms.size(); ++i) total = total + terms[i].second;
  total.backward();
  for (const auto& [k, w] : ext.projections()) EXPECT_TRUE(w.grad().defined() && w.grad().abs().sum().item<double>() > 0) << k;
  // The teacher is frozen: no gradient reaches it.
  for (const auto& p : ext.teacher().model()->parameters()) {
    EXPECT_FALSE(p.requires_grad());
    EXPECT_FALSE(p.grad().defined());
  }
  EXPECT_FALSE(ext.teacher().model()->is_training());
}

TEST(DistillExtension, EachTermIsScaledByItsScaleAndTheKdScale) {
  model::GptJ student = test::distill_model(2, 32, 3);
  model::GptJ teacher = test::distill_model(2, 32, 4);
  const train::Batch batch = padded_batch();
  DistillOptions unit = every_term();
  unit.ce_scale = unit.mse_last_hidden_scale = unit.mse_hidn_scale = unit.mse_att_scale = unit.mse_emb_scale = 1.0;
  DistillExtension plain(Teacher(teacher), student, unit);
  DistillOptions scaled = every_term();
  scaled.kd_loss_scale = 0.5;
  DistillExtension ext(Teacher(teacher), student, scaled);
  EXPECT_TRUE(ext.projections().empty());  // equal widths and no mse_hidn_proj
  train::LossTerms a, b;
  plain.add_losses(batch, student_forward(student, plain, batch), a);
  ext.add_losses(batch, student_forward(student, ext, batch), b);
  auto va = values(a), vb = values(b);
  EXPECT_NEAR(vb["kd_ce_logits"], 0.5 * 1.0 * va["kd_ce_logits"], 1e-6 * va["kd_ce_logits"]);
  EXPECT_NEAR(vb["kd_mse_last_hidden"], 0.5 * 0.5 * va["kd_mse_last_hidden"], 1e-6 * va["kd_mse_last_hidden"]);
  EXPECT_NEAR(vb["kd_mse_hidn"], 0.5 * 2.0 * va["kd_mse_hidn"], 1e-6 * va["kd_mse_hidn"]);
  EXPECT_NEAR(vb["kd_mse_att"], 0.5 * 0.25 * va["kd_mse_att"], 1e-6 * va["kd_mse_att"]);
  EXPECT_NEAR(vb["kd_mse_emb"], 0.5 * 3.0 * va["kd_mse_emb"], 1e-6 * va["kd_mse_emb"]);
}

TEST(DistillExtension, EveryTermIsZeroWhenStudentEqualsTeacher) {
  model::GptJ student = test::distill_model(2, 32, 5);
  model::GptJ teacher = test::distill_model(2, 32, 5);
  DistillOptions o = every_term();
  o.mse_normalize = true;
  o.mse_hidn_module = {"embed", "blocks.0", "blocks.1", "ln_f"};
  DistillExtension ext(Teacher(teacher), student, o);
  const train::Batch batch = padded_batch();
  train::LossTerms terms;
  ext.add_losses(batch, student_forward(student, ext, batch), terms);
  ASSERT_EQ(terms.size(), 5u);
  for (const auto& [name, t] : terms) EXPECT_NEAR(t.item<double>(), 0.0, 1e-6) << name;
}

// BMCook V3's hidden-state term (bmcook/distilling/__init__.py), in float64: each side divided by
// the mean L2 norm of its tokens, the mean of the squared differences, summed over the pairs.
double bmcook_v3_hidden_term(const std::vector<std::pair<torch::Tensor, torch::Tensor>>& pairs) {
  double sum = 0;
  for (const auto& [s, t] : pairs) {
    const torch::Tensor s64 = s.to(torch::kFloat64), t64 = t.to(torch::kFloat64);
    const torch::Tensor s_norm = s64 / s64.norm(2, -1).mean(), t_norm = t64 / t64.norm(2, -1).mean();
    sum += (s_norm - t_norm).pow(2).mean().item<double>();
  }
  return sum;
}

TEST(DistillExtension, HiddenTermIsBmcookV3sNormalizedMseSummedOverThePairs) {
  model::GptJ student = test::distill_model(2, 32, 7);
  model::GptJ teacher = test::distill_model(4, 32, 8);
  DistillOptions o;  // the defaults: normalized, as V3 always does
  o.mse_hidn_scale = 1.0;
  DistillExtension ext(Teacher(teacher), student, o);
  test::PatternBatches source(2, 12, 5);
  const train::Batch batch = source.make(0);  // no padding: BMCook averages over every position
  const model::ForwardOutput s = student_forward(student, ext, batch);
  train::LossTerms terms;
  ext.add_losses(batch, s, terms);
  const double cook_term = values(terms).at("kd_mse_hidn");

  model::ForwardInput in{batch.input_ids, batch.attention_mask, {}};
  in.request.hidden_states = true;
  const model::ForwardOutput t = teacher->forward(in);
  ASSERT_EQ(ext.hidden_pairs().size(), 2u);  // blocks.0 ↔ blocks.1, blocks.1 ↔ blocks.3
  const double reference = bmcook_v3_hidden_term({{s.hidden_states[0], t.hidden_states[1]},
                                                  {s.hidden_states[1], t.hidden_states[3]}});
  EXPECT_NEAR(cook_term, reference, 1e-5 * reference);
  // Averaging the pairs instead of summing them, or comparing raw states, is another term.
  EXPECT_GT(std::abs(cook_term - reference / 2), 0.1 * reference);
  DistillOptions raw = o;
  raw.mse_normalize = false;
  DistillExtension raw_ext(Teacher(teacher), student, raw);
  train::LossTerms raw_terms;
  raw_ext.add_losses(batch, s, raw_terms);
  EXPECT_GT(std::abs(values(raw_terms).at("kd_mse_hidn") - reference), 0.1 * reference);
}

TEST(DistillExtension, ComparisonsThatCannotBeMadeAreErrors) {
  model::GptJ student = test::distill_model(2, 32, 1);
  DistillOptions att;
  att.mse_att_scale = 1.0;
  try {
    std::make_unique<DistillExtension>(Teacher(test::distill_model(2, 32, 2, 8)), student, att, "cfg");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cfg: mse_att_scale: the student has 4 attention heads, the teacher 8"),
              std::string::npos)
        << e.what();
  }
  DistillOptions hidn;
  hidn.mse_hidn_scale = 1.0;
  hidn.mse_hidn_module = {"blocks.2"};
  EXPECT_THROW(std::make_unique<DistillExtension>(Teacher(test::distill_model(4, 32, 2)), student, hidn), Error);
  EXPECT_THROW(std::make_unique<DistillExtension>(Teacher(test::distill_model(2, 32, 2)), student, DistillOptions{}), Error);
  model::ModelConfig other_vocab = test::distill_config(2, 32);
  other_vocab.vocab_size = 101;
  DistillOptions ce;
  ce.ce_scale = 1.0;
  EXPECT_THROW(std::make_unique<DistillExtension>(Teacher(model::GptJ(other_vocab)), student, ce), Error);
}

TEST(DistillExtension, TeacherLoadsFromItsCheckpoint) {
  const std::string dir = test::temp_dir("distill-teacher");
  model::GptJ teacher = test::distill_model(3, 48, 9);
  weights::save_checkpoint(dir + "/teacher.safetensors", *teacher, teacher->config());
  Teacher loaded = Teacher::load(dir + "/teacher.safetensors", std::nullopt, torch::kCPU, torch::kFloat32);
  EXPECT_EQ(loaded.config().n_layer, 3);
  EXPECT_TRUE(test::same_parameters(*loaded.model(), *teacher));
  EXPECT_FALSE(loaded.model()->is_training());
  // In the student's dtype when the student computes in bfloat16.
  Teacher bf16 = Teacher::load(dir + "/teacher.safetensors", std::nullopt, torch::kCPU, torch::kBFloat16);
  EXPECT_EQ(bf16.model()->parameters().front().scalar_type(), torch::kBFloat16);
  try {
    Teacher::load(dir + "/missing.safetensors", std::nullopt, torch::kCPU, torch::kFloat32);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.safetensors"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(DistillExtension, TrainsAndTheProjectionSurvivesAResume) {
  const std::string dir = test::temp_dir("distill-resume");
  auto make_trainer = [&](model::GptJ student, std::shared_ptr<DistillExtension>& ext) {
    train::TrainerOptions o;
    o.steps = 4;
    o.save_interval = 2;
    o.log_interval = 1;
    o.save_dir = dir;
    o.progress = false;
    o.stop_on_signal = false;
    o.schedule.kind = train::ScheduleKind::Constant;
    o.schedule.start_lr = 1e-2;
    auto trainer = std::make_unique<train::Trainer>(student, o, std::make_shared<test::PatternBatches>(2, 8, 3));
    DistillOptions d;
    d.ce_scale = 1.0;
    d.mse_hidn_scale = 1.0;
    ext = std::make_shared<DistillExtension>(Teacher(test::distill_model(4, 48, 2)), student, d);
    trainer->add_extension(ext);
    return trainer;
  };
  std::shared_ptr<DistillExtension> ext;
  auto trainer = make_trainer(test::distill_model(2, 32, 1), ext);
  const torch::Tensor initial = ext->projections().at("hidn.0").detach().clone();
  trainer->run();
  const torch::Tensor trained = ext->projections().at("hidn.0").detach().clone();
  EXPECT_FALSE(torch::equal(initial, trained)) << "the optimizer did not train the projection";
  std::ifstream metrics(dir + "/metrics.jsonl");
  const nlohmann::json first = nlohmann::json::parse([&] {
    std::string line;
    std::getline(metrics, line);
    return line;
  }());
  EXPECT_TRUE(first.contains("kd_ce_logits") && first.contains("kd_mse_hidn")) << first.dump();
  EXPECT_NEAR(first.at("loss").get<double>(),
              first.at("lm_loss").get<double>() + first.at("kd_ce_logits").get<double>() +
                  first.at("kd_mse_hidn").get<double>(),
              1e-4);

  std::shared_ptr<DistillExtension> resumed_ext;
  auto resumed = make_trainer(test::distill_model(2, 32, 77), resumed_ext);
  EXPECT_FALSE(torch::equal(resumed_ext->projections().at("hidn.0"), trained));
  resumed->resume("latest");
  EXPECT_TRUE(torch::equal(resumed_ext->projections().at("hidn.0"), trained));
  EXPECT_TRUE(torch::equal(resumed_ext->projections().at("hidn.1"), ext->projections().at("hidn.1")));

  // A checkpoint written without the projection cannot silently resume into a run that needs it.
  std::map<std::string, torch::Tensor> none;
  EXPECT_THROW(resumed_ext->load_state(none, nlohmann::json::object()), Error);
  std::filesystem::remove_all(dir);
}

TEST(DistillExtension, InitWithTeacherCopiesMappedBlocks) {
  model::GptJ teacher = test::distill_model(4, 32, 11);
  model::GptJ student = test::distill_model(2, 32, 12);
  init_student_from_teacher(student, teacher, InitBlock::FirstOfGroup);  // BMCook's even blocks
  auto s = student->named_parameters(), t = teacher->named_parameters();
  EXPECT_TRUE(torch::equal(s["embed.weight"], t["embed.weight"]));
  EXPECT_TRUE(torch::equal(s["lm_head.weight"], t["lm_head.weight"]));
  EXPECT_TRUE(torch::equal(s["blocks.0.attn.q_proj.weight"], t["blocks.0.attn.q_proj.weight"]));
  EXPECT_TRUE(torch::equal(s["blocks.1.ffn.fc_in.weight"], t["blocks.2.ffn.fc_in.weight"]));
  init_student_from_teacher(student, teacher, InitBlock::LastOfGroup);  // the layer map's blocks
  EXPECT_TRUE(torch::equal(s["blocks.0.attn.q_proj.weight"], t["blocks.1.attn.q_proj.weight"]));
  EXPECT_TRUE(torch::equal(s["blocks.1.ffn.fc_in.weight"], t["blocks.3.ffn.fc_in.weight"]));
  model::GptJ wide = test::distill_model(2, 48, 13);
  try {
    init_student_from_teacher(wide, teacher, InitBlock::FirstOfGroup);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("differ in shape"), std::string::npos) << e.what();
  }
}
