// `cook convert` end to end: the HF gelu fixture to a Cook checkpoint and back to an HF folder, and
// to a BMCook .bin, keeps every tensor and the config; bad options are errors naming them.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/run_command.h"
#include "cook/model/config.h"
#include "model_test_util.h"

namespace cook::model {
namespace {

namespace fs = std::filesystem;


void expect_same_tensors(const weights::TensorMap& a, const weights::TensorMap& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (const auto& [name, t] : a) {
    ASSERT_TRUE(b.count(name)) << what << ": " << name;
    EXPECT_EQ(t.scalar_type(), b.at(name).scalar_type()) << what << ": " << name;
    EXPECT_TRUE(torch::equal(t, b.at(name))) << what << ": " << name;
  }
}

class CliConvert : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env = std::getenv("COOK_CLI");
    cli_ = env ? env : std::string(COOK_BINARY_DIR) + "/cook";
    if (env == nullptr && !fs::exists(cli_)) GTEST_SKIP() << "the cook binary is not built (" << cli_ << ")";
    dir_ = fs::temp_directory_path() / ("cook_cli_convert_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  cook::test::CommandResult convert(const std::string& load, const std::string& to, const std::string& output) const {
    return cook::test::run_command(cook::test::shell_quote(cli_) + " convert --load " + cook::test::shell_quote(load) + " --to " + to + " --output " + cook::test::shell_quote(output));
  }
  std::string cli_;
  fs::path dir_;
};

TEST_F(CliConvert, HfToCookToHfKeepsEveryTensor) {
  const std::string hf = test::fixture_dir("gptj-tiny-gelu");
  const std::string cook_file = (dir_ / "tiny.safetensors").string();
  const std::string hf_again = (dir_ / "hf").string();
  cook::test::CommandResult r = convert(hf, "cook", cook_file);
  ASSERT_EQ(r.status, 0) << r.output;
  r = convert(cook_file, "hf", hf_again);
  ASSERT_EQ(r.status, 0) << r.output;

  const weights::Checkpoint original = weights::read_checkpoint(hf);
  const weights::Checkpoint as_cook = weights::read_checkpoint(cook_file);
  const weights::Checkpoint back = weights::read_checkpoint(hf_again);
  EXPECT_EQ(as_cook.kind, weights::CheckpointKind::Cook);
  EXPECT_EQ(back.kind, weights::CheckpointKind::HuggingFace);
  EXPECT_EQ(to_json(as_cook.config), to_json(original.config));
  EXPECT_EQ(to_json(back.config), to_json(original.config));
  expect_same_tensors(original.tensors, as_cook.tensors, "hf -> cook");
  expect_same_tensors(original.tensors, back.tensors, "hf -> cook -> hf");
}

TEST_F(CliConvert, HfToBmcookKeepsEveryTensor) {
  const std::string hf = test::fixture_dir("gptj-tiny-gelu");
  const std::string bin = (dir_ / "tiny.bin").string();
  const cook::test::CommandResult r = convert(hf, "bmcook", bin);
  ASSERT_EQ(r.status, 0) << r.output;
  const weights::Checkpoint original = weights::read_checkpoint(hf);
  // The fixture's config is no preset, so the .bin is read with the config given outright.
  const weights::Checkpoint as_bmcook = weights::read_bmcook_checkpoint(bin, original.config);
  EXPECT_EQ(as_bmcook.kind, weights::CheckpointKind::BMCook);
  expect_same_tensors(original.tensors, as_bmcook.tensors, "hf -> bmcook");
}

TEST_F(CliConvert, BadOptionsAreErrorsNamingThem) {
  const std::string hf = test::fixture_dir("gptj-tiny-gelu");
  cook::test::CommandResult r = convert(hf, "onnx", (dir_ / "x").string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--to"), std::string::npos) << r.output;
  r = cook::test::run_command(cook::test::shell_quote(cli_) + " convert --load " + cook::test::shell_quote(hf) + " --model tiny --to cook --output " +
          cook::test::shell_quote((dir_ / "y.safetensors").string()));
  EXPECT_NE(r.status, 0) << r.output;  // the fixture's config is not the tiny preset
  EXPECT_FALSE(fs::exists(dir_ / "y.safetensors"));
}

}  // namespace
}  // namespace cook::model
