#include "cook/core/json_fields.h"

#include <gtest/gtest.h>

#include "cook/core/error.h"

namespace cook {
namespace {

using nlohmann::json;

std::string error_of(const json& section, void (*read)(JsonFields&)) {
  try {
    JsonFields f(section, "run.json: part");
    read(f);
    f.finish();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JsonFields, ReadsPresentKeysAndKeepsDefaultsOfAbsentOnes) {
  double scale = 1.5;
  int64_t steps = 7;
  bool on = false;
  std::string path = "keep";
  std::vector<std::string> modules{"a"};
  JsonFields f(json::parse(R"({"scale": 2, "on": true, "modules": ["x", "y"], "path": null})"), "w");
  EXPECT_TRUE(f.number("scale", scale));
  EXPECT_FALSE(f.integer("steps", steps));
  EXPECT_TRUE(f.boolean("on", on));
  EXPECT_TRUE(f.strings("modules", modules));
  EXPECT_TRUE(f.string("path", path, /*null_is_empty=*/true));
  f.finish();
  EXPECT_EQ(scale, 2.0);
  EXPECT_EQ(steps, 7);
  EXPECT_TRUE(on);
  EXPECT_EQ(modules, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(path, "");
}

TEST(JsonFields, ErrorsNameTheKeyPathAndWhatIsAllowed) {
  auto with_known = [](JsonFields& f) {
    double d = 0;
    int64_t i = 0;
    f.number("scale", d);
    f.integer("steps", i);
  };
  EXPECT_EQ(error_of(json::parse(R"({"scale": 1, "stpes": 2})"), with_known),
            "run.json: part.stpes: unknown key (known: scale, steps)");
  EXPECT_EQ(error_of(json::parse(R"({"steps": 2.5})"), with_known), "run.json: part.steps: must be an integer, got number 2.5");
  EXPECT_EQ(error_of(json::parse(R"({"scale": "big"})"), with_known),
            "run.json: part.scale: must be a number, got string \"big\"");
  EXPECT_EQ(error_of(json::parse(R"({"steps": 18446744073709551615})"), with_known),
            "run.json: part.steps: integer out of range: 18446744073709551615");
  EXPECT_EQ(error_of(json::parse("[1]"), with_known), "run.json: part: must be a JSON object, got array");
  auto lists = [](JsonFields& f) {
    std::vector<std::string> v;
    f.strings("modules", v, /*non_empty=*/true);
  };
  EXPECT_EQ(error_of(json::parse(R"({"modules": ["a", 3]})"), lists), "run.json: part.modules[1]: must be a string, got number");
  EXPECT_EQ(error_of(json::parse(R"({"modules": []})"), lists), "run.json: part.modules: must not be an empty list");
}

TEST(JsonFields, IgnoredAndValueKeysCountAsKnown) {
  JsonFields f(json::parse(R"({"sprune": {"x": 1}, "sub": {"a": 1}})"), "w");
  f.ignore("sprune");
  const json* sub = f.value("sub");
  ASSERT_NE(sub, nullptr);
  EXPECT_EQ(sub->at("a"), 1);
  EXPECT_EQ(f.value("absent"), nullptr);
  EXPECT_NO_THROW(f.finish());
}

}  // namespace
}  // namespace cook
