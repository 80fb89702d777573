// Strict reading of one JSON object (a config section): each read names a key it knows, and
// finish() rejects any key that no read named. Absent keys leave the target at its default.
// Every error names the key path ("config.json: pruning.mask_method") and what was expected:
//
//   JsonFields f(section, "run.json: quantization");
//   f.boolean("is_quant", o.is_quant);
//   f.strings("quantized_module", o.quantized_module);
//   f.finish();   // "run.json: quantization.is_qant: unknown key (known: is_quant, quantized_module)"
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cook {

// Parses a JSON file; a missing file or bad JSON is a cook::Error naming the path (`what` says
// what the file was meant to be: "cannot open the compress config").
nlohmann::json read_json_file(const std::string& path, const std::string& what = "the JSON file");

class JsonFields {
 public:
  // Throws cook::Error naming `where` when `object` is not a JSON object. Keeps a copy of it.
  JsonFields(const nlohmann::json& object, std::string where);

  // Each returns true when the key was present (and read).
  bool number(const std::string& key, double& out);
  bool integer(const std::string& key, int64_t& out);
  bool boolean(const std::string& key, bool& out);
  // `null_is_empty`: JSON null reads as "" (BMCook writes "pruning_mask_path": null).
  bool string(const std::string& key, std::string& out, bool null_is_empty = false);
  // A list of strings; `non_empty` rejects [].
  bool strings(const std::string& key, std::vector<std::string>& out, bool non_empty = false);
  // The value of a known key for the caller to read itself (e.g. a sub-section), or nullptr.
  const nlohmann::json* value(const std::string& key);
  // A known key whose value is accepted and not used (BMCook keys Cook has no use for).
  void ignore(const std::string& key);

  // "<where>.<key>", the path errors about `key` should name.
  std::string path(const std::string& key) const;
  const std::string& where() const { return where_; }
  // Throws for the first key of the object that no read named, listing the known ones.
  void finish() const;

 private:
  const nlohmann::json* find(const std::string& key);
  [[noreturn]] void wrong_type(const std::string& key, const char* expected, const nlohmann::json& got) const;

  nlohmann::json object_;  // a copy: sections are small, and a temporary may be passed
  std::string where_;
  std::vector<std::string> known_;
};

}  // namespace cook
