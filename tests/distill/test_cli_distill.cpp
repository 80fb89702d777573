// cook train's distillation flags end to end through the built `cook` binary: a KD run logs each
// term and resumes, --kd-config reads BMCook's section, --init-with-teacher, and every misuse is an
// error naming the flag or file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "../common/cli_corpus.h"
#include "cook/model/config.h"
#include "cook/model/gptj.h"
#include "cook/weights/checkpoint.h"

namespace fs = std::filesystem;
using namespace cook;

namespace {

test::CommandResult run(const std::string& args) { return test::run_cook(args); }

// A teacher of the tiny preset's vocabulary with other depth and width.
void write_teacher(const fs::path& path, int64_t layers, int64_t width, int64_t heads = 4) {
  model::ModelConfig c = model::preset("tiny");
  c.n_layer = layers;
  c.d_model = width;
  c.n_head = heads;
  c.d_ff = 4 * width;
  model::GptJ teacher(c);
  teacher->init_weights(0.02, 3);
  weights::save_checkpoint(path.string(), *teacher, c);
}

class CliDistill : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::getenv("COOK_CLI")) GTEST_SKIP() << "COOK_CLI is not set (ctest sets it to the built cook)";
    dir_ = fs::temp_directory_path() / ("cook-cli-distill-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    test::CommandResult prep = test::prepare_sotu_corpus(dir_, (dir_ / "tokens").string(), 300);
    ASSERT_EQ(prep.status, 0) << prep.output;
    write_teacher(dir_ / "deep-wide.safetensors", 4, 96);
    write_teacher(dir_ / "deep.safetensors", 4, 64);
    write_teacher(dir_ / "heads8.safetensors", 2, 64, 8);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string base() {
    return " train --model tiny --batch-size 2 --seq-len 32 --no-progress --start-lr 1e-3 --warmup 2 --eval-batches 1 --data " +
           (dir_ / "tokens").string();
  }
  static std::string teacher(const char* name = "deep-wide") { return " --load-teacher " + (dir_ / (std::string(name) + ".safetensors")).string(); }
  static inline fs::path dir_;
};

}  // namespace

TEST_F(CliDistill, KdRunLogsEachTermAndResumes) {
  const std::string save = (dir_ / "kd").string();
  test::CommandResult r = run(base() + teacher() + " --use-kd --kd-ce-logits --kd-mse-hidn --kd-mse-last-hidden"
                              " --kd-temp 2 --kd-loss-scale 0.5 --steps 2 --save-dir " + save);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("teacher: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("4 layers, d_model 96"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("trained to step 2"), std::string::npos) << r.output;
  std::ifstream metrics(save + "/metrics.jsonl");
  std::string line;
  std::getline(metrics, line);
  const nlohmann::json first = nlohmann::json::parse(line);
  for (const char* term : {"kd_ce_logits", "kd_mse_hidn", "kd_mse_last_hidden"})
    EXPECT_TRUE(first.contains(term) && first.at(term).get<double>() > 0) << term << " " << line;
  EXPECT_FALSE(first.contains("kd_mse_att") || first.contains("kd_mse_emb"));
  test::CommandResult resumed = run(base() + teacher() + " --use-kd --kd-ce-logits --kd-mse-hidn --kd-mse-last-hidden"
                                    " --kd-temp 2 --kd-loss-scale 0.5 --steps 3 --resume latest --save-dir " + save);
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("trained to step 3"), std::string::npos) << resumed.output;
  // Resuming with a term whose projection the checkpoint lacks is an error naming it.
  test::CommandResult other = run(base() + teacher() + " --use-kd --kd-ce-logits --kd-mse-emb --steps 4 --resume latest"
                                  " --save-dir " + save);
  EXPECT_NE(other.status, 0);
  EXPECT_NE(other.output.find("distill.proj.emb"), std::string::npos) << other.output;
}

TEST_F(CliDistill, KdConfigSectionAndInitWithTeacher) {
  const fs::path config = dir_ / "bmcook.json";
  std::ofstream(config) << R"({"distillation": {"ce_scale": 1, "ce_temp": 1, "mse_hidn_scale": 0.5,
      "mse_hidn_module": ["blocks.0:blocks.1", "ln_f"], "mse_hidn_proj": false, "mse_att_scale": 0.1,
      "mse_att_module": ["blocks.1.attn:blocks.3.attn"]}, "quantization": {"is_quant": false}})";
  const std::string save = (dir_ / "cfg").string();
  test::CommandResult r = run(base() + teacher("deep") + " --use-kd --kd-config " + config.string() +
                              " --init-with-teacher --steps 1 --save-dir " + save);
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream metrics(save + "/metrics.jsonl");
  std::string line;
  std::getline(metrics, line);
  EXPECT_NE(line.find("kd_mse_att"), std::string::npos) << line;
  EXPECT_NE(line.find("kd_mse_hidn"), std::string::npos) << line;

  // A shallower student of the same width (--n-layer), started from the teacher and distilled.
  test::CommandResult shallow = run(base() + teacher("deep") + " --n-layer 1 --init-with-teacher --use-kd --kd-mse-hidn"
                                    " --kd-mse-att --steps 1");
  ASSERT_EQ(shallow.status, 0) << shallow.output;

  // --init-with-teacher alone (no KD) starts the student from the teacher's mapped blocks.
  test::CommandResult init = run(base() + teacher("deep") + " --init-with-teacher --eval --steps 1");
  ASSERT_EQ(init.status, 0) << init.output;
  test::CommandResult teacher_eval =
      run("eval --load " + (dir_ / "deep.safetensors").string() + " --data " + (dir_ / "tokens").string() + " --seq-len 32 --batch-size 2 --max-batches 1");
  ASSERT_EQ(teacher_eval.status, 0) << teacher_eval.output;

  std::ofstream(dir_ / "bad-key.json") << R"({"distillation": {"ce_scale": 1, "ce_tmp": 2}})";
  std::ofstream(dir_ / "bad-module.json") << R"({"distillation": {"mse_hidn_scale": 1, "mse_hidn_module": ["[post]encoder.output_layernorm"]}})";
  struct Case {
    std::string args, expected;
  };
  for (const Case& c : std::vector<Case>{
           {" --use-kd --kd-config " + (dir_ / "bad-key.json").string(), "bad-key.json: distillation.ce_tmp: unknown key"},
           {" --use-kd --kd-config " + (dir_ / "bad-module.json").string(),
            "'encoder.output_layernorm' is not a student module (the student's hidden-state modules: embed, blocks.0 … blocks.1, ln_f)"},
           {" --use-kd --kd-config " + config.string() + " --kd-ce-logits", "--kd-ce-logits: give the terms by flags or by --kd-config"},
           {" --use-kd --kd-config " + (dir_ / "none.json").string(), "none.json: cannot open"},
       }) {
    test::CommandResult e = run(base() + teacher("deep") + c.args + " --steps 1");
    EXPECT_NE(e.status, 0) << c.args;
    EXPECT_NE(e.output.find(c.expected), std::string::npos) << c.args << "\n" << e.output;
  }
}

TEST_F(CliDistill, MisusedFlagsAreErrorsNamingTheFlag) {
  struct Case {
    std::string args, expected;
  };
  for (const Case& c : std::vector<Case>{
           {" --use-kd --kd-ce-logits", "--use-kd: needs --load-teacher"},
           {" --kd-ce-logits", "--kd-ce-logits: needs --use-kd"},
           {" --kd-temp 2", "--kd-temp: needs --use-kd"},
           {teacher(), "--load-teacher: the teacher is used by --use-kd or --init-with-teacher"},
           {" --init-with-teacher", "--init-with-teacher: needs --load-teacher"},
           {" --n-layer -1", "--n-layer: n_layer: must be positive"},
           {teacher() + " --use-kd", "--use-kd: no distillation term chosen"},
           {teacher() + " --use-kd --kd-ce-logits --kd-temp 0", "--kd-temp: must be a finite number > 0"},
           {teacher() + " --use-kd --kd-ce-logits --kd-loss-scale -1", "--kd-loss-scale: must be a finite number >= 0"},
           {" --load-teacher /nonexistent/teacher.safetensors --use-kd --kd-ce-logits", "--load-teacher: teacher: /nonexistent/teacher.safetensors"},
           {teacher() + " --init-with-teacher", "--init-with-teacher: student tensor"},
           {teacher("heads8") + " --use-kd --kd-mse-att", "the student has 4 attention heads, the teacher 8"},
       }) {
    test::CommandResult r = run(base() + c.args + " --steps 1");
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << "\n" << r.output;
  }
  test::CommandResult help = run("train --help");
  ASSERT_EQ(help.status, 0);
  for (const char* flag : {"--use-kd", "--kd-loss-scale", "--kd-temp", "--kd-ce-logits", "--kd-mse-last-hidden", "--kd-mse-hidn",
                           "--kd-mse-att", "--kd-mse-emb", "--kd-config", "--load-teacher", "--init-with-teacher"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
}
