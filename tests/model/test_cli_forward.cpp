// `cook forward` end to end: the built binary (COOK_CLI under ctest) on the gelu fixture matches
// Hugging Face's logits and hidden states; bad input files are errors naming the file and tensor.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <sys/wait.h>

#include "../common/run_command.h"
#include "model_test_util.h"

namespace cook::model {
namespace {

namespace fs = std::filesystem;

std::string cli_path() {
  if (const char* env = std::getenv("COOK_CLI")) return env;
  return std::string(COOK_BINARY_DIR) + "/cook";
}


class CliForward : public ::testing::Test {
 protected:
  void SetUp() override {
    cli_ = cli_path();
    if (std::getenv("COOK_CLI") == nullptr && !fs::exists(cli_)) {
      GTEST_SKIP() << "the cook binary is not built (" << cli_ << "); ctest sets COOK_CLI";
    }
    ASSERT_TRUE(fs::exists(cli_)) << "COOK_CLI=" << cli_ << " does not exist";
    dir_ = fs::temp_directory_path() / ("cook_cli_forward_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  std::string cli_;
  fs::path dir_;
};

TEST_F(CliForward, MatchesTransformersOnTheGeluFixture) {
  const std::string name = "gptj-tiny-gelu";
  const auto ref = test::read_reference(name);
  const std::string ids = (dir_ / "ids.safetensors").string();
  const std::string out = (dir_ / "out.safetensors").string();
  weights::save_safetensors(ids, weights::TensorMap{{"input_ids", ref.at("input_ids")},
                                                    {"attention_mask", ref.at("attention_mask")}});
  const cook::test::CommandResult r = cook::test::run_command(cook::test::shell_quote(cli_) + " forward --load " + cook::test::shell_quote(test::fixture_dir(name)) + " --input " + cook::test::shell_quote(ids) +
                          " --output " + cook::test::shell_quote(out) + " --hidden");
  ASSERT_EQ(r.status, 0) << r.output;

  const auto got = weights::load_safetensors(out).tensors;
  const torch::Tensor valid = ref.at("attention_mask").ne(0);
  auto rows = [&](const torch::Tensor& t) { return t.index({valid}); };
  ASSERT_TRUE(got.count("logits"));
  EXPECT_EQ(got.at("logits").scalar_type(), torch::kFloat32);
  EXPECT_EQ(got.at("logits").sizes(), ref.at("logits").sizes());
  EXPECT_LE(test::max_abs_diff(rows(got.at("logits")), rows(ref.at("logits"))), 1e-4);
  for (int i = 0; i <= 3; ++i) {
    const std::string key = "hidden_states." + std::to_string(i);
    ASSERT_TRUE(got.count(key)) << key;
    EXPECT_LE(test::max_abs_diff(rows(got.at(key)), rows(ref.at(key))), 1e-4) << key;
  }
  EXPECT_EQ(got.count("hidden_states.4"), 0u);

  // Without --hidden only the logits; without attention_mask the unpadded row 0 is the same.
  weights::save_safetensors(ids, weights::TensorMap{{"input_ids", ref.at("input_ids")}});
  const cook::test::CommandResult plain = cook::test::run_command(cook::test::shell_quote(cli_) + " forward --load " + cook::test::shell_quote(test::fixture_dir(name)) + " --input " +
                              cook::test::shell_quote(ids) + " --output " + cook::test::shell_quote(out));
  ASSERT_EQ(plain.status, 0) << plain.output;
  const auto only = weights::load_safetensors(out).tensors;
  EXPECT_EQ(only.size(), 1u);
  EXPECT_LE(test::max_abs_diff(only.at("logits")[0], ref.at("logits")[0]), 1e-4);
}

TEST_F(CliForward, BadInputsNameTheFileAndTensor) {
  const std::string model = test::fixture_dir("gptj-tiny-gelu");
  const std::string ids = (dir_ / "bad.safetensors").string();
  const std::string out = (dir_ / "out.safetensors").string();
  auto forward = [&] {
    return cook::test::run_command(cook::test::shell_quote(cli_) + " forward --load " + cook::test::shell_quote(model) + " --input " + cook::test::shell_quote(ids) + " --output " + cook::test::shell_quote(out));
  };

  weights::save_safetensors(ids, weights::TensorMap{{"tokens", torch::zeros({1, 3}, torch::kInt64)}});
  cook::test::CommandResult r = forward();
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find(ids), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("input_ids"), std::string::npos) << r.output;

  weights::save_safetensors(ids, weights::TensorMap{{"input_ids", torch::zeros({1, 3}, torch::kFloat32)}});
  r = forward();
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("'input_ids'"), std::string::npos) << r.output;

  // Token 1000 is outside the fixture's vocabulary of 1000.
  weights::save_safetensors(ids, weights::TensorMap{{"input_ids", torch::full({1, 3}, 1000, torch::kInt64)}});
  r = forward();
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find(ids), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1000"), std::string::npos) << r.output;

  weights::save_safetensors(ids, weights::TensorMap{{"input_ids", torch::zeros({2, 3}, torch::kInt64)},
                                                    {"attention_mask", torch::ones({2, 4}, torch::kInt64)}});
  r = forward();
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("attention_mask"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out));

  // A missing input file, and a missing --load.
  r = cook::test::run_command(cook::test::shell_quote(cli_) + " forward --load " + cook::test::shell_quote(model) + " --input " + cook::test::shell_quote((dir_ / "none.safetensors").string()) +
          " --output " + cook::test::shell_quote(out));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("none.safetensors"), std::string::npos) << r.output;
  r = cook::test::run_command(cook::test::shell_quote(cli_) + " forward --input " + cook::test::shell_quote(ids) + " --output " + cook::test::shell_quote(out));
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--load"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace cook::model
