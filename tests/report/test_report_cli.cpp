// `cook report` end to end through the built binary on the tiny model: a dense checkpoint, its
// 2:4-pruned twin and its int8 artefact; errors name the flag or file at fault.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "../common/cli_corpus.h"
#include "cook/model/gptj.h"
#include "cook/weights/checkpoint.h"

namespace fs = std::filesystem;
using namespace cook;

namespace {

test::CommandResult run(const std::string& args) { return test::run_cook(args); }

class ReportCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::getenv("COOK_CLI")) GTEST_SKIP() << "COOK_CLI is not set (ctest sets it to the built cook)";
    dir_ = fs::temp_directory_path() / ("cook-report-cli-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    test::CommandResult prep = test::prepare_sotu_corpus(dir_, data(), 100, {"1900_a_x.txt", "1995_c_z.txt"});
    ASSERT_EQ(prep.status, 0) << prep.output;
    model::GptJ model(model::preset("tiny"));
    model->init_weights(0.05, 3);
    weights::save_checkpoint(path("dense.safetensors"), *model, model->config());
    test::CommandResult prune = run("prune masks --load " + path("dense.safetensors") + " --method m4n2_1d --output " +
                                    path("masks.safetensors") + " --save-model " + path("pruned.safetensors"));
    ASSERT_EQ(prune.status, 0) << prune.output;
    test::CommandResult q8 = run("export --int8 --load " + path("dense.safetensors") + " --out " + path("q8.safetensors"));
    ASSERT_EQ(q8.status, 0) << q8.output;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static std::string data() { return (dir_ / "tokens").string(); }
  static std::string path(const std::string& name) { return (dir_ / name).string(); }
  static inline fs::path dir_;
};

std::string quick() {
  return " --seq-len 32 --batch-size 2 --eval-batches 2 --speed-prompt-len 8 --speed-decode-tokens 4"
         " --speed-decode-batches 1,4 --speed-prefill-len 32 --speed-warmup 0 --speed-repeats 1 --no-plots";
}

}  // namespace

TEST_F(ReportCli, MeasuresEveryModelAndWritesTheReport) {
  const std::string out = path("report");
  test::CommandResult r = run("report --reference " + path("dense.safetensors") + " --model 2:4=" +
                              path("pruned.safetensors") + " --model int8=" + path("q8.safetensors") +
                              " --artefact 2:4=" + path("masks.safetensors") + " --passes int8=Q+D --data " + data() +
                              " --out " + out + quick());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("| 2:4 | P |"), std::string::npos) << r.output;  // detected from the zeros
  EXPECT_NE(r.output.find("| int8 | Q+D |"), std::string::npos) << r.output;  // as given
  EXPECT_NE(r.output.find("plots skipped: not asked for"), std::string::npos) << r.output;
  std::ifstream in(out + "/report.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  ASSERT_EQ(j.at("rows").size(), 3u);
  const auto& dense = j.at("rows")[0];
  const auto& pruned = j.at("rows")[1];
  const auto& q8 = j.at("rows")[2];
  EXPECT_EQ(dense.at("name"), "dense");
  EXPECT_EQ(dense.at("kl").get<double>(), 0.0);
  EXPECT_EQ(dense.at("top1_agreement").get<double>(), 1.0);
  EXPECT_EQ(dense.at("artefact_bytes").get<int64_t>(), static_cast<int64_t>(fs::file_size(path("dense.safetensors"))));
  EXPECT_EQ(pruned.at("artefact_bytes").get<int64_t>(),
            static_cast<int64_t>(fs::file_size(path("pruned.safetensors")) + fs::file_size(path("masks.safetensors"))));
  EXPECT_LT(pruned.at("nonzero_parameters").get<int64_t>(), dense.at("nonzero_parameters").get<int64_t>());
  EXPECT_LT(q8.at("artefact_bytes").get<int64_t>(), dense.at("artefact_bytes").get<int64_t>());
  for (const auto& row : {pruned, q8}) {
    EXPECT_DOUBLE_EQ(row.at("relative_performance").get<double>(),
                     dense.at("loss").get<double>() / row.at("loss").get<double>());
    EXPECT_EQ(row.at("eval_tokens"), dense.at("eval_tokens"));
    ASSERT_EQ(row.at("speed").at("decode").size(), 2u);
    EXPECT_EQ(row.at("speed").at("decode")[1].at("batch"), 4);
    EXPECT_GT(row.at("speed").at("decode")[1].at("speedup").get<double>(), 0.0);
    EXPECT_GT(row.at("speed").at("prefill").at("tokens_per_second").get<double>(), 0.0);
  }
  EXPECT_EQ(j.at("settings").at("speed").at("decode_batches"), nlohmann::json::array({1, 4}));
  EXPECT_TRUE(fs::exists(out + "/report.md"));
}

TEST_F(ReportCli, ErrorsNameTheFlagOrFile) {
  struct Case {
    std::string args, expected;
  };
  const std::string base = "report --reference " + path("dense.safetensors") + " --data " + data() + " --out " +
                           path("bad") + quick();
  for (const Case& c : std::vector<Case>{
           {base + " --model pruned", "--model: 'pruned' is not NAME=PATH"},
           {base + " --model p=/nonexistent/p.safetensors", "--model: p=/nonexistent/p.safetensors: /nonexistent/p.safetensors: no such file"},
           {base + " --model dense=" + path("q8.safetensors"), "--model: the name 'dense' is used twice"},
           {base + " --passes nobody=P", "--passes: 'nobody' is not the name of the reference or of a --model"},
           {base + " --artefact dense=/nonexistent/extra.bin", "/nonexistent/extra.bin: no such file or folder"},
           {base + " --moe-models x", "--moe-models: is given without --moe"},
           {base + " --speed-prompt-len 253", "--speed-decode-tokens: 253 prompt + 4 decoded tokens exceed the model's context of 256"},
           {base + " --speed-decode-batches 0", "--speed-decode-batches: must be positive"},
           {base + " --seq-len 300", "--seq-len: 300 is longer than the model's context of 256"},
           {"report --reference /nonexistent/dense.safetensors --data " + data() + " --out " + path("bad"), "--reference: /nonexistent/dense.safetensors: no such file"},
           {"report --reference " + path("dense.safetensors") + " --data /nonexistent/tokens --out " + path("bad"), "/nonexistent/tokens"},
           {"report --reference " + path("dense.safetensors") + " --data " + data(), "--out is required"},
       }) {
    test::CommandResult r = run(c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << "\n" << r.output;
  }
  test::CommandResult help = run("report --help");
  EXPECT_EQ(help.status, 0);
  for (const char* flag : {"--reference", "--model", "--passes", "--eval-batches", "--speed-decode-batches", "--moe-models"})
    EXPECT_NE(help.output.find(flag), std::string::npos) << flag;
}
