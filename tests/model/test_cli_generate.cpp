// `cook generate` end to end: the built binary (COOK_CLI under ctest) continues a prompt with a
// saved tiny model exactly as infer::generate does in process; bad options are errors naming them.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/CPUGeneratorImpl.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/run_command.h"
#include "cook/core/paths.h"
#include "cook/infer/generate.h"
#include "cook/model/gptj.h"
#include "cook/text/tokenizer.h"
#include "cook/weights/checkpoint.h"

namespace cook::infer {
namespace {

namespace fs = std::filesystem;


class CliGenerate : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env = std::getenv("COOK_CLI");
    cli_ = env ? env : std::string(COOK_BINARY_DIR) + "/cook";
    if (env == nullptr && !fs::exists(cli_)) GTEST_SKIP() << "the cook binary is not built (" << cli_ << ")";
    if (!fs::is_directory(default_tokenizer_dir())) GTEST_SKIP() << "no tokenizer at " << default_tokenizer_dir();
    dir_ = fs::temp_directory_path() / ("cook_cli_generate_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    model_ = model::GptJ(model::preset("tiny"));
    model_->init_weights(0.5, 3);
    model_->eval();
    ckpt_ = (dir_ / "tiny.safetensors").string();
    weights::save_checkpoint(ckpt_, *model_, model_->config());
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string base() const { return cook::test::shell_quote(cli_) + " generate --load " + cook::test::shell_quote(ckpt_) + " --model tiny"; }

  std::string cli_, ckpt_;
  fs::path dir_;
  model::GptJ model_{nullptr};
};

TEST_F(CliGenerate, PrintsWhatGenerateComputesInProcess) {
  const text::Tokenizer tok = text::Tokenizer::from_dir(default_tokenizer_dir());
  const std::string prompt = "The quick brown fox";
  const std::vector<int32_t> ids32 = tok.encode(prompt);
  for (const std::string& mode : {std::string("--greedy"), std::string("--temperature 0.8 --top-k 50 --top-p 0.9")}) {
    GenerateOptions o;
    o.max_new_tokens = 12;
    o.stop_id = tok.end_of_text_id();
    o.vocab_limit = tok.vocab_size();
    if (mode == "--greedy") {
      o.sampling.greedy = true;
    } else {
      o.sampling.temperature = 0.8;
      o.sampling.top_k = 50;
      o.sampling.top_p = 0.9;
    }
    at::Generator gen = at::detail::createCPUGenerator(17);
    const std::vector<int64_t> out = generate(*model_, std::vector<int64_t>(ids32.begin(), ids32.end()), o, gen);
    ASSERT_FALSE(out.empty());
    const std::string expected = tok.decode(std::vector<int32_t>(out.begin(), out.end())) + "\n";
    const cook::test::CommandResult r =
        cook::test::run_command(base() + " --prompt " + cook::test::shell_quote(prompt) + " --max-new-tokens 12 --seed 17 " + mode);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output, expected) << mode;
  }
  // --prompt-file reads the same prompt.
  const std::string file = (dir_ / "prompt.txt").string();
  { std::ofstream(file) << prompt; }
  const cook::test::CommandResult a = cook::test::run_command(base() + " --prompt " + cook::test::shell_quote(prompt) + " --greedy --max-new-tokens 5");
  const cook::test::CommandResult b = cook::test::run_command(base() + " --prompt-file " + cook::test::shell_quote(file) + " --greedy --max-new-tokens 5");
  ASSERT_EQ(a.status, 0) << a.output;
  EXPECT_EQ(a.output, b.output);
}

TEST_F(CliGenerate, BadOptionsAreErrorsNamingTheOption) {
  struct Case {
    std::string args, option;
  };
  std::string long_prompt;
  for (int i = 0; i < 300; ++i) long_prompt += " x";  // 300 tokens, the context is 256
  const std::vector<Case> cases = {
      {"--prompt hi --top-p 0", "--top-p"},
      {"--prompt hi --top-p 1.5", "--top-p"},
      {"--prompt hi --top-k -1", "--top-k"},
      {"--prompt ''", "--prompt"},
      {"--prompt " + cook::test::shell_quote(long_prompt), "--prompt"},
  };
  for (const Case& c : cases) {
    const cook::test::CommandResult r = cook::test::run_command(base() + " " + c.args);
    EXPECT_NE(r.status, 0) << c.args;
    EXPECT_NE(r.output.find(c.option), std::string::npos) << c.args << ": " << r.output;
  }
}

}  // namespace
}  // namespace cook::infer
