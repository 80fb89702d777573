// BMCook's distillation flags for `cook train` and what they set up: the teacher, the optional
// student initialization from it, and the distillation extension on the trainer.
//   --use-kd --load-teacher T [--teacher-model PRESET] [--kd-loss-scale S] [--kd-temp T]
//   [--kd-ce-logits] [--kd-mse-last-hidden] [--kd-mse-hidn] [--kd-mse-att] [--kd-mse-emb]
//   [--kd-config BMCOOK.json] [--init-with-teacher [--init-teacher-blocks first|last]]
// Each --kd-* term flag turns its term on with scale 1 (uniform layer map); --kd-config reads the
// terms from a BMCook config's "distillation" section instead (not both).
#pragma once
#include <string>

namespace CLI {
class App;
}
namespace cook::train {
class Trainer;
}

namespace cook::cli {

struct DistillArgs {
  bool use_kd = false;
  double kd_loss_scale = 1.0;
  double kd_temp = 1.0;
  bool kd_ce_logits = false, kd_mse_last_hidden = false, kd_mse_hidn = false, kd_mse_att = false, kd_mse_emb = false;
  std::string kd_config;
  std::string load_teacher;
  std::string teacher_model;  // preset of a BMCook .bin teacher
  bool init_with_teacher = false;
  std::string init_teacher_blocks = "first";  // first: BMCook's init_student; last: the layer map's blocks
};

void add_distill_options(CLI::App& cmd, DistillArgs& args);

// Checks the flags (an error names the flag), then: loads the teacher, initializes the student
// from it (--init-with-teacher) and adds the distillation extension (--use-kd). Call after the
// trainer is built and before it resumes or runs; does nothing when no flag is given.
void setup_distillation(const CLI::App& cmd, const DistillArgs& args, train::Trainer& trainer);

}  // namespace cook::cli
