// cook train's distillation flags: the teacher, --init-with-teacher and the KD extension.
#include "cook/cli/train_distill.h"

#include <CLI/CLI.hpp>

#include <cmath>
#include <iostream>
#include <optional>

#include "cook/cli/model_setup.h"
#include "cook/compress/distill/extension.h"
#include "cook/core/error.h"
#include "cook/train/trainer.h"

namespace cook::cli {

namespace {

using compress::distill::DistillOptions;

bool given(const CLI::App& cmd, const char* flag) { return cmd.get_option(flag)->count() > 0; }

DistillOptions options_from_flags(const CLI::App& cmd, const DistillArgs& a) {
  const char* term_flags[] = {"--kd-ce-logits", "--kd-mse-last-hidden", "--kd-mse-hidn", "--kd-mse-att", "--kd-mse-emb"};
  DistillOptions o;
  if (!a.kd_config.empty()) {
    for (const char* flag : term_flags)
      if (given(cmd, flag)) throw Error(flag, "give the terms by flags or by --kd-config, not both");
    if (given(cmd, "--kd-temp")) throw Error("--kd-temp", "--kd-config sets the temperature (ce_temp)");
    o = compress::distill::read_distill_options(a.kd_config);
  } else {
    if (a.kd_ce_logits) o.ce_scale = 1.0;
    if (a.kd_mse_last_hidden) o.mse_last_hidden_scale = 1.0;
    if (a.kd_mse_hidn) o.mse_hidn_scale = 1.0;
    if (a.kd_mse_att) o.mse_att_scale = 1.0;
    if (a.kd_mse_emb) o.mse_emb_scale = 1.0;
    o.ce_temp = a.kd_temp;
    if (!o.any_term())
      throw Error("--use-kd", "no distillation term chosen: add --kd-ce-logits, --kd-mse-last-hidden, --kd-mse-hidn, "
                              "--kd-mse-att or --kd-mse-emb (or --kd-config)");
  }
  if (a.kd_config.empty() || given(cmd, "--kd-loss-scale")) o.kd_loss_scale = a.kd_loss_scale;
  if (!(a.kd_loss_scale >= 0) || !std::isfinite(a.kd_loss_scale))
    throw Error("--kd-loss-scale", "must be a finite number >= 0");
  if (!(o.ce_temp > 0) || !std::isfinite(o.ce_temp)) throw Error("--kd-temp", "must be a finite number > 0");
  return o;
}

}  // namespace

void add_distill_options(CLI::App& cmd, DistillArgs& a) {
  cmd.add_flag("--use-kd", a.use_kd, "Use knowledge distillation (needs --load-teacher and a term)");
  cmd.add_option("--kd-loss-scale", a.kd_loss_scale, "KD loss is multiplied by this")->capture_default_str();
  cmd.add_option("--kd-temp", a.kd_temp, "Temperature of the soft cross-entropy")->capture_default_str();
  cmd.add_flag("--kd-ce-logits", a.kd_ce_logits, "Soft cross-entropy on the teacher's logits");
  cmd.add_flag("--kd-mse-last-hidden", a.kd_mse_last_hidden, "MSE on the last hidden state (after ln_f)");
  cmd.add_flag("--kd-mse-hidn", a.kd_mse_hidn, "MSE on the hidden states (uniform layer map)");
  cmd.add_flag("--kd-mse-att", a.kd_mse_att, "MSE on the pre-softmax attention scores (uniform layer map)");
  cmd.add_flag("--kd-mse-emb", a.kd_mse_emb, "MSE on the embedding outputs");
  cmd.add_option("--kd-config", a.kd_config, "BMCook config JSON whose \"distillation\" section gives the terms");
  cmd.add_option("--load-teacher", a.load_teacher, "Teacher checkpoint (HF folder, Cook .safetensors, BMCook .bin)");
  cmd.add_option("--teacher-model", a.teacher_model, "Preset of the teacher (needed for a BMCook .bin)");
  cmd.add_flag("--init-with-teacher", a.init_with_teacher, "Initialize the student with the teacher's weights");
  cmd.add_option("--init-teacher-blocks", a.init_teacher_blocks,
                 "Student block j copies the first (BMCook) or last teacher block of its group j*r .. (j+1)*r-1")
      ->check(CLI::IsMember({"first", "last"}))
      ->capture_default_str();
}

void setup_distillation(const CLI::App& cmd, const DistillArgs& a, train::Trainer& trainer) {
  if (given(cmd, "--init-teacher-blocks") && !a.init_with_teacher)
    throw Error("--init-teacher-blocks", "needs --init-with-teacher");
  if (!a.use_kd) {
    for (const char* flag : {"--kd-loss-scale", "--kd-temp", "--kd-ce-logits", "--kd-mse-last-hidden", "--kd-mse-hidn",
                             "--kd-mse-att", "--kd-mse-emb", "--kd-config"})
      if (given(cmd, flag)) throw Error(flag, "needs --use-kd");
  }
  if (a.load_teacher.empty()) {
    if (a.use_kd) throw Error("--use-kd", "needs --load-teacher (the teacher's checkpoint)");
    if (a.init_with_teacher) throw Error("--init-with-teacher", "needs --load-teacher (the teacher's checkpoint)");
    if (given(cmd, "--teacher-model")) throw Error("--teacher-model", "needs --load-teacher");
    return;
  }
  if (!a.use_kd && !a.init_with_teacher)
    throw Error("--load-teacher", "the teacher is used by --use-kd or --init-with-teacher; give one of them");
  DistillOptions options;
  if (a.use_kd) options = options_from_flags(cmd, a);

  model::GptJ& student = trainer.model();
  const torch::Tensor first = student->parameters().front();
  std::optional<std::string> preset;
  if (!a.teacher_model.empty()) preset = a.teacher_model;
  compress::distill::Teacher teacher = [&] {
    try {
      return compress::distill::Teacher::load(a.load_teacher, preset, first.device(), first.scalar_type());
    } catch (const std::exception& e) {
      rethrow_with_context("--load-teacher", e);
    }
  }();
  std::cout << "teacher: " << a.load_teacher << " (" << teacher.config().n_layer << " layers, d_model "
            << teacher.config().d_model << ")\n";
  if (a.init_with_teacher)
    compress::distill::init_student_from_teacher(
        student, teacher.model(), compress::distill::parse_init_block(a.init_teacher_blocks, "--init-teacher-blocks"));
  if (a.use_kd)
    trainer.add_extension(std::make_shared<compress::distill::DistillExtension>(std::move(teacher), student,
                                                                                std::move(options),
                                                                                a.kd_config.empty() ? "--use-kd" : a.kd_config + ": distillation"));
}

}  // namespace cook::cli
