#include "cook/compress/quant/options.h"

#include <nlohmann/json.hpp>

#include "cook/core/error.h"
#include "cook/core/json_fields.h"

namespace cook::quant {

const char* scheme_name(Scheme s) {
  switch (s) {
    case Scheme::W8A8: return "w8a8";
    case Scheme::W8: return "w8";
    case Scheme::W4: return "w4";
  }
  return "?";
}

Scheme parse_scheme(const std::string& name, const std::string& where) {
  for (Scheme s : {Scheme::W8A8, Scheme::W8, Scheme::W4})
    if (name == scheme_name(s)) return s;
  throw Error(where, "'" + name + "' is not a quantization scheme (w8a8, w8, w4)");
}

const char* backward_name(Backward b) { return b == Backward::Ste ? "ste" : "bmcook"; }

Backward parse_backward(const std::string& name, const std::string& where) {
  if (name == "ste") return Backward::Ste;
  if (name == "bmcook") return Backward::Bmcook;
  throw Error(where, "'" + name + "' is not a quantization backward (ste, bmcook)");
}

void QuantOptions::validate(const std::string& where) const {
  if (scheme == Scheme::W4 && group_size <= 0)
    throw Error(where + ".group_size", "must be positive, got " + std::to_string(group_size));
  if (backward == Backward::Bmcook && scheme != Scheme::W8A8)
    throw Error(where + ".backward", "'bmcook' quantizes the whole product and needs scheme w8a8, not " +
                                         std::string(scheme_name(scheme)));
  for (size_t i = 0; i < quantized_module.size(); ++i)
    if (quantized_module[i].empty())
      throw Error(where + ".quantized_module[" + std::to_string(i) + "]", "an empty pattern matches every module");
}

QuantOptions quant_options_from_json(const nlohmann::json& j, const std::string& where) {
  QuantOptions o;
  JsonFields f(j, where);
  f.boolean("is_quant", o.is_quant);
  f.strings("quantized_module", o.quantized_module);
  std::string name;
  if (f.string("scheme", name)) o.scheme = parse_scheme(name, f.path("scheme"));
  f.integer("group_size", o.group_size);
  if (f.string("backward", name)) o.backward = parse_backward(name, f.path("backward"));
  f.finish();
  o.validate(where);
  return o;
}

nlohmann::json to_json(const QuantOptions& o) {
  return {{"is_quant", o.is_quant},
          {"quantized_module", o.quantized_module},
          {"scheme", scheme_name(o.scheme)},
          {"group_size", o.group_size},
          {"backward", backward_name(o.backward)}};
}

}  // namespace cook::quant
